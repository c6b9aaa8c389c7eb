package local

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"

	"github.com/stamphq/stamp"
)

// portRegistry hands out the loopback ports of instances. Every Driver on
// the directory, in this process or in others, shares it through its
// journal, ports.journal (see portjournal.go and portcatchup.go), which
// each reads and changes only under an exclusive flock of ports.lock, so
// two control planes never give out one port. Each keeps the registry in
// memory as it was when it last held the lock and reads only what the
// others appended since, so an allocation or a release costs the same
// whatever the size of the fleet.
//
// The memory is not shared by the Drivers of one process: a process has
// one Driver per directory (cmd/stamp opens one), correctness does not
// rest on it since every holder of the lock catches up from the journal,
// and sharing would take state global to the process for tests alone.
type portRegistry struct {
	dir      string // the driver's root
	min, max int
	log      *slog.Logger

	// mu serialises the users of the registry: the flock excludes the
	// other open files of ports.lock, not the users of one.
	mu     sync.Mutex
	lock   *os.File   // ports.lock, open from the first use on
	file   *os.File   // the journal read into table; nil: read it afresh
	off    int64      // bytes of file read into table
	lines  int        // change lines in file, for compaction
	table  *portTable // the registry as of the journal's first off bytes
	closed bool
}

func newPortRegistry(dir string, min, max int, log *slog.Logger) *portRegistry {
	return &portRegistry{dir: dir, min: min, max: max, log: log}
}

func (r *portRegistry) path() string { return filepath.Join(r.dir, journalFile) }

// alloc gives each of ids, instances of tenant, the lowest port of the
// range that no instance holds and that binds on 127.0.0.1 now.
func (r *portRegistry) alloc(tenant string, ids []string) (map[string]int, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	got := make(map[string]int, len(ids))
	err := r.update(func() error {
		ports := r.pick(len(ids))
		if ports == nil {
			// Ports of removed tenants are looked for only now, when the
			// range has no free port left: such a port costs nothing
			// until then, while the look stats the directory of every
			// tenant holding a port (done on every allocation, it was
			// the registry's largest cost in a fleet of thousands). A
			// periodic sweep would pay it on a quiet host too, and free
			// no port sooner that anyone needs.
			if err := r.forgetRemoved(); err != nil {
				return err
			}
			ports = r.pick(len(ids))
		}
		if ports == nil {
			return stamp.Errorf(stamp.EUNAVAILABLE, "no free port left in %d..%d", r.min, r.max)
		}
		changes := make([]portChange, len(ids))
		for i, id := range ids {
			changes[i] = portChange{port: ports[i], owner: tenant + "/" + id}
			got[id] = ports[i]
		}
		return r.commit(changes)
	})
	if err != nil {
		return nil, fmt.Errorf("allocate ports: %w", err)
	}
	return got, nil
}

// pick returns the n lowest ports of the range that no instance holds
// and that bind on 127.0.0.1 now, or nil if there are fewer.
func (r *portRegistry) pick(n int) []int {
	var ports []int
	for p := r.min; len(ports) < n; p++ {
		if p = r.table.nextFree(p, r.max); p == 0 {
			return nil
		}
		if bindable(p) {
			ports = append(ports, p)
		}
	}
	return ports
}

// forgetRemoved frees the ports of tenants that have no directory: a
// tenant's directory exists before its ports are allocated and is deleted
// after its processes, so such entries were left by a Remove that did not
// finish.
func (r *portRegistry) forgetRemoved() error {
	var changes []portChange
	for _, tenant := range slices.Sorted(maps.Keys(r.table.held)) {
		gone := stamp.ValidateName("tenant", tenant) != nil
		if !gone {
			_, err := os.Stat(filepath.Join(r.dir, "tenants", tenant))
			gone = errors.Is(err, fs.ErrNotExist)
		}
		if gone {
			for _, p := range r.table.held[tenant] {
				changes = append(changes, portChange{port: p})
			}
		}
	}
	return r.commit(changes)
}

// release frees ports that tenant holds; ports held by another tenant are
// left alone.
func (r *portRegistry) release(tenant string, ports []int) error {
	if len(ports) == 0 {
		return nil
	}
	err := r.update(func() error {
		var changes []portChange
		for _, p := range ports {
			if owner, ok := r.table.owners[p]; ok && tenantOf(owner) == tenant {
				changes = append(changes, portChange{port: p})
			}
		}
		return r.commit(changes)
	})
	if err != nil {
		return fmt.Errorf("release ports of %s: %w", tenant, err)
	}
	return nil
}

