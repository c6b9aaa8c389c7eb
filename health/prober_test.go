package health

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// countingServer is an httptest server answering with h that counts the
// connections made to it.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func endpoint(srv *httptest.Server) string { return strings.TrimPrefix(srv.URL, "http://") }

func TestProberAnswers(t *testing.T) {
	ok := server(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	unavailable := server(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "starting", http.StatusServiceUnavailable)
	})
	redirect := server(t, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/login", http.StatusFound) })
	slow := hangingServer(t)
	refused := strings.TrimSuffix(strings.TrimPrefix(refusedURL(t), "http://"), "/healthz")

	p := NewProber()
	defer p.Close()
	tests := []struct {
		name     string
		endpoint string
		timeout  time.Duration
		want     string // "" for success
		wantIs   error
	}{
		{name: "200", endpoint: endpoint(ok), timeout: 5 * time.Second},
		{name: "503", endpoint: endpoint(unavailable), timeout: 5 * time.Second,
			want: "GET " + unavailable.URL + "/healthz: status 503: starting"},
		{name: "redirect is not followed", endpoint: endpoint(redirect), timeout: 5 * time.Second,
			want: "GET " + redirect.URL + "/healthz: status 302"},
		{name: "slow beyond timeout", endpoint: endpoint(slow), timeout: 50 * time.Millisecond,
			want: "GET " + slow.URL + "/healthz: no answer within 50ms", wantIs: os.ErrDeadlineExceeded},
		{name: "refused", endpoint: refused, timeout: 5 * time.Second,
			want: "GET http://" + refused + "/healthz: connection refused", wantIs: syscall.ECONNREFUSED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 { // the second time on the kept connection, where there is one
				err := p.Probe(context.Background(), tt.endpoint, "/healthz", tt.timeout)
				if tt.want == "" {
					if err != nil {
						t.Fatalf("got %v, want nil", err)
					}
					continue
				}
				if err == nil || err.Error() != tt.want {
					t.Fatalf("got %v, want %q", err, tt.want)
				}
				if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
					t.Errorf("errors.Is(%v, %v) = false, want true", err, tt.wantIs)
				}
			}
		})
	}
}

func TestProberKeepsOneConnection(t *testing.T) {
	var ua atomic.Value
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		ua.Store(r.UserAgent() + " " + r.Host + " " + r.URL.Path)
		w.Write([]byte("ok"))
	})
	p := NewProber()
	defer p.Close()
	for i := range 20 {
		if err := p.Probe(context.Background(), endpoint(srv), "/healthz", 5*time.Second); err != nil {
			t.Fatalf("probe %d: %v", i, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("20 probes made %d connections, want 1", n)
	}
	if got, want := ua.Load(), "stamp-health "+endpoint(srv)+" /healthz"; got != want {
		t.Errorf("request seen as %q, want %q", got, want)
	}
}

// TestProberReplacesAClosedConnection: an instance that closed the kept
// connection (it restarted, or timed the connection out) is asked again
// on a new one, not reported unhealthy.
func TestProberReplacesAClosedConnection(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	p := NewProber()
	defer p.Close()
	for i := range 3 {
		if err := p.Probe(context.Background(), endpoint(srv), "/healthz", 5*time.Second); err != nil {
			t.Fatalf("probe %d: %v", i, err)
		}
		srv.CloseClientConnections()
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("3 probes, each after the server closed the connection, made %d connections, want 3", n)
	}
}

func TestProberHonoursConnectionClose(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.Write([]byte("ok"))
	})
	p := NewProber()
	defer p.Close()
	for i := range 3 {
		if err := p.Probe(context.Background(), endpoint(srv), "/healthz", 5*time.Second); err != nil {
			t.Fatalf("probe %d: %v", i, err)
		}
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("3 probes of a server that closes: %d connections, want 3", n)
	}
}

func TestProberCancelled(t *testing.T) {
	srv := hangingServer(t)
	p := NewProber()
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	err := p.Probe(ctx, endpoint(srv), "/", 5*time.Second)
	if want := "GET " + srv.URL + "/: context canceled"; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Errorf("a cancelled probe returned after %s", waited)
	}
}

// TestProberDropsALongAnswer: an answer longer than the prober reads is
// not read to its end (the probe would last until the timeout) and its
// connection is not kept.
func TestProberDropsALongAnswer(t *testing.T) {
	chunk := strings.Repeat("x", 64<<10)
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		for range 1000 { // a stream of 64 KiB every 10ms for 10s, far more than a probe reads
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			time.Sleep(10 * time.Millisecond)
		}
	})
	p := NewProber()
	defer p.Close()
	for i := range 2 {
		start := time.Now()
		if err := p.Probe(context.Background(), endpoint(srv), "/healthz", 5*time.Second); err != nil {
			t.Fatalf("probe %d: %v", i, err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("probe %d of a long answer took %s", i, took)
		}
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("2 probes of a long answer made %d connections, want 2", n)
	}
}

// swept waits until p has swept its idle connections once more and put
// back those it keeps, which must be want of them: a sweep replaces the
// map that holds them, then puts the kept ones back into the new one.
func swept(t *testing.T, p *Prober, want int) {
	t.Helper()
	p.mu.Lock()
	before := reflect.ValueOf(p.idle).UnsafePointer()
	p.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p.mu.Lock()
		now, kept := reflect.ValueOf(p.idle).UnsafePointer(), len(p.idle)
		p.mu.Unlock()
		if now != before && kept == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("within 5s the prober did not sweep its idle connections keeping %d (it keeps %d)", want, kept)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestProberSweepKeepsOpenConnections: a sweep closes no connection the
// instance still holds open, however often it runs.
func TestProberSweepKeepsOpenConnections(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	p := NewProber()
	p.every = time.Millisecond
	defer p.Close()
	for i := range 5 {
		if err := p.Probe(context.Background(), endpoint(srv), "/healthz", 5*time.Second); err != nil {
			t.Fatalf("probe %d: %v", i, err)
		}
		swept(t, p, 1)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("5 probes, a sweep after each: %d connections, want 1", n)
	}
}

// TestProberClosesAConnectionTheInstanceClosed: once an instance closes
// the kept connection (it exited, or its tenant was deleted) and nothing
// probes it again, the prober closes its end too, rather than hold a
// socket in CLOSE-WAIT for ever.
func TestProberClosesAConnectionTheInstanceClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	seen := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			seen <- err
			return
		}
		defer conn.Close()
		if _, err := http.ReadRequest(bufio.NewReader(conn)); err != nil {
			seen <- err
			return
		}
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		// Close this end for writing, as an exiting instance would, and
		// read on: end-of-file means the prober closed its end.
		conn.(*net.TCPConn).CloseWrite()
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		seen <- err
	}()
	p := NewProber()
	p.every = 10 * time.Millisecond
	defer p.Close()
	if err := p.Probe(context.Background(), ln.Addr().String(), "/healthz", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := <-seen; !errors.Is(err, io.EOF) {
		t.Errorf("the instance's read after it closed its end: got %v, want EOF (the prober closing its end)", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) != 0 {
		t.Errorf("the prober still keeps %d idle connections, want 0", len(p.idle))
	}
}
