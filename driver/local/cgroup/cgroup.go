// Package cgroup confines a tenant's processes to its plan's limits with
// Linux control groups: it owns one group per tenant, <parent>/<tenant>
// under each hierarchy used, holding every process of the tenant
// (instances of every revision and hook tasks), limited in memory
// (without swap), CPU (a CFS quota) and process count, and it reads the
// group's usage back.
//
// It uses cgroup v2 where the unified hierarchy offers the memory, cpu
// and pids controllers, v1 where they are mounted as v1 hierarchies
// (beside a v2 hierarchy with none, on hybrid hosts), through the
// containerd cgroups library. Where neither is usable (not root, a
// read-only or missing hierarchy) the Host says why, enforces nothing,
// and the caller runs tenants without limits.
//
// A process must be in its group before it forks: children are born in
// their parent's group, and those forked before a move stay where they
// were. On v1 it is moreover moved hierarchy by hierarchy, so a child
// forked between two moves would be limited in memory but not in
// processes. The caller therefore adds a process while it is blocked
// before exec, before it runs any code of its own, or, on v1, has the
// process join its group itself at that point (Joinable): a move by
// another process waits on v1 for every CPU to pass through a quiescent
// state (an RCU grace period, 10 ms or more on a small virtual machine),
// which the kernel (6.0 and later) spares a single thread moving itself.
package cgroup

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stamphq/stamp"
)

// Modes of a Host.
const (
	ModeV2   = "v2"
	ModeV1   = "v1"
	ModeNone = "none"
)

// root is where the hierarchies are mounted.
const root = "/sys/fs/cgroup"

// wanted are the controllers a tenant's limits need.
var wanted = []string{"memory", "cpu", "pids"}

// removeWait bounds how long Remove waits for killed processes to leave.
const removeWait = 5 * time.Second

// Host is the cgroups of this host as the driver uses them: the mode, the
// usable controllers and the parent path of the driver's groups.
type Host struct {
	mode        string
	parent      string
	controllers []string
	problem     string
	backend     backend // nil with ModeNone
}

// backend is one cgroup version's way of doing the Host's work on groups
// named by their path under a hierarchy's root. A missing group is an
// error that wraps fs.ErrNotExist.
type backend interface {
	// prepare makes the parent of the groups, and says whether the
	// memory controller accounts swap.
	prepare(parent string) (swap bool, err error)
	// dirs are the directories of the group at path in each hierarchy.
	dirs(path string) []string
	ensure(path string, l stamp.Limits) error
	add(path string, pid int) error
	// joinable lets processes of uid join the group at path themselves
	// and returns the files each writes "0" into to do so; none if the
	// version does not let them.
	joinable(path string, uid int) ([]string, error)
	stats(path string) (Stats, error)
	procs(path string) ([]int, error)
	kill(path string) error
	remove(path string) error
	list(parent string) ([]string, error)
}

// Stats is the usage of a tenant's group.
type Stats struct {
	MemoryUsage int64         // bytes, page cache included
	MemoryLimit int64         // bytes, 0 for none
	OOMKills    uint64        // processes the kernel killed for memory since the group was made
	PIDs        int64         // processes and threads now in the group
	CPUUsage    time.Duration // CPU time used since the group was made (0 on v1 without cpuacct)
}

// Open finds what the host offers for groups under parent, a path under
// each hierarchy's root such as "stamp/3f9a1c2b": drivers with other
// parents never touch each other's groups. Ensure makes the parent. Open
// never fails for want of cgroups: the Host's Mode is then ModeNone and
// Problem says why.
func Open(parent string) *Host {
	parent = strings.Trim(parent, "/")
	if err := validParent(parent); err != nil {
		return &Host{mode: ModeNone, parent: parent, problem: err.Error()}
	}
	c := choose(probe())
	h := &Host{mode: c.mode, parent: parent, controllers: c.controllers, problem: c.problem}
	switch c.mode {
	case ModeV1:
		h.backend = newV1(c.controllers, c.cpuacct)
	case ModeV2:
		h.backend = newV2(c.v2root, c.controllers)
	default:
		return h
	}
	// Making the parent is the test that the hierarchies can be
	// written to, and shows whether swap is accounted. It is unmade
	// then, so that a check leaves the host as it found it.
	made := missing(h.backend.dirs("/" + parent))
	swap, err := h.backend.prepare("/" + parent)
	for _, d := range made {
		os.Remove(d)
	}
	if err != nil {
		return &Host{mode: ModeNone, parent: parent, problem: fmt.Sprintf("cannot make the cgroup %s (%s): %v: tenant limits are not enforced", parent, c.mode, err)}
	}
	h.problem = problems(c.mode, c.controllers, swap, c.cpuacct)
	return h
}

// missing is the directories among dirs and their ancestors that do not
// exist, the deepest first.
func missing(dirs []string) []string {
	var out []string
	for _, d := range dirs {
		for ; d != root && d != "/"; d = filepath.Dir(d) {
			if _, err := os.Stat(d); err == nil {
				break
			}
			out = append(out, d)
		}
	}
	return out
}

// validParent accepts a relative path of plain names: a parent with ".."
// would put groups outside the driver's own.
func validParent(parent string) error {
	for _, el := range strings.Split(parent, "/") {
		ok := el != "" && el != "." && el != ".." && !strings.ContainsFunc(el, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
		})
		if !ok {
			return fmt.Errorf("cgroup parent %q is not a relative path of plain names: tenant limits are not enforced", parent)
		}
	}
	return nil
}

// ParentOf returns the parent of the groups of the tenants of the local
// driver rooted at dir (a server's <data>/local): "stamp/" and the first
// 8 hex digits of dir's SHA-256, so that servers on one data dir share
// their tenants' groups and servers on others never touch them.
func ParentOf(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return "stamp/" + hex.EncodeToString(sum[:4])
}

