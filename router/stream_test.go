package router

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestStreaming proxies answers that arrive in pieces: an event stream,
// and a body of unknown length (chunked, as a long poll or a download
// being generated sends). The backend sends a first line and holds the
// rest until the client has read it: a buffering proxy would deadlock
// here (and fail on the client's timeout instead).
func TestStreaming(t *testing.T) {
	for _, tt := range []struct {
		name        string
		contentType string
	}{
		{name: "event stream", contentType: "text/event-stream"},
		{name: "unknown length", contentType: "application/x-ndjson"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			firstRead := make(chan struct{})
			app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				_, _ = io.WriteString(w, "data: one\n\n")
				w.(http.Flusher).Flush()
				select {
				case <-firstRead:
				case <-r.Context().Done():
					return
				}
				_, _ = io.WriteString(w, "data: two\n\n")
			}))
			t.Cleanup(app.Close)
			src := newFakeSource()
			src.put(ready("acme", app.Listener.Addr().String()))
			_, srv := serve(t, src)

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = "acme.localhost"
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.ContentLength != -1 {
				t.Errorf("got Content-Length %d, want none (a body of unknown length)", resp.ContentLength)
			}
			br := bufio.NewReader(resp.Body)
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("read first event: %v", err)
			}
			if want := "data: one\n"; line != want {
				t.Errorf("got %q, want %q", line, want)
			}
			close(firstRead)
			rest, err := io.ReadAll(br)
			if err != nil {
				t.Fatalf("read rest: %v", err)
			}
			if want := "\ndata: two\n\n"; string(rest) != want {
				t.Errorf("got %q, want %q", rest, want)
			}
		})
	}
}

// TestOneWritePerAnswer checks that an answer of known length leaves the
// router in one write to the client's connection, headers and body
// together: flushing the headers apart doubles the system calls of every
// request.
func TestOneWritePerAnswer(t *testing.T) {
	body := strings.Repeat("x", 1000)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(app.Close)
	src := newFakeSource()
	src.put(ready("acme", app.Listener.Addr().String()))
	r := New(Config{Source: src, Logger: quiet})
	if err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(r)
	ln := &countingListener{Listener: srv.Listener}
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	const n = 10
	for range n {
		if a := get(t, srv, "acme.localhost", "/", ""); a.status != http.StatusOK || a.body != body {
			t.Fatalf("got status %d and %d bytes, want 200 and the backend's %d", a.status, len(a.body), len(body))
		}
	}
	if got := ln.writes.Load(); got != n {
		t.Errorf("%d answers took %d writes to the client's connection, want %d", n, got, n)
	}
}

// countingListener counts the writes to the connections it accepts.
type countingListener struct {
	net.Listener
	writes atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, writes: &l.writes}, nil
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}
