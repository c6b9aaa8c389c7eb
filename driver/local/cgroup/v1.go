package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stamphq/stamp"
)

// v1 is the cgroup v1 backend: a group in each hierarchy used.
type v1 struct {
	subsystems []cgroup1.Subsystem
	memory     bool
	swap       bool // set by prepare
}

// newV1 uses the hierarchies of controllers, and cpuacct's for CPU usage
// if it has one of its own. Only these: a group in every v1 hierarchy
// (cpuset, devices, freezer, ...) would need each one set up, for no
// limit of a plan.
func newV1(controllers []string, cpuacct bool) *v1 {
	b := &v1{}
	for _, c := range controllers {
		switch c {
		case "memory":
			b.subsystems, b.memory = append(b.subsystems, cgroup1.NewMemory(root)), true
		case "cpu":
			b.subsystems = append(b.subsystems, cgroup1.NewCpu(root))
		case "pids":
			b.subsystems = append(b.subsystems, cgroup1.NewPids(root))
		}
	}
	if cpuacct {
		b.subsystems = append(b.subsystems, cgroup1.NewCpuacct(root))
	}
	return b
}

func (b *v1) hierarchy() ([]cgroup1.Subsystem, error) { return b.subsystems, nil }

func (b *v1) prepare(parent string) (bool, error) {
	if _, err := cgroup1.New(cgroup1.StaticPath(parent), &specs.LinuxResources{}, cgroup1.WithHierarchy(b.hierarchy)); err != nil {
		return false, err
	}
	_, err := os.Stat(filepath.Join(root, "memory", parent, "memory.memsw.limit_in_bytes"))
	b.swap = b.memory && err == nil
	return b.swap, nil
}

func (b *v1) dirs(path string) []string {
	var out []string
	for _, s := range b.subsystems {
		out = append(out, filepath.Join(root, string(s.Name()), path))
	}
	return out
}

func (b *v1) ensure(path string, in stamp.Limits) error {
	cg, err := cgroup1.New(cgroup1.StaticPath(path), &specs.LinuxResources{}, cgroup1.WithHierarchy(b.hierarchy))
	if err != nil {
		return err
	}
	if b.swap {
		// The kernel wants memory+swap at least the memory limit at
		// every write, and the library orders the two writes for
		// that only when both grow: lifting memory+swap first makes
		// any change, up, down or to none, valid in either order.
		none := int64(-1)
		if err := cg.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: &none}}); err != nil {
			return fmt.Errorf("lift memory.memsw.limit_in_bytes: %w", err)
		}
	}
	return cg.Update(v1Resources(in, b.swap))
}

// open loads the group at path in the hierarchies where it exists: a
// crash may have left it in some only.
func (b *v1) open(path string) (cgroup1.Cgroup, error) {
	cg, err := cgroup1.Load(cgroup1.StaticPath(path), cgroup1.WithHierarchy(b.hierarchy))
	if errors.Is(err, cgroup1.ErrCgroupDeleted) {
		return nil, fs.ErrNotExist
	}
	return cg, err
}

func (b *v1) add(path string, pid int) error {
	cg, err := b.open(path)
	if err != nil {
		return err
	}
	// cgroup.procs, so all the process's threads move.
	return cg.AddProc(uint64(pid))
}

// joinable gives uid the tasks file of the group in each hierarchy: a
// thread that writes 0 there moves itself, which (unlike cgroup.procs)
// takes no lock against every fork on the host. The kernel lets a user
// other than root move only its own threads, and only into a group whose
// file it may write.
func (b *v1) joinable(path string, uid int) ([]string, error) {
	var files []string
	for _, dir := range b.dirs(path) {
		f := filepath.Join(dir, "tasks")
		if uid != 0 {
			if err := os.Chown(f, uid, uid); err != nil {
				return nil, err
			}
		}
		files = append(files, f)
	}
	return files, nil
}

func (b *v1) stats(path string) (Stats, error) {
	cg, err := b.open(path)
	if err != nil {
		return Stats{}, err
	}
	m, err := cg.Stat(cgroup1.IgnoreNotExist)
	if err != nil {
		return Stats{}, err
	}
	return Stats{
		MemoryUsage: int64(m.GetMemory().GetUsage().GetUsage()),
		MemoryLimit: limitOf(m.GetMemory().GetUsage().GetLimit()),
		// The library reads oom_kill from memory.oom_control.
		OOMKills: m.GetMemoryOomControl().GetOomKill(),
		PIDs:     int64(m.GetPids().GetCurrent()),
		CPUUsage: time.Duration(m.GetCPU().GetUsage().GetTotal()),
	}, nil
}

func (b *v1) procs(path string) ([]int, error) {
	cg, err := b.open(path)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, s := range cg.Subsystems() {
		ps, err := cg.Processes(s.Name(), true)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		for _, p := range ps {
			pids = append(pids, p.Pid)
		}
	}
	slices.Sort(pids)
	return slices.Compact(pids), nil
}

// kill sends SIGKILL to each process in the group: v1 has no
// cgroup.kill, and a process forked meanwhile is killed on Remove's next
// round (the pids limit bounds how many there can be).
func (b *v1) kill(path string) error {
	pids, err := b.procs(path)
	if err != nil {
		return err
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
			return fmt.Errorf("kill pid %d: %w", pid, err)
		}
	}
	return nil
}

func (b *v1) remove(path string) error {
	cg, err := b.open(path)
	if err != nil {
		return err
	}
	return cg.Delete()
}

func (b *v1) list(parent string) ([]string, error) {
	var names []string
	for _, d := range b.dirs(parent) {
		found, err := subdirs(d)
		if err != nil {
			return nil, err
		}
		names = append(names, found...)
	}
	return names, nil
}

// subdirs lists the directories in dir; a missing dir has none.
func subdirs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
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
