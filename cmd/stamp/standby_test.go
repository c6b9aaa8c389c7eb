package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// stop ends the server with SIGTERM, as an operator's restart does, and
// waits for it to exit.
func (s *stampServer) stop() {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.t.Fatalf("stamp server still running 30s after SIGTERM:\n%s", lastLines(s.log(), 20))
	}
}

// standbyPID returns the pid of the router standby serving s's router
// port, 0 if none.
func (s *stampServer) standbyPID() int {
	_, port, _ := net.SplitHostPort(s.router)
	b, err := os.ReadFile(filepath.Join(s.data, "router-"+port+".pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// stopStandbyRouters ends the router standbys a test's servers left on
// data: processes of the test's own making.
func stopStandbyRouters(data string) {
	pids, _ := filepath.Glob(filepath.Join(data, "router-*.pid"))
	for _, f := range pids {
		b, _ := os.ReadFile(f)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// routerLoad sends requests for a tenant through the router from a few
// clients that keep their connections alive, as browsers and API
// clients do, and counts answers and failures.
type routerLoad struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	first      error
	stop       chan struct{}
	stopOnce   sync.Once
	wg         sync.WaitGroup
}

// startRouterLoad starts 4 clients sending GET path of tenant to s's
// router until stopLoad, at most 20,000 requests each.
func startRouterLoad(s *stampServer, tenant, path string) *routerLoad {
	l := &routerLoad{stop: make(chan struct{})}
	_, port, _ := net.SplitHostPort(s.router)
	for range 4 {
		l.wg.Go(func() {
			client := &http.Client{Timeout: 10 * time.Second}
			for range 20_000 {
				select {
				case <-l.stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", "http://"+s.router+path, nil)
				req.Host = tenant + ".localhost:" + port
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = &statusError{resp.StatusCode}
					}
				}
				if err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					if l.first == nil {
						l.first = err
					}
					l.mu.Unlock()
					continue
				}
				l.ok.Add(1)
			}
		})
	}
	return l
}

type statusError struct{ code int }

func (e *statusError) Error() string { return "answered " + strconv.Itoa(e.code) }

// answered waits until the load has had n more answers than now.
func (l *routerLoad) answered(t *testing.T, n int64, while string) {
	t.Helper()
	want := l.ok.Load() + n
	waitFor(t, strconv.FormatInt(n, 10)+" answers "+while, 30*time.Second, func() bool { return l.ok.Load() >= want })
}

func (l *routerLoad) stopLoad() {
	l.stopOnce.Do(func() { close(l.stop) })
	l.wg.Wait()
}

// TestRouterServesAcrossRestart restarts the server under load: the
// standby serves the tenant while no server runs, and not one request
// fails across the stop, the gap and the start.
func TestRouterServesAcrossRestart(t *testing.T) {
	s := startStampServer(t)
	pushLedger(t, s, 2)
	createTenants(t, s, "2.0.0", "acme")

	load := startRouterLoad(s, "acme", "/healthz")
	defer load.stopLoad()
	load.answered(t, 100, "before the restart")

	s.stop()
	pid := s.standbyPID()
	if pid == 0 {
		t.Fatalf("no router standby after the server stopped; server log:\n%s", lastLines(s.log(), 20))
	}
	load.answered(t, 200, "from the standby, with no server running")

	s.start()
	waitFor(t, "the standby to exit once the server took the router back", 30*time.Second, func() bool {
		return syscall.Kill(pid, 0) != nil
	})
	if p := s.standbyPID(); p != 0 {
		t.Errorf("standby pid file still names %d after the server took the router back", p)
	}
	load.answered(t, 100, "after the restart")
	load.stopLoad()
	t.Logf("%d requests answered across the restart, %d failed", load.ok.Load(), load.failed.Load())
	if n := load.failed.Load(); n > 0 {
		t.Fatalf("%d of %d requests failed across the restart; first: %v", n, n+load.ok.Load(), load.first)
	}
}
