package benchkit

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestStartServer(t *testing.T) {
	t.Setenv(helperEnv, "server") // the test binary is the server
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	s, err := StartServer(context.Background(), os.Args[0], data, filepath.Join(dir, "server.log"))
	if s != nil {
		t.Cleanup(func() { _ = s.Stop() })
	}
	if err != nil {
		t.Fatal(err)
	}
	if s.API == s.Router || !strings.HasPrefix(s.API, "127.0.0.1:") || !strings.HasPrefix(s.Router, "127.0.0.1:") {
		t.Errorf("API %s and router %s: want two loopback addresses", s.API, s.Router)
	}
	if s.Client == nil {
		t.Error("no API client after the server was ready")
	}
	if err := s.Alive(); err != nil {
		t.Errorf("Alive of a running server: %v", err)
	}
	if _, err := s.CPU(); err != nil {
		t.Errorf("CPU: %v", err)
	}
	var m Memory
	for range 100 { // the fake starts its tenant before it answers, but /proc may lag its exec
		if m, err = s.Memory(); err != nil || m.Procs == 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if m.ServerKiB <= 0 || m.Procs != 1 || m.ProcsKiB <= 0 {
		t.Errorf("Memory: got %+v, want the server's RSS and its one tenant's", m)
	}

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if procs, err := TenantProcs(data); err != nil || len(procs) != 0 {
		t.Errorf("tenant processes after Stop: got %+v, %v; want none", procs, err)
	}
	err = s.Alive()
	if err == nil || !strings.Contains(err.Error(), "fake server up") {
		t.Errorf("Alive after Stop: got %v, want an error with the log's end", err)
	}
}

func TestStartServerExits(t *testing.T) {
	t.Setenv(helperEnv, "server")
	dir := t.TempDir()
	s, err := StartServer(context.Background(), os.Args[0], filepath.Join(dir, "data"), filepath.Join(dir, "server.log"), "--exit")
	if s == nil {
		t.Fatalf("got no server to stop, and error %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Error(err)
	}
	if err == nil || !strings.Contains(err.Error(), "exited") || !strings.Contains(err.Error(), "fake server gives up") {
		t.Errorf("got error %v, want one saying the server exited, with its log", err)
	}
}

func TestFreePort(t *testing.T) {
	addr, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on the free port %s: %v", addr, err)
	}
	ln.Close()
}

func TestWaitOK(t *testing.T) {
	var calls atomic.Int64
	var host atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host.Store(r.Host)
		if r.URL.Path == "/never" || calls.Add(1) <= 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()

	if err := WaitOK(context.Background(), srv.URL+"/", "acme.localhost", nil); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 4 || host.Load() != "acme.localhost" {
		t.Errorf("got %d calls with Host %v, want 4 with acme.localhost", calls.Load(), host.Load())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := WaitOK(ctx, srv.URL+"/never", "", nil); err == nil || !strings.Contains(err.Error(), "status 503") {
		t.Errorf("past the deadline: got %v, want an error naming the last answer", err)
	}

	gone := make(chan struct{})
	close(gone)
	if err := WaitOK(context.Background(), srv.URL+"/never", "", gone); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Errorf("after the process exited: got %v, want an error saying so", err)
	}
}

func TestServerKillRestart(t *testing.T) {
	t.Setenv(helperEnv, "server")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addrs, err := FreePortsIn(25000, 31999, 2)
	if err != nil {
		t.Fatal(err)
	}
	api, router := addrs[0], addrs[1]
	s, err := StartServerOn(context.Background(), os.Args[0], data, filepath.Join(dir, "server.log"), api, router)
	t.Cleanup(func() { _ = s.Stop() })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(context.Background()); err == nil {
		t.Error("Restart of a running server: got no error")
	}
	first := s.PID()
	s.Kill()
	if s.Alive() == nil {
		t.Fatal("Alive after Kill: got no error")
	}
	if procs, err := TenantProcs(data); err != nil || len(procs) != 1 {
		t.Errorf("tenant processes after Kill: got %+v, %v; want the one the server started, alive", procs, err)
	}
	if err := s.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.PID() == first || s.API != api || s.Router != router || s.Alive() != nil {
		t.Errorf("after Restart: pid %d (was %d), API %s, router %s, alive %v; want a new live process on %s and %s",
			s.PID(), first, s.API, s.Router, s.Alive(), api, router)
	}
	log, err := os.ReadFile(s.LogPath)
	if err != nil || strings.Count(string(log), "fake server up") != 2 {
		t.Errorf("server log: got %q, %v; want both starts in it", log, err)
	}
}

func TestFreePortsIn(t *testing.T) {
	addrs, err := FreePortsIn(25000, 31999, 1)
	if err != nil {
		t.Fatal(err)
	}
	lo := portOf(t, addrs[0])
	if lo < 25000 || lo > 31999 {
		t.Errorf("got %s, want a port in 25000-31999", addrs[0])
	}
	if lo == 31999 {
		lo--
	}
	// A range of two ports gives both, never one twice.
	two, err := FreePortsIn(lo, lo+1, 2)
	if err != nil {
		t.Skipf("ports %d-%d not both free: %v", lo, lo+1, err)
	}
	if two[0] == two[1] {
		t.Errorf("got %v, want two distinct ports", two)
	}
	ln, err := net.Listen("tcp", two[0])
	if err != nil {
		t.Fatalf("listen on the free port %s: %v", two[0], err)
	}
	defer ln.Close()
	if _, err := FreePortsIn(portOf(t, two[0]), portOf(t, two[0]), 1); err == nil {
		t.Errorf("FreePortsIn of a port in use: got no error")
	}
}

// portOf returns the port of addr.
func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
