package cgroup

import (
	"errors"
	"io/fs"
	"path/filepath"
	"slices"

	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stamphq/stamp"
)

// cfsPeriod is the CFS period a CPU limit's quota is a share of.
const cfsPeriod = 100_000 // µs

// pidMaxLimit is Linux's PID_MAX_LIMIT: no more processes can exist.
const pidMaxLimit = 4 << 20

// v1 is the cgroup v1 backend: one group per controller used.
type v1 struct {
	controllers []string
	memsw       bool
}

// hierarchy gives the library only the controllers used: a group made
// in every v1 hierarchy (cpuset, devices, ...) would need each one set up.
func (b v1) hierarchy() ([]cgroup1.Subsystem, error) {
	var out []cgroup1.Subsystem
	for _, c := range b.controllers {
		switch c {
		case "memory":
			out = append(out, cgroup1.NewMemory(root))
		case "cpu":
			out = append(out, cgroup1.NewCpu(root))
		case "pids":
			out = append(out, cgroup1.NewPids(root))
		}
	}
	return out, nil
}

func (b v1) ensure(path string, l stamp.Limits) error {
	cg, err := cgroup1.New(cgroup1.StaticPath(path), &specs.LinuxResources{}, cgroup1.WithHierarchy(b.hierarchy))
	if err != nil {
		return err
	}
	// Every limit is written, none (-1, or the most pids there can be)
	// for what the plan does not set, so that a plan that drops a limit
	// lifts it on a live group.
	unlimited, most := int64(-1), int64(pidMaxLimit)
	res := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: &unlimited},
		CPU:    &specs.LinuxCPU{Quota: &unlimited},
		Pids:   &specs.LinuxPids{Limit: &most},
	}
	if l.Memory > 0 {
		res.Memory.Limit = &l.Memory
	}
	if b.memsw {
		// Memory and swap together are held to the memory limit: no
		// swap. The kernel wants memsw >= memory at every write, so it
		// is lifted first and set after.
		res.Memory.Swap = res.Memory.Limit
		if err := cg.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: &unlimited}}); err != nil {
			return err
		}
	}
	if l.CPU > 0 {
		quota, period := int64(l.CPU*cfsPeriod), uint64(cfsPeriod)
		res.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
	}
	if l.PIDs > 0 {
		res.Pids.Limit = &l.PIDs
	}
	return cg.Update(res)
}

func (b v1) open(path string) (cgroup1.Cgroup, error) {
	cg, err := cgroup1.Load(cgroup1.StaticPath(path), cgroup1.WithHierarchy(b.hierarchy))
	if errors.Is(err, cgroup1.ErrCgroupDeleted) {
		return nil, fs.ErrNotExist
	}
	return cg, err
}

func (b v1) add(path string, pid int) error {
	cg, err := b.open(path)
	if err != nil {
		return err
	}
	return cg.AddProc(uint64(pid))
}

func (b v1) oomKills(path string) (uint64, error) {
	if !slices.Contains(b.controllers, "memory") {
		return 0, nil
	}
	cg, err := b.open(path)
	if err != nil {
		return 0, err
	}
	m, err := cg.Stat(cgroup1.IgnoreNotExist)
	if err != nil {
		return 0, err
	}
	return m.GetMemoryOomControl().GetOomKill(), nil
}

func (b v1) procs(path string) ([]int, error) {
	cg, err := b.open(path)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, s := range cg.Subsystems() {
		ps, err := cg.Processes(s.Name(), true)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			pids = append(pids, p.Pid)
		}
	}
	slices.Sort(pids)
	return slices.Compact(pids), nil
}

func (b v1) remove(path string) error {
	cg, err := b.open(path)
	if err != nil {
		return err
	}
	return cg.Delete()
}

func (b v1) list(parent string) ([]string, error) {
	var names []string
	for _, c := range b.controllers {
		found, err := subdirs(filepath.Join(root, c, parent))
		if err != nil {
			return nil, err
		}
		names = append(names, found...)
	}
	return names, nil
}
