package cgroup

import (
	"os"
	"path/filepath"

	"github.com/containerd/cgroups/v3/cgroup2"
	"github.com/stamphq/stamp"
)

// v2 is the cgroup v2 backend: one group in the unified hierarchy.
type v2 struct{}

func (v2) ensure(path string, l stamp.Limits) error {
	// Every limit is written, "max" for none, so that a plan that drops
	// one lifts it on a live group.
	unlimited, noSwap := int64(-1), int64(0)
	res := &cgroup2.Resources{
		Memory: &cgroup2.Memory{Max: &unlimited},
		CPU:    &cgroup2.CPU{Max: cgroup2.NewCPUMax(nil, nil)},
		Pids:   &cgroup2.Pids{Max: -1},
	}
	if l.Memory > 0 {
		res.Memory.Max, res.Memory.Swap = &l.Memory, &noSwap
	}
	if l.CPU > 0 {
		quota, period := int64(l.CPU*cfsPeriod), uint64(cfsPeriod)
		res.CPU.Max = cgroup2.NewCPUMax(&quota, &period)
	}
	if l.PIDs > 0 {
		res.Pids.Max = l.PIDs
	}
	_, err := cgroup2.NewManager(root, path, res)
	return err
}

func (v2) open(path string) (*cgroup2.Manager, error) {
	if _, err := os.Stat(filepath.Join(root, path)); err != nil {
		return nil, err
	}
	return cgroup2.Load(path, cgroup2.WithMountpoint(root))
}

func (b v2) add(path string, pid int) error {
	m, err := b.open(path)
	if err != nil {
		return err
	}
	return m.AddProc(uint64(pid))
}

func (b v2) oomKills(path string) (uint64, error) {
	m, err := b.open(path)
	if err != nil {
		return 0, err
	}
	st, err := m.StatFiltered(cgroup2.StatMemoryEvents)
	if err != nil {
		return 0, err
	}
	return st.GetMemoryEvents().GetOomKill(), nil
}

func (b v2) procs(path string) ([]int, error) {
	m, err := b.open(path)
	if err != nil {
		return nil, err
	}
	ps, err := m.Procs(true)
	if err != nil {
		return nil, err
	}
	pids := make([]int, len(ps))
	for i, p := range ps {
		pids[i] = int(p)
	}
	return pids, nil
}

func (b v2) remove(path string) error {
	m, err := b.open(path)
	if err != nil {
		return err
	}
	return m.Delete()
}

func (v2) list(parent string) ([]string, error) {
	return subdirs(filepath.Join(root, parent))
}
