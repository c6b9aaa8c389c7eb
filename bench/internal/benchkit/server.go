package benchkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bundle"
	"github.com/stamphq/stamp/httpapi"
)

// Server is a `stamp server` child process on loopback ports.
type Server struct {
	Data    string // absolute data dir
	LogPath string // its stdout and stderr
	API     string // host:port of the API
	Router  string // host:port of the router
	// Client calls the API as the admin.
	Client *httpapi.Client
	bin    string   // the stamp binary
	flags  []string // beyond the data dir and addresses
	proc   *Proc
}

// StartServer starts `stamp server` (the binary bin) on data with free
// loopback ports and the extra flags, logging to logPath, waits until it
// is ready and reads its admin token. The returned server is non-nil
// whenever a process may have started, so the caller can Stop it.
func StartServer(ctx context.Context, bin, data, logPath string, flags ...string) (*Server, error) {
	api, err := FreePort()
	if err != nil {
		return nil, err
	}
	router, err := FreePort()
	if err != nil {
		return nil, err
	}
	return StartServerOn(ctx, bin, data, logPath, api, router, flags...)
}

// StartServerOn is StartServer with the API on address api and the
// router on router.
func StartServerOn(ctx context.Context, bin, data, logPath, api, router string, flags ...string) (*Server, error) {
	s := &Server{Data: data, LogPath: logPath, API: api, Router: router, bin: bin, flags: flags}
	return s, s.start(ctx)
}

// Restart starts the server again once it has exited (Kill), on the same
// data dir, addresses and flags, appending to its log, and waits until it
// is ready.
func (s *Server) Restart(ctx context.Context) error {
	if s.proc != nil && s.Alive() == nil {
		return errors.New("restart stamp server: it is still running")
	}
	return s.start(ctx)
}

// start starts the server process and waits until it is ready.
func (s *Server) start(ctx context.Context) error {
	logf, err := os.OpenFile(s.LogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open server log: %w", err)
	}
	defer logf.Close()
	// A delete purges at once, and as many as the benchmark makes: the
	// benchmarks measure what deletes release.
	args := append([]string{"server", "--data", s.Data, "--listen", s.API, "--router-listen", s.Router, "--delete-grace=0", "--mass-change-limit=0"}, s.flags...)
	cmd := exec.Command(s.bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if s.proc, err = StartProc(cmd); err != nil {
		return fmt.Errorf("start stamp server: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := WaitOK(wctx, "http://"+s.API+"/readyz", "", s.proc.Exited()); err != nil {
		return fmt.Errorf("stamp server not ready: %w\n%s", err, s.LogTail())
	}
	token, err := os.ReadFile(filepath.Join(s.Data, "admin.token"))
	if err != nil {
		return fmt.Errorf("read the admin token: %w", err)
	}
	s.Client = httpapi.NewClient("http://"+s.API, strings.TrimSpace(string(token)))
	return nil
}

// Push packs the blueprint directory dir and uploads it, and returns the
// blueprint's name.
func (s *Server) Push(ctx context.Context, dir string) (string, error) {
	content, err := bundle.Pack(dir)
	if err != nil {
		return "", fmt.Errorf("pack %s: %w", dir, err)
	}
	b, _, err := s.Client.PushBundle(ctx, content)
	if err != nil {
		return "", fmt.Errorf("push %s: %w", dir, err)
	}
	return b.Name, nil
}

// AllEvents reads the server's whole event log, a page at a time.
func (s *Server) AllEvents(ctx context.Context) ([]*stamp.Event, error) {
	var all []*stamp.Event
	for after := int64(0); ; {
		page, err := s.Client.Events(ctx, stamp.EventFilter{AfterSeq: after, Limit: 1000})
		if err != nil {
			return nil, fmt.Errorf("read events after %d: %w", after, err)
		}
		if len(page) == 0 {
			return all, nil
		}
		all = append(all, page...)
		after = page[len(page)-1].Seq
	}
}

// Exited returns a channel closed once the server has exited.
func (s *Server) Exited() <-chan struct{} { return s.proc.Exited() }

// Alive returns an error, with the end of the server's log, if the server
// has exited.
func (s *Server) Alive() error {
	select {
	case <-s.proc.Exited():
		return fmt.Errorf("stamp server exited; its log ends:\n%s", s.LogTail())
	default:
		return nil
	}
}

// LogTail returns the last 30 lines of the server's log.
func (s *Server) LogTail() string {
	b, _ := os.ReadFile(s.LogPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-30):], "\n")
}

// PID returns the server process's id.
func (s *Server) PID() int { return s.proc.PID() }

// CPU returns the user plus system CPU time the server has used so far.
func (s *Server) CPU() (time.Duration, error) { return CPUTime(s.proc.PID()) }

// Memory is the resident memory of a server and its tenant processes.
type Memory struct {
	ServerKiB int64
	Procs     int   // tenant processes
	ProcsKiB  int64 // their RSS in all
}

