package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// startProxy serves a proxy to upstream on a loopback port until the
// test ends and returns its address.
func startProxy(t *testing.T, upstream string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(newProxy(upstream))
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		if err := srv.Shutdown(); err != nil {
			t.Errorf("shut down the proxy: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// TestProxy sends requests through the proxy to a real upstream and
// checks that they arrive as bareproxy sends them: the client's Host,
// the X-Forwarded headers set by the proxy (the client's own dropped),
// hop-by-hop headers dropped both ways, and the answer passed back
// whole, a chunked one too.
func TestProxy(t *testing.T) {
	type seen struct{ host, xff, xfh, xfp, hop, keepAlive, ua string }
	got := make(chan seen, 1)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Host, r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Host"), r.Header.Get("X-Forwarded-Proto"),
			r.Header.Get("X-Hop"), r.Header.Get("Keep-Alive"), r.Header.Get("User-Agent")}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Connection", "X-Resp-Hop")
		w.Header().Set("X-Resp-Hop", "1")
		w.Header().Set("Keep-Alive", "timeout=5")
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush() // no Content-Length: chunked
		}
		_, _ = io.WriteString(w, `{"release":"2"}`)
	}))
	t.Cleanup(upstream.Close)
	front := startProxy(t, upstream.Listener.Addr().String())
	for _, path := range []string{"/version", "/chunked"} {
		t.Run(path, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, "http://"+front+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = "acme.localhost:7080"
			req.Header.Set("X-Forwarded-For", "203.0.113.9")
			req.Header.Set("Connection", "X-Hop")
			req.Header.Set("X-Hop", "1")
			req.Header.Set("Keep-Alive", "timeout=5")
			req.Header["User-Agent"] = nil // net/http then sends none
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("GET through the proxy: %v", err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("read the answer: %v", err)
			}
			if resp.StatusCode != http.StatusOK || string(body) != `{"release":"2"}` {
				t.Errorf("got %d %q, want 200 %q", resp.StatusCode, body, `{"release":"2"}`)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("got Content-Type %q, want %q", ct, "application/json")
			}
			for _, h := range []string{"X-Resp-Hop", "Keep-Alive", "Server"} {
				if v := resp.Header.Get(h); v != "" {
					t.Errorf("got %s %q in the answer, want none", h, v)
				}
			}
			want := seen{host: "acme.localhost:7080", xff: "127.0.0.1", xfh: "acme.localhost:7080", xfp: "http"}
			if s := <-got; s != want {
				t.Errorf("upstream got %+v, want %+v", s, want)
			}
		})
	}
}

// TestProxyUpstreamDown checks that a request the upstream cannot take
// gets a 502, as from ReverseProxy.
func TestProxyUpstreamDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close() // nothing listens there now
	resp, err := http.Get("http://" + startProxy(t, down) + "/version")
	if err != nil {
		t.Fatalf("GET through the proxy: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("got %d, want %d", resp.StatusCode, http.StatusBadGateway)
	}
}

func TestRunRefusesBadUpstream(t *testing.T) {
	var stderr strings.Builder
	err := run(t.Context(), []string{"-listen", "127.0.0.1:0", "-upstream", "nowhere"}, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), `-upstream "nowhere"`) {
		t.Errorf("got %v, want an error naming -upstream %q", err, "nowhere")
	}
}
