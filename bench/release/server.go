package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stamphq/stamp/httpapi"
)

// server is a `stamp server` child process.
type server struct {
	data    string // absolute data dir
	logPath string
	api     string // host:port
	router  string // host:port
	cmd     *exec.Cmd
	exited  chan struct{} // closed once the process has exited
	client  *httpapi.Client
}

// startServer starts `stamp server` on data with free loopback ports and
// the extra flags, logging to logPath, and waits until it is ready. The
// returned server is non-nil whenever a process may have started, so the
// caller can kill it.
func startServer(ctx context.Context, bin, data, logPath string, flags ...string) (*server, error) {
	s := &server{data: data, logPath: logPath}
	var err error
	if s.api, err = freePort(); err != nil {
		return nil, err
	}
	if s.router, err = freePort(); err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create server log: %w", err)
	}
	defer logf.Close()
	args := append([]string{"server", "--data", data, "--listen", s.api, "--router-listen", s.router}, flags...)
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	// The server gets SIGKILL if this program dies first. Its tenants do
	// not (they outlive a server by design): cleanup finds them.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start stamp server: %w", err)
	}
	s.exited = make(chan struct{})
	go func() {
		_ = s.cmd.Wait() // the exit is observed through exited
		close(s.exited)
	}()
	if err := s.waitReady(ctx, 30*time.Second); err != nil {
		return s, fmt.Errorf("stamp server not ready: %w\n%s", err, s.logTail())
	}
	token, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		return s, fmt.Errorf("read the admin token: %w", err)
	}
	s.client = httpapi.NewClient("http://"+s.api, strings.TrimSpace(string(token)))
	return s, nil
}

// waitReady polls /readyz until it answers 200, the server exits or
// timeout passes.
func (s *server) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := "no answer yet"
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.api+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = "status " + strconv.Itoa(resp.StatusCode)
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("GET /readyz: no 200 (%w); last answer: %s", ctx.Err(), last)
		case <-s.exited:
			return fmt.Errorf("the server exited before /readyz answered 200; last answer: %s", last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// alive returns an error if the server has exited.
func (s *server) alive() error {
	select {
	case <-s.exited:
		return fmt.Errorf("stamp server exited; its log ends:\n%s", s.logTail())
	default:
		return nil
	}
}

// logTail returns the last lines of the server's log.
func (s *server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-30):], "\n")
}

// kill ends the server with SIGKILL, by its pid, and waits for it; its
// tenants keep running.
func (s *server) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill() // fails only if it already exited
	<-s.exited
}

// freePort returns a loopback address that was free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free loopback port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// tenantProc is a live process the local driver started: a tenant
// instance or a hook run.
type tenantProc struct {
	pid    int
	tenant string
	id     string // such as "web-0@2.0.0"
}

// tenantProcs lists the live processes the local driver of the server
// with data dir data started, found by the STAMP_INSTANCE marker
// ("<data>/local|<tenant>/<id>") in their environment. Nothing else
// carries it.
func tenantProcs(data string) ([]tenantProc, error) {
	prefix := []byte("STAMP_INSTANCE=" + filepath.Join(data, "local") + "|")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var procs []tenantProc
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
			if rest, ok := bytes.CutPrefix(kv, prefix); ok {
				tenant, id, _ := strings.Cut(string(rest), "/")
				procs = append(procs, tenantProc{pid: pid, tenant: tenant, id: id})
				break
			}
		}
	}
	return procs, nil
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

// killTenants sends SIGKILL, by pid, to every tenant process of data,
// looking again until none is left (a hook may have been starting one),
// for at most five seconds.
func killTenants(data string) error {
	for range 50 {
		procs, err := tenantProcs(data)
		if err != nil {
			return err
		}
		if len(procs) == 0 {
			return nil
		}
		for _, p := range procs {
			_ = syscall.Kill(p.pid, syscall.SIGKILL) // it may have exited since
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

// memory is the resident memory of the server and its tenant processes.
type memory struct {
	serverKiB  int64
	procs      int
	tenantsKiB int64
}

// memory reads the RSS of the server and of every tenant process.
func (s *server) memory() (memory, error) {
	var m memory
	var err error
	if m.serverKiB, err = rssKiB(s.cmd.Process.Pid); err != nil {
		return m, err
	}
	procs, err := tenantProcs(s.data)
	if err != nil {
		return m, err
	}
	for _, p := range procs {
		kib, err := rssKiB(p.pid)
		if errors.Is(err, os.ErrNotExist) {
			continue // exited since the scan
		}
		if err != nil {
			return m, err
		}
		m.procs++
		m.tenantsKiB += kib
	}
	return m, nil
}

// userHZ is the unit of the CPU times in /proc/<pid>/stat: clock ticks,
// which Linux reports at 100 per second whatever the kernel's own rate.
const userHZ = 100

// cpu returns the user plus system CPU time the server has used so far.
func (s *server) cpu() (time.Duration, error) {
	pid := s.cmd.Process.Pid
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

// memAvailableKiB reads MemAvailable from /proc/meminfo.
func memAvailableKiB() (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("read /proc/meminfo: %w", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, errors.New("/proc/meminfo has no MemAvailable")
}

// loadAverage returns the 1, 5 and 15 minute load averages of the machine.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
