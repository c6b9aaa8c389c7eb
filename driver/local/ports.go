package local

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/stamphq/stamp"
)

// portRegistry hands out the loopback ports of instances. It is shared by
// every Driver on the directory, in this process or in others: the file
// ports.json maps each allocated port to its "<tenant>/<instance>", and is
// read, changed and written back (atomically) only under an exclusive
// flock of ports.lock, so two control planes never give out one port.
type portRegistry struct {
	dir      string // the driver's root
	min, max int
	log      *slog.Logger
}

// portOwners maps each allocated port to "<tenant>/<instance>".
type portOwners map[int]string

func (r *portRegistry) path() string { return filepath.Join(r.dir, "ports.json") }

// alloc gives each of ids, instances of tenant, the lowest port of the
// range that no instance holds and that binds on 127.0.0.1 now. Ports of
// tenants whose directory is gone are free again first: a tenant's
// directory exists before its ports are allocated and is deleted after its
// processes, so such entries were left by a Remove that did not finish.
func (r *portRegistry) alloc(tenant string, ids []string) (map[string]int, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	got := make(map[string]int, len(ids))
	err := r.update(func(owners portOwners) (bool, error) {
		r.forgetRemoved(owners)
		p := r.min
		for _, id := range ids {
			for ; p <= r.max; p++ {
				if _, used := owners[p]; !used && bindable(p) {
					break
				}
			}
			if p > r.max {
				return false, stamp.Errorf(stamp.EUNAVAILABLE, "no free port left in %d..%d", r.min, r.max)
			}
			owners[p] = tenant + "/" + id
			got[id] = p
			p++
		}
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("allocate ports: %w", err)
	}
	return got, nil
}

// release frees ports that tenant holds; ports held by another tenant are
// left alone.
func (r *portRegistry) release(tenant string, ports []int) error {
	if len(ports) == 0 {
		return nil
	}
	err := r.update(func(owners portOwners) (bool, error) {
		changed := false
		for _, p := range ports {
			if owner, ok := owners[p]; ok && strings.HasPrefix(owner, tenant+"/") {
				delete(owners, p)
				changed = true
			}
		}
		return changed, nil
	})
	if err != nil {
		return fmt.Errorf("release ports of %s: %w", tenant, err)
	}
	return nil
}

// releaseTenant frees every port of tenant.
func (r *portRegistry) releaseTenant(tenant string) error {
	err := r.update(func(owners portOwners) (bool, error) {
		n := len(owners)
		maps.DeleteFunc(owners, func(_ int, owner string) bool { return strings.HasPrefix(owner, tenant+"/") })
		return len(owners) != n, nil
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
	err := r.update(func(owners portOwners) (bool, error) {
		want := make(portOwners)
		for _, inst := range insts {
			if inst.registered() {
				want[inst.Port] = tenant + "/" + inst.ID
			}
		}
		changed := false
		for p, owner := range owners {
			if strings.HasPrefix(owner, tenant+"/") && want[p] != owner {
				delete(owners, p)
				changed = true
			}
		}
		for p, owner := range want {
			switch other, ok := owners[p]; {
			case !ok:
				owners[p] = owner
				changed = true
			case other != owner:
				r.log.Error("port is recorded for two instances", "port", p, "instance", owner, "registered", other)
			}
		}
		return changed, nil
	})
	if err != nil {
		return fmt.Errorf("sync ports of %s: %w", tenant, err)
	}
	return nil
}

// update runs fn on the registry under the lock, and writes the registry
// back if fn changed it (or it was rebuilt) and fn succeeded.
func (r *portRegistry) update(fn func(portOwners) (bool, error)) error {
	f, err := os.OpenFile(filepath.Join(r.dir, "ports.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close() // releases the lock
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	owners, rebuilt, err := r.read()
	if err != nil {
		return err
	}
	changed, err := fn(owners)
	if err != nil {
		return err
	}
	if changed || rebuilt {
		return writeJSON(r.path(), owners)
	}
	return nil
}

// read returns the registry, rebuilt from the tenants' state files if it
// is missing (a directory of an older driver) or unreadable.
func (r *portRegistry) read() (portOwners, bool, error) {
	data, err := os.ReadFile(r.path())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	if err == nil {
		var owners portOwners
		if err := json.Unmarshal(data, &owners); err == nil {
			if owners == nil {
				owners = make(portOwners)
			}
			return owners, false, nil
		}
		r.log.Warn("port registry is corrupt; rebuilding it from the tenants' state", "path", r.path(), "err", err)
	}
	owners, err := r.rebuild()
	return owners, true, err
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
			if !inst.registered() {
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

// forgetRemoved drops the entries of tenants that have no directory.
func (r *portRegistry) forgetRemoved(owners portOwners) {
	gone := make(map[string]bool)
	for p, owner := range owners {
		tenant, _, _ := strings.Cut(owner, "/")
		g, seen := gone[tenant]
		if !seen {
			g = stamp.ValidateName("tenant", tenant) != nil
			if !g {
				_, err := os.Stat(filepath.Join(r.dir, "tenants", tenant))
				g = errors.Is(err, fs.ErrNotExist)
			}
			gone[tenant] = g
		}
		if g {
			delete(owners, p)
		}
	}
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
