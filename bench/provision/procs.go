package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a child process with a channel closed when it has exited.
type proc struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

// startProc starts cmd and reaps it in the background. The child gets
// SIGKILL if this program dies first, so a crash of the bench leaves no
// server or floor process behind.
func startProc(cmd *exec.Cmd) (*proc, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // the exit is observed through exited
		close(p.exited)
	}()
	return p, nil
}

// kill sends SIGKILL to the process, by its pid, and waits for it.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill() // fails only if it already exited
	<-p.exited
}

// stop asks the process to end with SIGTERM and kills it if it has not
// within grace.
func (p *proc) stop(grace time.Duration) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		p.kill()
	}
}

// procSet tracks running processes so cleanup can kill whatever is left.
type procSet struct {
	mu    sync.Mutex
	procs map[*proc]bool
}

func newProcSet() *procSet { return &procSet{procs: map[*proc]bool{}} }

func (s *procSet) add(p *proc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.procs[p] = true
}

func (s *procSet) remove(p *proc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.procs, p)
}

// killAll kills every tracked process.
func (s *procSet) killAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range s.procs {
		p.kill()
		delete(s.procs, p)
	}
}

// tenantPIDs lists the live processes that the local driver of the server
// with data dir data started: tenant instances and hook runs, found by the
// STAMP_INSTANCE marker in their environment. Nothing else matches it.
func tenantPIDs(data string) ([]int, error) {
	prefix := []byte("STAMP_INSTANCE=" + filepath.Join(data, "local") + "|")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || isZombie(pid) {
			continue // gone, or not ours to read
		}
		for kv := range bytes.SplitSeq(env, []byte{0}) {
			if bytes.HasPrefix(kv, prefix) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids, nil
}

// isZombie reports whether pid has exited and waits to be reaped.
func isZombie(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i > 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// killTenants sends SIGKILL to every tenant process of data, looking again
// until none is left (a hook may have been starting one), for at most a
// few seconds.
func killTenants(data string) error {
	for range 50 {
		pids, err := tenantPIDs(data)
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL) // it may have exited since
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("tenant processes still running after 5s of SIGKILL")
}

// rssKiB reads VmRSS of pid from /proc, in KiB.
func rssKiB(pid int) (int64, error) {
	status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, fmt.Errorf("read status of pid %d: %w", pid, err)
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmRSS of pid %d: %q", pid, rest)
			}
			return kb, nil
		}
	}
	return 0, fmt.Errorf("pid %d has no VmRSS", pid)
}

// userHZ is the unit of the CPU times in /proc/<pid>/stat: clock ticks,
// which Linux reports at 100 per second whatever the kernel's own rate.
const userHZ = 100

// cpuTime reads the user plus system CPU time pid has used.
func cpuTime(pid int) (time.Duration, error) {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	// Fields are counted after the command name, which may hold spaces.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse stat of pid %d: no ')' in %q", pid, stat)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("parse stat of pid %d: %d fields after the name", pid, len(f))
	}
	var ticks int64
	for _, field := range f[11:13] { // utime and stime, fields 14 and 15
		n, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse stat of pid %d: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}
