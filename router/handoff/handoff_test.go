package handoff

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestTakeWithNothingOffered(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.sock")
	if _, _, err := Take(context.Background(), missing); !errors.Is(err, ErrNoOffer) {
		t.Fatalf("Take of a missing socket: %v, want ErrNoOffer", err)
	}
	// A socket file left by a process that died refuses connections.
	stale := filepath.Join(dir, "stale.sock")
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ul.SetUnlinkOnClose(false)
	ul.Close()
	if _, _, err := Take(context.Background(), stale); !errors.Is(err, ErrNoOffer) {
		t.Fatalf("Take of a stale socket: %v, want ErrNoOffer", err)
	}
}

// serveAs serves ln with a handler that names who answered, and returns
// the server.
func serveAs(ln net.Listener, who string) *Server {
	return Serve(&http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, who)
	})}, ln)
}

// loader sends requests to an address, each on a new connection, and
// counts answers by who gave them, and failures.
type loader struct {
	old, new atomic.Int64
	mu       sync.Mutex
	failures []error
}

// run sends requests to addr until stop is closed, at most 20,000.
func (l *loader) run(addr string, stop <-chan struct{}) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	for range 20_000 {
		select {
		case <-stop:
			return
		default:
		}
		resp, err := client.Get("http://" + addr + "/")
		var b []byte
		if err == nil {
			b, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		switch {
		case err != nil:
			l.mu.Lock()
			l.failures = append(l.failures, err)
			l.mu.Unlock()
		case string(b) == "old":
			l.old.Add(1)
		default:
			l.new.Add(1)
		}
	}
}

// waitFor waits up to 10s for n answers counted by c.
func waitFor(t *testing.T, c *atomic.Int64, n int64, who string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the %s side answered %d requests in 10s, want %d", who, c.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHandoffRefusesNoConnection(t *testing.T) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	old := serveAs(ln, "old")
	path := filepath.Join(t.TempDir(), "router.sock")

	stop := make(chan struct{})
	var l loader
	var wg sync.WaitGroup
	wg.Go(func() { l.run(addr, stop) })

	offered := make(chan struct{})
	offerErr := make(chan error, 1)
	go func() { offerErr <- Offer(context.Background(), path, ln, func() { close(offered) }) }()
	<-offered
	waitFor(t, &l.old, 20, "old")

	taken, t2, err := Take(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if taken.Addr().String() != addr {
		t.Fatalf("taken socket is on %s, want %s", taken.Addr(), addr)
	}
	next := serveAs(taken, "new")
	defer next.Shutdown(context.Background())
	if err := t2.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-offerErr; err != nil {
		t.Fatalf("Offer: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("offer socket still at %s after release (%v)", path, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	old.Drain(ctx)
	if err := old.Err(); err != nil {
		t.Fatalf("old server: %v", err)
	}
	waitFor(t, &l.new, l.new.Load()+20, "new") // alone now
	close(stop)
	wg.Wait()
	if len(l.failures) > 0 {
		t.Fatalf("%d of %d requests failed across the handoff; first: %v",
			len(l.failures), int64(len(l.failures))+l.old.Load()+l.new.Load(), l.failures[0])
	}
}

func TestAbandonedTakeLeavesTheOffer(t *testing.T) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	path := filepath.Join(t.TempDir(), "router.sock")
	ctx, cancel := context.WithCancel(context.Background())
	offered := make(chan struct{})
	offerErr := make(chan error, 1)
	go func() { offerErr <- Offer(ctx, path, ln, func() { close(offered) }) }()
	<-offered

	first, t1, err := Take(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	t1.Abandon()
	second, t2, err := Take(context.Background(), path)
	if err != nil {
		t.Fatalf("second Take after an abandoned one: %v", err)
	}
	second.Close()
	t2.Abandon()

	cancel()
	if err := <-offerErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("Offer after cancel: %v, want context.Canceled", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("offer socket still at %s after cancel (%v)", path, err)
	}
}
