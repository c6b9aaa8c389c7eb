package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pollInterval is how often a process this Driver did not start (it was
// adopted after a restart) is checked for life.
const pollInterval = 250 * time.Millisecond

// markerVar names the environment variable that marks every process the
// driver starts: "<Dir>|<tenant>/<id>". It survives in /proc/<pid>/environ,
// which is how processes are found again after a crash.
const markerVar = "STAMP_INSTANCE"

// procStat is what the driver reads from /proc/<pid>/stat.
type procStat struct {
	state   byte   // field 3: R, S, D, Z, ...
	pgrp    int    // field 5
	session int    // field 6
	flags   uint64 // field 9: the kernel's PF_* flags
	start   uint64 // field 22: start time in clock ticks after boot
	// envStart and envEnd (fields 50 and 51) bound the environment in
	// the process's memory; envEnd is 0 in the middle of an exec, and
	// both are 0 when the kernel does not show them to the reader.
	envStart, envEnd uint64
}

// pfKthread is the flag of a kernel thread, which has no environment.
const pfKthread = 0x00200000

// readStat parses /proc/<pid>/stat.
func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	// The command name (field 2) is in parentheses and may hold spaces
	// and parentheses itself, so fields are counted after the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: %d fields after the name", pid, len(f))
	}
	var st procStat
	st.state = f[0][0]
	if st.pgrp, err = strconv.Atoi(f[2]); err != nil {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	if st.session, err = strconv.Atoi(f[3]); err != nil {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	if st.flags, err = strconv.ParseUint(f[6], 10, 64); err != nil {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	if st.start, err = strconv.ParseUint(f[19], 10, 64); err != nil {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	if len(f) > 48 {
		st.envStart, _ = strconv.ParseUint(f[47], 10, 64)
		st.envEnd, _ = strconv.ParseUint(f[48], 10, 64)
	}
	return st, nil
}

// dead reports whether a process in this state has exited.
func (st procStat) dead() bool { return st.state == 'Z' || st.state == 'X' }

// alive reports whether pid runs and is the process that started at start:
// a recycled pid has another start time, and a zombie has exited.
func alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := readStat(pid)
	return err == nil && !st.dead() && st.start == start
}

// proc is one process the driver runs: started by this Driver (exited is
// closed once it is reaped) or adopted from an earlier one (exited is nil
// and life is polled).
type proc struct {
	pid       int
	start     uint64
	startedAt time.Time
	exited    chan struct{}
	status    string // how it ended, set before exited is closed
	code      int    // its exit code, -1 if a signal ended it; set with status
}

// spawnSpec is a process to start.
type spawnSpec struct {
	argv     []string // argv[0] resolved to a path
	env      []string
	dir      string // working directory
	log      string // file that receives stdout and stderr
	truncate bool   // start the log afresh instead of appending
	// uid, if not 0, is the user and group the process runs as, with no
	// supplementary groups.
	uid int
	// enter, if set, is called with the pid of the new process before it
	// runs any of argv (it waits at a gate until enter returns), to put
	// it where it must be before it can fork: its cgroup. An error kills
	// it.
	enter func(pid int) error
	// join, if set, are the files the new process writes "0" into before
	// it runs any of argv, to join its cgroup itself (see
	// cgroup.Host.Joinable), in place of enter; if one cannot be written
	// it exits 125 without running argv.
	join []string
	// start, if set, starts cmd instead of cmd.Start: in the tenant's
	// network namespace.
	start func(cmd *exec.Cmd) error
}

// joinScript has a process join its cgroup (see spawnSpec.join): it
// writes 0 into each file before "--", then becomes the command after
// it. A shell is one thread, and it forks nothing before it execs.
const joinScript = `while [ "$1" != -- ]; do echo 0 >"$1" || exit 125; shift; done; shift; exec "$@"`

// gateScript holds a process back until the driver has placed it (see
// spawnSpec.enter): it waits for a line on fd 3, which the driver writes
// once done, then closes fd 3 and becomes the command. If the driver dies
// first, the pipe reads end-of-file and the command never runs.
const gateScript = `read -r _ <&3 || exit 125; exec 3<&- "$@"`

// spawn starts a process in its own session, so it outlives the control
// plane and its whole group can be signalled, with its output going
// straight to a file that stays open in the child. A goroutine reaps it
// (see reap); it ends when the process does, even after Close.
func spawn(s spawnSpec) (*proc, error) {
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if s.truncate {
		flags |= os.O_TRUNC
	}
	logf, err := os.OpenFile(s.log, flags, 0o640)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := &exec.Cmd{
		Path:        s.argv[0],
		Args:        s.argv,
		Env:         s.env,
		Dir:         s.dir,
		Stdout:      logf,
		Stderr:      logf,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if s.uid != 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(s.uid), Gid: uint32(s.uid), Groups: []uint32{}}
	}
	var gate *os.File
	switch {
	case len(s.join) > 0:
		cmd.Path = "/bin/sh"
		cmd.Args = append(append(append([]string{"sh", "-c", joinScript, "sh"}, s.join...), "--"), s.argv...)
	case s.enter != nil:
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		defer r.Close()
		defer w.Close()
		gate = w
		cmd.Path = "/bin/sh"
		cmd.Args = append([]string{"sh", "-c", gateScript, "sh"}, s.argv...)
		cmd.ExtraFiles = []*os.File{r}
	}
	start := cmd.Start
	if s.start != nil {
		start = func() error { return s.start(cmd) }
	}
	if err := start(); err != nil {
		return nil, err
	}
	p := &proc{pid: cmd.Process.Pid, startedAt: time.Now(), exited: make(chan struct{})}
	abort := func(err error) (*proc, error) {
		syscall.Kill(-p.pid, syscall.SIGKILL)
		syscall.Kill(p.pid, syscall.SIGKILL)
		cmd.Wait()
		return nil, err
	}
	// Read the start time before Wait can reap the child: until then its
	// stat stays readable even if it has already exited.
	st, err := readStat(p.pid)
	if err != nil {
		return abort(fmt.Errorf("read start time of pid %d: %w", p.pid, err))
	}
	p.start = st.start
	if gate != nil {
		if err := s.enter(p.pid); err != nil {
			return abort(err)
		}
		if _, err := gate.WriteString("go\n"); err != nil {
			return abort(fmt.Errorf("let pid %d run: %w", p.pid, err))
		}
	}
	go func() {
		p.status, p.code = reap(cmd)
		close(p.exited)
	}()
	return p, nil
}

// adopt returns the process pid if it is still the one that started at
// start, or nil.
func adopt(pid int, start uint64, startedAt time.Time) *proc {
	if !alive(pid, start) {
		return nil
	}
	return &proc{pid: pid, start: start, startedAt: startedAt}
}

// wait blocks until p exits, returning how it ended, or until ctx ends,
// returning false.
func (p *proc) wait(ctx context.Context) (string, bool) {
	if p.exited != nil {
		select {
		case <-p.exited:
			return p.status, true
		case <-ctx.Done():
			return "", false
		}
	}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for alive(p.pid, p.start) {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return "", false
		}
	}
	// Only the parent learns the status of a process, and the parent of
	// an adopted one is gone.
	return "exited (adopted process: status unknown)", true
}