// releaseTenant frees every port of tenant.
func (r *portRegistry) releaseTenant(tenant string) error {
	err := r.update(func() error {
		var changes []portChange
		for _, p := range r.table.held[tenant] {
			changes = append(changes, portChange{port: p})
		}
		return r.commit(changes)
	})
	if err != nil {
		return fmt.Errorf("release ports of %s: %w", tenant, err)
	}
	return nil
}

// sync makes the registry's entries of tenant those of its state: ports
// allocated but never recorded (a crash in between) are freed, recorded
// ones missing are added. A recorded port that the registry gives another
// tenant is logged and left to that tenant.
func (r *portRegistry) sync(tenant string, insts []instanceState) error {
	err := r.update(func() error {
		want := make(portOwners)
		for _, inst := range insts {
			if inst.registered() && validPort(inst.Port) {
				want[inst.Port] = tenant + "/" + inst.ID
			}
		}
		var changes []portChange
		freed := make(map[int]bool)
		for _, p := range r.table.held[tenant] {
			if want[p] != r.table.owners[p] {
				changes = append(changes, portChange{port: p})
				freed[p] = true
			}
		}
		for _, p := range slices.Sorted(maps.Keys(want)) {
			switch other, ok := r.table.owners[p]; {
			case !ok || freed[p]:
				changes = append(changes, portChange{port: p, owner: want[p]})
			case other != want[p]:
				r.log.Error("port is recorded for two instances", "port", p, "instance", want[p], "registered", other)
			}
		}
		return r.commit(changes)
	})
	if err != nil {
		return fmt.Errorf("sync ports of %s: %w", tenant, err)
	}
	return nil
}

// update runs fn under the lock, with r.table caught up with the journal;
// fn changes the registry through r.commit.
func (r *portRegistry) update(fn func() error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errClosed
	}
	if err := r.flock(); err != nil {
		return err
	}
	defer r.unlock()
	if err := r.catchUp(); err != nil {
		r.closeFile() // read it afresh next time
		return err
	}
	return fn()
}

// flock takes the exclusive lock of ports.lock.
func (r *portRegistry) flock() error {
	if r.lock == nil {
		f, err := os.OpenFile(filepath.Join(r.dir, "ports.lock"), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return err
		}
		r.lock = f
	}
	for {
		err := syscall.Flock(int(r.lock.Fd()), syscall.LOCK_EX)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EINTR) {
			return fmt.Errorf("lock %s: %w", r.lock.Name(), err)
		}
	}
}

// unlock releases the lock, by closing ports.lock if it has to.
func (r *portRegistry) unlock() {
	if err := syscall.Flock(int(r.lock.Fd()), syscall.LOCK_UN); err != nil {
		r.lock.Close()
		r.lock = nil
	}
}

// close closes the registry's files; its ports stay allocated.
func (r *portRegistry) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	r.closeFile()
	if r.lock == nil {
		return nil
	}
	err := r.lock.Close()
	r.lock = nil
	return err
}

// closeFile forgets the journal r has read: the next user reads it afresh.
func (r *portRegistry) closeFile() {
	if r.file != nil {
		r.file.Close()
		r.file = nil
	}
}

// rebuild collects the ports recorded in every tenant's state. A state it
// cannot read is logged and skipped: its ports, if in use, fail the test
// bind anyway.
func (r *portRegistry) rebuild() (portOwners, error) {
	names, err := tenantDirs(r.dir)
	if err != nil {
		return nil, err
	}
	owners := make(portOwners)
	for _, name := range names {
		var st tenantState
		if _, err := readJSON(filepath.Join(r.dir, "tenants", name, "state.json"), &st); err != nil {
			r.log.Error("rebuild port registry: skipping a tenant", "tenant", name, "err", err)
			continue
		}
		for _, inst := range st.Instances {
			if !inst.registered() || !validPort(inst.Port) {
				continue
			}
			if other, ok := owners[inst.Port]; ok {
				r.log.Error("port is recorded for two instances", "port", inst.Port, "instance", name+"/"+inst.ID, "registered", other)
				continue
			}
			owners[inst.Port] = name + "/" + inst.ID
		}
	}
	return owners, nil
}

// bindable reports whether port p is free on 127.0.0.1 now.
func bindable(p int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
