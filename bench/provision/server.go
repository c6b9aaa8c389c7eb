package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/stamphq/stamp/bundle"
	"github.com/stamphq/stamp/httpapi"
)

// server is a `stamp server` child process.
type server struct {
	data    string // absolute data dir
	logPath string
	api     string // host:port
	router  string // host:port
	proc    *proc
	client  *httpapi.Client
	// blueprint is the name of the blueprint pushed, which tenants use.
	blueprint string
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
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if s.proc, err = startProc(cmd); err != nil {
		return nil, fmt.Errorf("start stamp server: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := waitOK(wctx, "http://"+s.api+"/readyz", "", s.proc.exited); err != nil {
		return s, fmt.Errorf("stamp server not ready: %w\n%s", err, s.logTail())
	}
	token, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		return s, fmt.Errorf("read the admin token: %w", err)
	}
	s.client = httpapi.NewClient("http://"+s.api, strings.TrimSpace(string(token)))
	return s, nil
}

// push packs the blueprint directory and uploads it; tenants created
// after use it.
func (s *server) push(ctx context.Context, dir string) error {
	content, err := bundle.Pack(dir)
	if err != nil {
		return fmt.Errorf("pack blueprint: %w", err)
	}
	b, _, err := s.client.PushBundle(ctx, content)
	if err != nil {
		return fmt.Errorf("push blueprint: %w", err)
	}
	s.blueprint = b.Name
	return nil
}

// create asks for tenant name and polls GET / through the router until it
// answers 200, timing the whole from just before the API call.
func (s *server) create(ctx context.Context, name string, timeout time.Duration) (sample, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, port, _ := net.SplitHostPort(s.router)
	smp := sample{name: name, start: time.Now()}
	if _, err := s.client.CreateTenant(ctx, httpapi.CreateTenantRequest{Name: name, Blueprint: s.blueprint}); err != nil {
		return smp, fmt.Errorf("create tenant %s: %w", name, err)
	}
	if err := waitOK(ctx, "http://"+s.router+"/", name+".localhost:"+port, s.proc.exited); err != nil {
		return smp, fmt.Errorf("tenant %s: %w%s", name, err, s.explain(name))
	}
	smp.end = time.Now()
	return smp, nil
}

// explain says where a tenant that did not come up got to, for errors.
func (s *server) explain(name string) string {
	select {
	case <-s.proc.exited:
		return "\nstamp server exited; its log ends:\n" + s.logTail()
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t, err := s.client.GetTenant(ctx, name)
	if err != nil {
		return fmt.Sprintf("\n(get tenant: %v)", err)
	}
	return fmt.Sprintf("\ntenant phase %s, failed step %q: %s", t.Status.Phase, t.Status.FailedStep, t.Status.Message)
}

// logTail returns the last lines of the server's log.
func (s *server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-30):], "\n")
}

// cpu returns the CPU time the server has used so far.
func (s *server) cpu() (time.Duration, error) { return cpuTime(s.proc.cmd.Process.Pid) }

// kill ends the server with SIGKILL; its tenants keep running.
func (s *server) kill() {
	if s.proc != nil {
		s.proc.kill()
	}
}

// memoryUse is the resident memory of the server and its tenants.
type memoryUse struct {
	serverKiB  int64
	tenants    int // tenant processes
	tenantsKiB int64
	pgBackends int // client connections on the cluster; 0 for sqlite
}

// memory reads the RSS of the server and of every tenant process.
func (s *server) memory() (memoryUse, error) {
	var m memoryUse
	var err error
	if m.serverKiB, err = rssKiB(s.proc.cmd.Process.Pid); err != nil {
		return m, err
	}
	pids, err := tenantPIDs(s.data)
	if err != nil {
		return m, err
	}
	for _, pid := range pids {
		kib, err := rssKiB(pid)
		if errors.Is(err, os.ErrNotExist) {
			continue // exited since the scan
		}
		if err != nil {
			return m, err
		}
		m.tenants++
		m.tenantsKiB += kib
	}
	return m, nil
}
