package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestReadResponse(t *testing.T) {
	tests := []struct {
		name        string
		raw         string
		wantStatus  int
		wantClosing bool
		wantErr     error // matched with errors.Is; nil for none
		wantRest    string
	}{
		{name: "content length", raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", wantStatus: 200, wantRest: ""},
		{name: "next answer left", raw: "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhiHTTP/1.1", wantStatus: 200, wantRest: "HTTP/1.1"},
		{name: "chunked with trailer", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n1\r\n!\r\n0\r\nX-T: 1\r\n\r\nnext",
			wantStatus: 200, wantRest: "next"},
		{name: "connection close", raw: "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", wantStatus: 503, wantClosing: true},
		{name: "no length", raw: "HTTP/1.1 200 OK\r\n\r\nto the end", wantStatus: 200, wantClosing: true},
		{name: "HTTP/1.0", raw: "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", wantStatus: 200, wantClosing: true},
		{name: "no content", raw: "HTTP/1.1 204 No Content\r\n\r\nnext", wantStatus: 204, wantRest: "next"},
		{name: "not HTTP", raw: "SSH-2.0-OpenSSH\r\n", wantErr: errMalformed},
		{name: "bad length", raw: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", wantStatus: 200, wantErr: errMalformed},
		{name: "bad chunk", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", wantStatus: 200, wantErr: errMalformed},
		{name: "cut short", raw: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", wantStatus: 200, wantErr: io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tt.raw))
			status, closing, err := readResponse(br)
			if status != tt.wantStatus {
				t.Errorf("got status %d, want %d", status, tt.wantStatus)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("got error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v", err)
			}
			if closing != tt.wantClosing {
				t.Errorf("got closing %v, want %v", closing, tt.wantClosing)
			}
			if rest, _ := io.ReadAll(br); string(rest) != tt.wantRest {
				t.Errorf("left %q unread, want %q", rest, tt.wantRest)
			}
		})
	}
}

// TestRunLoad sends a short load to real servers answering in each of the
// ways readResponse knows, and checks what it counted and that it ended
// on time.
func TestRunLoad(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantFailed bool
	}{
		{name: "known length", handler: func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, `{"release":2}`) }},
		{name: "chunked", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "one")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "two")
		}},
		{name: "closing", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			_, _ = io.WriteString(w, "bye")
		}},
		{name: "errors", handler: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusBadGateway) }, wantFailed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hosts atomic.Value
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hosts.Store(r.Host + " " + r.URL.Path)
				tt.handler(w, r)
			}))
			t.Cleanup(srv.Close)
			const window = 300 * time.Millisecond
			start := time.Now()
			res, err := runLoad(context.Background(), target{addr: srv.Listener.Addr().String(), host: "acme.localhost:7080", path: "/version"}, 4, window)
			if err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("the load took %s, want about %s", took, window)
			}
			if got := hosts.Load(); got != "acme.localhost:7080 /version" {
				t.Errorf("the server got Host and path %q, want %q", got, "acme.localhost:7080 /version")
			}
			if tt.wantFailed {
				if res.ok != 0 || res.failed == 0 || res.firstFailure != "status 502" {
					t.Errorf("got %d ok, %d failed (first: %q), want none ok and failures of status 502", res.ok, res.failed, res.firstFailure)
				}
				return
			}
			if res.failed != 0 || res.ok == 0 {
				t.Fatalf("got %d ok, %d failed (first: %q), want answers and no failure", res.ok, res.failed, res.firstFailure)
			}
			if res.hist.count() != res.ok {
				t.Errorf("histogram holds %d latencies, want one per answer (%d)", res.hist.count(), res.ok)
			}
			if p50, p99 := res.hist.percentile(50), res.hist.percentile(99); p50 <= 0 || p99 < p50 || p99 > window {
				t.Errorf("got p50 %s and p99 %s, want 0 < p50 <= p99 <= %s", p50, p99, window)
			}
			if got, want := res.rate(), float64(res.ok)/window.Seconds(); got != want {
				t.Errorf("got rate %v, want %v", got, want)
			}
		})
	}
}

// TestRunLoadRefused checks that a load on a port where nothing listens
// counts failures and still ends on time.
func TestRunLoadRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.Listener.Addr().String()
	srv.Close()
	res, err := runLoad(context.Background(), target{addr: addr, host: "x", path: "/"}, 2, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if res.ok != 0 || res.failed == 0 || !strings.Contains(res.firstFailure, "refused") {
		t.Errorf("got %d ok, %d failed (first: %q), want only refused connections", res.ok, res.failed, res.firstFailure)
	}
}

// TestRunLoadCancel checks that a load ends when its context does.
func TestRunLoadCancel(t *testing.T) {
	// A server that never answers: the load must not wait for it.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := runLoad(ctx, target{addr: srv.Listener.Addr().String(), host: "x", path: "/"}, 2, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got error %v, want the context's", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the load took %s after its context ended", took)
	}
}

func TestLoadResultAdd(t *testing.T) {
	a := &loadResult{ok: 10, window: time.Second}
	a.hist.record(time.Millisecond)
	b := &loadResult{ok: 30, failed: 2, firstFailure: "status 502", window: time.Second}
	b.hist.record(3 * time.Millisecond)
	c := &loadResult{failed: 1, firstFailure: "read status line: EOF", window: time.Second}
	a.add(b)
	a.add(c)
	if a.ok != 40 || a.failed != 3 || a.window != 3*time.Second || a.hist.count() != 2 {
		t.Errorf("got %d ok, %d failed, window %s, %d latencies; want 40, 3, 3s, 2", a.ok, a.failed, a.window, a.hist.count())
	}
	if a.firstFailure != "status 502" {
		t.Errorf("got first failure %q, want the first load's: %q", a.firstFailure, "status 502")
	}
	if got, want := a.rate(), 40.0/3; got != want {
		t.Errorf("got rate %v, want %v", got, want)
	}
}
