package benchkit

import (
	"bytes"
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

// Proc is a child process started with StartProc.
type Proc struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartProc starts cmd and reaps it in the background. The child gets
// SIGKILL if this program dies first, so a crash of the bench leaves no
// server or hand-started app behind. Processes the child starts (a
// server's tenants) are not covered: they outlive a server by design, and
// KillTenants finds them.
func StartProc(cmd *exec.Cmd) (*Proc, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Proc{cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // the exit is observed through exited
		close(p.exited)
	}()
	return p, nil
}

// PID returns the process's id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Exited returns a channel closed once the process has exited.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Kill sends SIGKILL to the process, by its pid, and waits for it.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Kill() // fails only if it already exited
	<-p.exited
}

// Stop asks the process to end with SIGTERM and kills it if it has not
// within grace.
func (p *Proc) Stop(grace time.Duration) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		p.Kill()
	}
}

// TenantProc is a live process the local driver started: a tenant
// instance or a hook run.
type TenantProc struct {
	PID    int
	Tenant string
	ID     string // such as "web-0@2.0.0"
}

// TenantProcs lists the live processes the local driver of the server
// with data dir data started, found by the STAMP_INSTANCE marker
// ("<data>/local|<tenant>/<id>") in their environment. Nothing else
// carries it, so the list holds no other server's tenants.
func TenantProcs(data string) ([]TenantProc, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var procs []TenantProc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := TenantProcOf(data, pid); ok {
			procs = append(procs, p)
		}
	}
	return procs, nil
}

// TenantProcOf reports whether pid is a live process the local driver of
// the server with data dir data started, and which. Checking one pid this
// way, just before signalling it, makes sure a pid listed earlier was not
// reused by another process since.
func TenantProcOf(data string, pid int) (TenantProc, bool) {
	prefix := []byte("STAMP_INSTANCE=" + filepath.Join(data, "local") + "|")
	env, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
	if err != nil || isZombie(pid) {
		return TenantProc{}, false // gone, or not ours to read
	}
	for kv := range bytes.SplitSeq(env, []byte{0}) {
		if rest, ok := bytes.CutPrefix(kv, prefix); ok {
			tenant, id, _ := strings.Cut(string(rest), "/")
			return TenantProc{PID: pid, Tenant: tenant, ID: id}, true
		}
	}
	return TenantProc{}, false
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

// KillTenants sends SIGKILL, by pid, to every tenant process of the
// server with data dir data, looking again until none is left (a hook may
// have been starting one), for at most five seconds.
func KillTenants(data string) error {
	for range 50 {
		procs, err := TenantProcs(data)
		if err != nil {
			return err
		}
		if len(procs) == 0 {
			return nil
		}
		for _, p := range procs {
			_ = syscall.Kill(p.PID, syscall.SIGKILL) // it may have exited since
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("tenant processes still running after 5s of SIGKILL")
}