// exitCode returns the code p exited with, or -1 if it has not exited, a
// signal ended it, or it was adopted (only the parent learns it).
func (p *proc) exitCode() int {
	if p.exited == nil {
		return -1
	}
	select {
	case <-p.exited:
		return p.code
	default:
		return -1
	}
}

// waitFor is wait bounded by d.
func (p *proc) waitFor(d time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, ok := p.wait(ctx)
	return ok
}

// running reports whether p has not exited.
func (p *proc) running() bool {
	if p.exited != nil {
		select {
		case <-p.exited:
			return false
		default:
			return true
		}
	}
	return alive(p.pid, p.start)
}

// signal sends sig to p's process group (p leads its own session), unless
// p has exited: its pid may then belong to someone else.
func (p *proc) signal(sig syscall.Signal) {
	if !p.running() {
		return
	}
	if err := syscall.Kill(-p.pid, sig); errors.Is(err, syscall.ESRCH) {
		syscall.Kill(p.pid, sig)
	}
}

// killWait bounds the wait for a SIGKILLed process to be gone.
const killWait = 5 * time.Second

// terminate stops p: SIGTERM to its group, SIGKILL after grace.
func terminate(p *proc, grace time.Duration) {
	p.signal(syscall.SIGTERM)
	if p.waitFor(grace) {
		return
	}
	p.signal(syscall.SIGKILL)
	p.waitFor(killWait)
}

// execWindow bounds how long readEnviron waits for a process in the
// middle of an exec: long enough for a loaded host to map a binary.
const execWindow = 100 * time.Millisecond

// readEnviron reads /proc/<pid>/environ. It can read as empty for a
// moment while the process execs: once its new memory is mapped and until
// its stack is built, or when the file was opened on the memory the exec
// just dropped. readEnviron reads it again while /proc/<pid>/stat says
// the process does have an environment, so a child that a task forks and
// that execs just as the task ends is not missed. A kernel thread, an
// exited process and one started with an empty environment are not
// waited for.
func readEnviron(pid int) ([]byte, error) {
	path := filepath.Join("/proc", strconv.Itoa(pid), "environ")
	deadline := time.Now().Add(execWindow)
	for {
		env, err := os.ReadFile(path)
		if err != nil || len(env) > 0 || time.Now().After(deadline) {
			return env, err
		}
		st, err := readStat(pid)
		if err != nil || st.dead() || st.flags&pfKthread != 0 || (st.envEnd != 0 && st.envEnd == st.envStart) {
			return env, nil
		}
		time.Sleep(time.Millisecond)
	}
}