// Mode is ModeV2, ModeV1 or ModeNone.
func (h *Host) Mode() string { return h.mode }

// Controllers are the usable ones among memory, cpu and pids.
func (h *Host) Controllers() []string { return slices.Clone(h.controllers) }

// Problem is "" or one line for the operator on what is not enforced or
// not measured.
func (h *Host) Problem() string { return h.problem }

// path is the group of tenant name, relative to a hierarchy's root.
func (h *Host) path(name string) (string, error) {
	if err := stamp.ValidateName("tenant", name); err != nil {
		return "", err
	}
	return "/" + h.parent + "/" + name, nil
}

// Ensure creates the group of tenant name, or updates it in place, with
// limits l, and returns the limits in force: l without what the host
// cannot enforce (every limit, with ModeNone), the CPU rounded to the
// quota written. Every limit is written, "none" for those l does not
// set, so that a plan that drops a limit lifts it on a live group.
func (h *Host) Ensure(name string, l stamp.Limits) (stamp.Limits, error) {
	if h.backend == nil {
		return stamp.Limits{}, nil
	}
	path, err := h.path(name)
	if err != nil {
		return stamp.Limits{}, err
	}
	in := inForce(l, h.controllers)
	if err := h.backend.ensure(path, in); err != nil {
		return stamp.Limits{}, fmt.Errorf("set the limits of the cgroup of %s: %w", name, err)
	}
	return in, nil
}

// Add moves process pid into the group of tenant name, made by Ensure,
// in every hierarchy used. Add it before it forks (see the package doc).
func (h *Host) Add(name string, pid int) error {
	if h.backend == nil {
		return nil
	}
	path, err := h.path(name)
	if err != nil {
		return err
	}
	if err := h.backend.add(path, pid); err != nil {
		return fmt.Errorf("put pid %d in the cgroup of %s: %w", pid, name, err)
	}
	return nil
}

// Joinable lets the processes of user uid (0: root's) join the group of
// tenant name, made by Ensure, by themselves, and returns the files a
// single-threaded process (a shell, before it execs) writes "0" into,
// one a hierarchy, to join it: cheaper than Add on v1 (see the package
// doc). It returns none where a process cannot (v2, whose rules want
// the user to own a common ancestor; ModeNone): Add it then. The user
// can join this group only, and move its own processes only: into it,
// never out of it or into another tenant's.
func (h *Host) Joinable(name string, uid int) ([]string, error) {
	if h.backend == nil {
		return nil, nil
	}
	path, err := h.path(name)
	if err != nil {
		return nil, err
	}
	files, err := h.backend.joinable(path, uid)
	if err != nil {
		return nil, fmt.Errorf("let uid %d join the cgroup of %s: %w", uid, name, err)
	}
	return files, nil
}

// Stats reads the usage of the group of tenant name: zero with ModeNone,
// an ENOTFOUND error if the group does not exist.
func (h *Host) Stats(name string) (Stats, error) {
	if h.backend == nil {
		return Stats{}, nil
	}
	path, err := h.path(name)
	if err != nil {
		return Stats{}, err
	}
	st, err := h.backend.stats(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Stats{}, stamp.Errorf(stamp.ENOTFOUND, "tenant %s has no cgroup", name)
	}
	if err != nil {
		return Stats{}, fmt.Errorf("read the usage of the cgroup of %s: %w", name, err)
	}
	return st, nil
}

// OOMKills is Stats' OOMKills, 0 for a missing group: the driver reads
// it after an exit to tell an out-of-memory kill from another SIGKILL.
func (h *Host) OOMKills(name string) (uint64, error) {
	st, err := h.Stats(name)
	if stamp.ErrorCode(err) == stamp.ENOTFOUND {
		return 0, nil
	}
	return st.OOMKills, err
}

// Procs lists the processes in the group of tenant name, in any
// hierarchy used; a missing group has none.
func (h *Host) Procs(name string) ([]int, error) {
	if h.backend == nil {
		return nil, nil
	}
	path, err := h.path(name)
	if err != nil {
		return nil, err
	}
	pids, err := h.backend.procs(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list the processes of the cgroup of %s: %w", name, err)
	}
	return pids, nil
}

// Remove kills whatever still runs in the group of tenant name, waits (a
// few seconds at most) until it is empty, and deletes it in every
// hierarchy. A missing group, or one a crash left in some hierarchies
// only, is not an error: Remove converges.
func (h *Host) Remove(name string) error {
	if h.backend == nil {
		return nil
	}
	path, err := h.path(name)
	if err != nil {
		return err
	}
	// Killed processes leave within a millisecond or so, unless they
	// are stuck in the kernel: poll often, then less.
	pause := time.Millisecond
	for deadline := time.Now().Add(removeWait); ; pause = min(2*pause, 100*time.Millisecond) {
		pids, err := h.backend.procs(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("remove the cgroup of %s: %w", name, err)
		}
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("remove the cgroup of %s: pids %v still run in it %v after SIGKILL", name, pids, removeWait)
		}
		if err := h.backend.kill(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("kill the processes of the cgroup of %s: %w", name, err)
		}
		time.Sleep(pause)
	}
	if err := h.backend.remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the cgroup of %s: %w", name, err)
	}
	return nil
}

// List returns the names of the groups under the parent, in any
// hierarchy used, sorted: the tenants whose groups a crashed driver may
// have left.
func (h *Host) List() ([]string, error) {
	if h.backend == nil {
		return nil, nil
	}
	names, err := h.backend.list("/" + h.parent)
	if err != nil {
		return nil, fmt.Errorf("list the cgroups under %s: %w", h.parent, err)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}
