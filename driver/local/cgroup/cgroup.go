// Package cgroup confines a tenant's processes to its plan's limits with
// Linux control groups: one group per tenant, <root>/<parent>/<tenant> in
// each controller used, holding every process of the tenant (instances of
// every revision and hook tasks), limited in memory (without swap), CPU
// (a CFS quota) and process count.
//
// It uses cgroup v2 where the unified hierarchy offers the memory, cpu
// and pids controllers, v1 otherwise (hosts that mount v1 controllers,
// beside a v2 hierarchy with none, are common), through the containerd
// cgroups library. Where neither is usable (not root, no controllers) the
// Host says why, and the caller runs tenants without limits: Ensure then
// reports no limit in force.
package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/cgroups/v3"
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

// Host is the cgroups of this host as the driver uses them: the mode, the
// usable controllers and the parent path of the driver's groups.
type Host struct {
	mode        string
	parent      string
	controllers []string
	problem     string
	memsw       bool // v1: memory.memsw.* exists, so swap can be limited
	backend     backend
}

// backend is one cgroup version's way of doing the Host's work.
type backend interface {
	ensure(path string, l stamp.Limits) error
	add(path string, pid int) error
	oomKills(path string) (uint64, error)
	procs(path string) ([]int, error)
	remove(path string) error
	list(parent string) ([]string, error)
}

// Open finds what the host offers. parent is the path, under each
// hierarchy's root, of this driver's groups (e.g. "stamp/3f9a1c2b"):
// drivers with other parents never touch each other's groups. Open never
// fails for want of cgroups: the Host's Mode is then ModeNone and Problem
// says why.
func Open(parent string) *Host {
	h := &Host{mode: ModeNone, parent: strings.Trim(parent, "/")}
	if os.Geteuid() != 0 {
		h.problem = fmt.Sprintf("the server runs as uid %d, not root, and may not make control groups", os.Geteuid())
		return h
	}
	switch cgroups.Mode() {
	case cgroups.Unified:
		h.useV2()
	case cgroups.Legacy, cgroups.Hybrid:
		h.useV1()
	default:
		h.problem = "no cgroup hierarchy is mounted at " + root
	}
	return h
}

// useV2 takes the unified hierarchy's controllers.
func (h *Host) useV2() {
	data, err := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
	if err != nil {
		h.problem = "cgroup v2: " + err.Error()
		return
	}
	have := strings.Fields(string(data))
	for _, c := range wanted {
		if slices.Contains(have, c) {
			h.controllers = append(h.controllers, c)
		}
	}
	h.settle(ModeV2, v2{})
}

// useV1 takes the v1 controllers mounted under root.
func (h *Host) useV1() {
	for _, c := range wanted {
		if fi, err := os.Stat(filepath.Join(root, c)); err == nil && fi.IsDir() {
			h.controllers = append(h.controllers, c)
		}
	}
	_, err := os.Stat(filepath.Join(root, "memory", "memory.memsw.limit_in_bytes"))
	h.memsw = err == nil
	h.settle(ModeV1, v1{controllers: h.controllers, memsw: h.memsw})
}

// settle makes mode the Host's if it has any controller, and says which
// limits cannot be enforced.
func (h *Host) settle(mode string, b backend) {
	if len(h.controllers) == 0 {
		h.problem = fmt.Sprintf("cgroup %s has none of the %s controllers", mode, strings.Join(wanted, ", "))
		return
	}
	h.mode, h.backend = mode, b
	var missing []string
	for _, c := range wanted {
		if !slices.Contains(h.controllers, c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		h.problem = fmt.Sprintf("cgroup %s lacks the %s controller(s): those limits are not enforced", mode, strings.Join(missing, ", "))
	}
	if mode == ModeV1 && slices.Contains(h.controllers, "memory") && !h.memsw {
		h.problem = strings.TrimPrefix(h.problem+"; ", "; ") + "swap accounting is off: a tenant may swap past its memory limit"
	}
}

// Mode is ModeV2, ModeV1 or ModeNone.
func (h *Host) Mode() string { return h.mode }

// Controllers are the usable ones among memory, cpu and pids.
func (h *Host) Controllers() []string { return slices.Clone(h.controllers) }

// Problem is "" or one line for the operator on what is not enforced.
func (h *Host) Problem() string { return h.problem }

// path is the group of tenant name, relative to a hierarchy's root.
func (h *Host) path(name string) (string, error) {
	if err := stamp.ValidateName("tenant", name); err != nil {
		return "", err
	}
	return "/" + h.parent + "/" + name, nil
}

// Ensure creates the group of tenant name, or updates it, with limits l,
// and returns the limits in force: l without what the host cannot enforce
// (every limit, with ModeNone).
func (h *Host) Ensure(name string, l stamp.Limits) (stamp.Limits, error) {
	if h.backend == nil {
		return stamp.Limits{}, nil
	}
	path, err := h.path(name)
	if err != nil {
		return stamp.Limits{}, err
	}
	in := h.inForce(l)
	if err := h.backend.ensure(path, in); err != nil {
		return stamp.Limits{}, fmt.Errorf("cgroup of %s: %w", name, err)
	}
	return in, nil
}

// inForce is l without the limits no usable controller enforces.
func (h *Host) inForce(l stamp.Limits) stamp.Limits {
	if !slices.Contains(h.controllers, "memory") {
		l.Memory = 0
	}
	if !slices.Contains(h.controllers, "cpu") {
		l.CPU = 0
	}
	if !slices.Contains(h.controllers, "pids") {
		l.PIDs = 0
	}
	return l
}

// Add moves process pid into the group of tenant name. A process must be
// added before it forks: its children are born in its group, while
// children forked before the move stay where they were.
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

// OOMKills counts the processes of tenant name the kernel killed for
// memory since its group was made; a missing group has none.
func (h *Host) OOMKills(name string) (uint64, error) {
	if h.backend == nil {
		return 0, nil
	}
	path, err := h.path(name)
	if err != nil {
		return 0, err
	}
	n, err := h.backend.oomKills(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("out-of-memory kills of %s: %w", name, err)
	}
	return n, nil
}

// Remove kills whatever still runs in the group of tenant name, waits
// (up to 5s) until it is empty, and deletes it. A missing group is not an
// error.
func (h *Host) Remove(name string) error {
	if h.backend == nil {
		return nil
	}
	path, err := h.path(name)
	if err != nil {
		return err
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		pids, err := h.backend.procs(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("remove the cgroup of %s: %w", name, err)
		}
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("remove the cgroup of %s: pids %v still run in it after SIGKILL", name, pids)
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := h.backend.remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove the cgroup of %s: %w", name, err)
	}
	return nil
}

// List returns the tenants that have a group under the parent.
func (h *Host) List() ([]string, error) {
	if h.backend == nil {
		return nil, nil
	}
	names, err := h.backend.list("/" + h.parent)
	if err != nil {
		return nil, fmt.Errorf("list cgroups under %s: %w", h.parent, err)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// subdirs lists the directories in dir; a missing dir has none.
func subdirs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}
