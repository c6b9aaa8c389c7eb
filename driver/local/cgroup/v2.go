package cgroup

import (
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/cgroups/v3/cgroup2"
	"github.com/stamphq/stamp"
)

// v2 is the cgroup v2 backend: one group in the unified hierarchy.
type v2 struct {
	mount       string // where the unified hierarchy is mounted
	controllers []string
	swap        bool // set by prepare
}

func newV2(mount string, controllers []string) *v2 {
	return &v2{mount: mount, controllers: controllers}
}

// prepare makes the parent and enables the controllers down to it: a
// v2 group only has the controllers its parent delegates.
func (b *v2) prepare(parent string) (bool, error) {
	if _, err := cgroup2.NewManager(b.mount, parent, v2Resources(stamp.Limits{}, b.controllers, false)); err != nil {
		return false, err
	}
	_, err := os.Stat(filepath.Join(b.mount, parent, "memory.swap.max"))
	b.swap = err == nil
	return b.swap, nil
}

func (b *v2) dirs(path string) []string { return []string{filepath.Join(b.mount, path)} }

func (b *v2) ensure(path string, in stamp.Limits) error {
	_, err := cgroup2.NewManager(b.mount, path, v2Resources(in, b.controllers, b.swap))
	return err
}

// open loads the group at path; the library does not look.
func (b *v2) open(path string) (*cgroup2.Manager, error) {
	if _, err := os.Stat(filepath.Join(b.mount, path)); err != nil {
		return nil, err
	}
	return cgroup2.Load(path, cgroup2.WithMountpoint(b.mount))
}

func (b *v2) add(path string, pid int) error {
	m, err := b.open(path)
	if err != nil {
		return err
	}
	return m.AddProc(uint64(pid))
}

// joinable lets no process join by itself: v2 wants the mover to be
// able to write the cgroup.procs of the common ancestor of where the
// process is and where it goes, which a tenant's user must not.
func (b *v2) joinable(string, int) ([]string, error) { return nil, nil }

func (b *v2) stats(path string) (Stats, error) {
	m, err := b.open(path)
	if err != nil {
		return Stats{}, err
	}
	st, err := m.StatFiltered(cgroup2.StatMemory | cgroup2.StatMemoryEvents | cgroup2.StatPids | cgroup2.StatCPU)
	if err != nil {
		return Stats{}, err
	}
	return Stats{
		MemoryUsage: int64(st.GetMemory().GetUsage()),
		MemoryLimit: limitOf(st.GetMemory().GetUsageLimit()),
		OOMKills:    st.GetMemoryEvents().GetOomKill(),
		PIDs:        int64(st.GetPids().GetCurrent()),
		CPUUsage:    time.Duration(st.GetCPU().GetUsageUsec()) * time.Microsecond,
	}, nil
}

func (b *v2) procs(path string) ([]int, error) {
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

// kill kills every process in the group at once with cgroup.kill, which
// a fork cannot race (Linux 5.14 and later; the library falls back to
// freezing and killing one by one).
func (b *v2) kill(path string) error {
	m, err := b.open(path)
	if err != nil {
		return err
	}
	return m.Kill()
}

func (b *v2) remove(path string) error {
	m, err := b.open(path)
	if err != nil {
		return err
	}
	return m.Delete()
}

func (b *v2) list(parent string) ([]string, error) {
	return subdirs(b.dirs(parent)[0])
}