// Memory reads the RSS of the server and of every tenant process of its
// data dir; a process that exits during the reading is left out.
func (s *Server) Memory() (Memory, error) {
	var m Memory
	var err error
	if m.ServerKiB, err = RSSKiB(s.proc.PID()); err != nil {
		return m, err
	}
	procs, err := TenantProcs(s.Data)
	if err != nil {
		return m, err
	}
	for _, p := range procs {
		kib, err := RSSKiB(p.PID)
		if errors.Is(err, os.ErrNotExist) {
			continue // exited since the scan
		}
		if err != nil {
			return m, err
		}
		m.Procs++
		m.ProcsKiB += kib
	}
	return m, nil
}

// Kill sends the server SIGKILL, by its pid, and waits for it; its
// tenant processes run on, as after a crash of the server.
func (s *Server) Kill() {
	if s.proc != nil {
		s.proc.Kill()
	}
}

// Stop kills the server with SIGKILL, by its pid, waits for it, and then
// kills every tenant process of its data dir, which would outlive it.
func (s *Server) Stop() error {
	s.Kill()
	return KillTenants(s.Data)
}

// FreePort returns a loopback address whose port was free a moment ago.
func FreePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free loopback port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// FreePortsIn returns n loopback addresses whose ports, distinct, from lo
// to hi, were free a moment ago. Below the kernel's ephemeral ports (from
// 32768), a port stays free across a restart of the server that had it:
// no outgoing connection is given it meanwhile, as one from FreePort may
// be.
func FreePortsIn(lo, hi, n int) ([]string, error) {
	var addrs []string
	for range 100 * n {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(lo+rand.IntN(hi-lo+1)))
		if slices.Contains(addrs, addr) {
			continue
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue // taken: try another
		}
		ln.Close()
		if addrs = append(addrs, addr); len(addrs) == n {
			return addrs, nil
		}
	}
	return nil, fmt.Errorf("no %d free loopback ports in %d-%d after %d tries", n, lo, hi, 100*n)
}

// PollEvery is how often WaitOK asks whether a URL answers 200 yet: the
// resolution of the times measured with it.
const PollEvery = 5 * time.Millisecond

// pollClient sends every poll; keep-alives are on, as a browser's would
// be, and no proxy is asked.
var pollClient = &http.Client{
	Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64},
	Timeout:   5 * time.Second,
}

// CloseIdlePolls closes the connections WaitOK keeps for its next polls,
// so that what a server holds open counts none of them.
func CloseIdlePolls() { pollClient.CloseIdleConnections() }

// WaitOK GETs url (with Host header host, if set) every PollEvery until it
// answers 200. It fails when ctx ends, saying what the last answer was, or
// as soon as exited is closed: the process that should answer has died.
func WaitOK(ctx context.Context, url, host string, exited <-chan struct{}) error {
	last := "no answer yet"
	tick := time.NewTicker(PollEvery)
	defer tick.Stop()
	for {
		code, err := get(ctx, url, host)
		if code == http.StatusOK {
			return nil
		}
		switch {
		case err == nil:
			last = "status " + strconv.Itoa(code)
		case ctx.Err() == nil: // else the GET was cut short: keep the answer before
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("GET %s (Host %s): no 200 (%v); last answer: %s", url, host, ctx.Err(), last)
		case <-exited:
			return fmt.Errorf("GET %s: the process exited before answering 200; last answer: %s", url, last)
		case <-tick.C:
		}
	}
}

// get sends one GET and returns the status code.
func get(ctx context.Context, url, host string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	if host != "" {
		req.Host = host
	}
	resp, err := pollClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body) // so the connection is reused
	return resp.StatusCode, nil
}

// WaitReady polls the server's tenant list every interval until each of
// names is ready, and fails at once if one failed or the server exited.
// Every 10 s it calls note with how many are ready.
func (s *Server) WaitReady(ctx context.Context, names []string, every time.Duration, note func(ready, total int)) error {
	tick := time.NewTicker(every)
	defer tick.Stop()
	lastNote := time.Now()
	for {
		list, err := s.Client.ListTenants(ctx)
		if err != nil {
			return fmt.Errorf("list tenants: %w", err)
		}
		byName := make(map[string]*stamp.Tenant, len(list))
		for _, t := range list {
			byName[t.Name] = t
		}
		ready := 0
		for _, name := range names {
			t := byName[name]
			if t != nil && t.Status.Phase == stamp.PhaseFailed {
				return fmt.Errorf("tenant %s failed at step %s: %s", name, t.Status.FailedStep, t.Status.Message)
			}
			if t != nil && t.Ready() {
				ready++
			}
		}
		if ready == len(names) {
			return nil
		}
		if time.Since(lastNote) > 10*time.Second {
			note(ready, len(names))
			lastNote = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %d tenants to be ready (%d are): %w", len(names), ready, ctx.Err())
		case <-s.Exited():
			return s.Alive()
		case <-tick.C:
		}
	}
}
