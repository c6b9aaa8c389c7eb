// Command netns measures what a tenant's network namespace costs
// (package driver/local/netns): Ensure and Remove of a namespace, and a
// request from the host's namespace (as the router sends it) to a server
// inside a tenant's namespace, against the same server on the host's
// loopback. Run it as root from the repository root:
//
//	go run ./bench/netns -samples 20 -requests 2000
//
// It makes namespaces under a temporary directory, with addresses of
// 192.0.2.0/24 (TEST-NET-1) on veth pairs of its own, and removes them,
// its nftables table and the directory on every exit path (Ctrl-C too).
// Requests go only to those addresses and to 127.0.0.1.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
	"github.com/stamphq/stamp/driver/local/netns"
)

// serveEnv makes the binary serve HTTP on the address it holds instead of
// benchmarking, until its stdin closes.
const serveEnv = "STAMP_BENCH_NETNS_SERVE"

func main() {
	if addr := os.Getenv(serveEnv); addr != "" {
		if err := serve(addr); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		return
	}
	benchkit.Main("netns", run)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("netns", flag.ContinueOnError)
	fs.SetOutput(stderr)
	samples := fs.Int("samples", 20, "namespaces made and removed, one at a time")
	requests := fs.Int("requests", 2000, "requests to each server, each on a new connection")
	out := fs.String("out", "", "also write the markdown report to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *samples < 1 || *samples > 60 || *requests < 1 || *requests > 100_000 {
		return errors.New("want -samples from 1 to 60 (the pool has 64 slots) and -requests from 1 to 100000")
	}
	dir, err := benchkit.TempDir("stamp-bench-netns-")
	if err != nil {
		return err
	}
	defer benchkit.RemoveAll(dir)
	m, err := netns.New(netns.Config{Dir: filepath.Join(dir, "netns"), Net: netip.MustParsePrefix("192.0.2.0/24")})
	if err != nil {
		return err
	}
	if !m.Available() {
		return fmt.Errorf("no network namespaces here: %s", m.Problem())
	}
	defer m.Destroy()
	base := 8_000_000 + (os.Getpid()%10_000)*100 // host-side interface names of this run's own
	defer func() {
		for i := range *samples + 1 {
			m.Remove(tenantName(i), base+i)
		}
	}()

	r := report{samples: *samples, requests: *requests, load: benchkit.LoadAverage()}
	// The first Ensure makes the table: left out of the samples.
	link, err := m.Ensure(tenantName(*samples), base+*samples, false)
	if err != nil {
		return err
	}
	benchkit.Progress(stderr, "Ensure and Remove of %d namespaces", *samples)
	if r.ensure, r.again, r.remove, err = lifecycle(ctx, m, base, *samples); err != nil {
		return err
	}
	benchkit.Progress(stderr, "%d requests to each server", *requests)
	inside, err := startServer(netip.AddrPortFrom(link.TenantAddr, 8080).String(), func(c *exec.Cmd) error {
		return m.Start(tenantName(*samples), c)
	})
	if err != nil {
		return err
	}
	defer inside.stop()
	host, err := startServer("127.0.0.1:0", (*exec.Cmd).Start)
	if err != nil {
		return err
	}
	defer host.stop()
	if r.viaNS, r.viaLo, err = requestBoth(ctx, inside.addr, host.addr, *requests); err != nil {
		return err
	}
	return benchkit.WriteReport(stdout, *out, r.markdown())
}

func tenantName(i int) string { return fmt.Sprintf("bench%02d", i) }

// lifecycle makes n namespaces one after another, makes each again (the
// no-op a reconcile pass costs), then removes them, timing each call.
func lifecycle(ctx context.Context, m *netns.Manager, base, n int) (ensure, again, remove []time.Duration, err error) {
	for _, step := range []struct {
		d  *[]time.Duration
		do func(i int) error
	}{
		{&ensure, func(i int) error { _, err := m.Ensure(tenantName(i), base+i, false); return err }},
		{&again, func(i int) error { _, err := m.Ensure(tenantName(i), base+i, false); return err }},
		{&remove, func(i int) error { return m.Remove(tenantName(i), base+i) }},
	} {
		for i := range n {
			if ctx.Err() != nil {
				return nil, nil, nil, ctx.Err()
			}
			start := time.Now()
			if err := step.do(i); err != nil {
				return nil, nil, nil, err
			}
			*step.d = append(*step.d, time.Since(start))
		}
	}
	return ensure, again, remove, nil
}

// requestBoth sends n requests to each address, alternating, each on a
// new connection, and returns their durations: connect, request, whole
// answer.
func requestBoth(ctx context.Context, a, b string, n int) (da, db []time.Duration, err error) {
	for range n {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		for _, t := range []struct {
			addr string
			d    *[]time.Duration
		}{{a, &da}, {b, &db}} {
			d, err := request(t.addr)
			if err != nil {
				return nil, nil, err
			}
			*t.d = append(*t.d, d)
		}
	}
	return da, db, nil
}

// request connects to addr, sends GET / as HTTP/1.0 and reads the answer
// to its end (the server closes the connection), in a second at most.
func request(addr string) (time.Duration, error) {
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(start.Add(time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.0\r\nHost: bench\r\n\r\n"); err != nil {
		return 0, fmt.Errorf("request to %s: %w", addr, err)
	}
	body, err := io.ReadAll(c)
	if err != nil {
		return 0, fmt.Errorf("answer of %s: %w", addr, err)
	}
	if !strings.HasPrefix(string(body), "HTTP/1.0 200") {
		return 0, fmt.Errorf("answer of %s: %q", addr, body)
	}
	return time.Since(start), nil
}

// server is a child process serving HTTP.
type server struct {
	cmd   *exec.Cmd
	stdin io.Closer
	addr  string
}

// startServer starts this binary serving on addr, started by start, and
// waits for the address it listens on.
func startServer(addr string, start func(*exec.Cmd) error) (*server, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), serveEnv+"="+addr)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := start(cmd); err != nil {
		return nil, fmt.Errorf("server on %s: %w", addr, err)
	}
	s := &server{cmd: cmd, stdin: stdin}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if s.addr = strings.TrimPrefix(strings.TrimSpace(line), "ready "); !strings.HasPrefix(line, "ready ") {
		s.stop()
		return nil, fmt.Errorf("server on %s: %q", addr, line)
	}
	return s, nil
}

func (s *server) stop() {
	s.stdin.Close()
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

// serve answers every request with "ok" on addr, says "ready <address>"
// and serves until stdin closes.
func serve(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Println("ready", ln.Addr())
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	io.Copy(io.Discard, os.Stdin)
	return nil
}
