package router

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
)

// BenchmarkProxy compares a GET through the router with the same GET sent
// to the backend directly and through a bare httputil.ReverseProxy (the
// router's Transport and buffer pool, its Rewrite but nothing else), all
// over real loopback HTTP with keep-alives, so that the router's overhead
// over the backend and over any Go proxy can be read as ratios of ns/op
// and allocs/op; and the router with 1 route with one that has 10,000
// (the other tenants ready, sent nothing):
//
//	go test -run '^$' -bench Proxy -benchmem ./router
func BenchmarkProxy(b *testing.B) {
	body := []byte(`{"ok":true}`)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	b.Cleanup(app.Close)
	one := benchRouter(b, app.Listener.Addr().String(), 1)
	many := benchRouter(b, app.Listener.Addr().String(), 10000)
	bare := benchBare(b, app.Listener.Addr().String())

	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64}}
	b.Cleanup(client.CloseIdleConnections)

	for _, bm := range []struct {
		name string
		url  string
	}{
		{name: "direct", url: app.URL + "/api/invoices"},
		{name: "bare", url: bare.URL + "/api/invoices"},
		{name: "router", url: one.URL + "/api/invoices"},
		{name: "router-10000-routes", url: many.URL + "/api/invoices"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			req, err := http.NewRequest(http.MethodGet, bm.url, nil)
			if err != nil {
				b.Fatal(err)
			}
			req.Host = "acme.localhost:7080"
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("got status %d, want 200", resp.StatusCode)
				}
			}
		})
	}
}

// benchRouter starts a router over tenant acme at endpoint and routes-1
// more, behind a real HTTP server.
func benchRouter(b *testing.B, endpoint string, routes int) *httptest.Server {
	b.Helper()
	src := newFakeSource()
	src.put(ready("acme", endpoint))
	for i := range routes - 1 {
		src.put(ready(fmt.Sprintf("t%05d", i), fmt.Sprintf("127.0.0.1:%d", 20000+i)))
	}
	r := New(Config{Source: src, Logger: quiet})
	if err := r.Sync(b.Context()); err != nil {
		b.Fatal(err)
	}
	front := httptest.NewServer(r)
	b.Cleanup(front.Close)
	return front
}

// benchBare starts a bare ReverseProxy to endpoint behind a real HTTP
// server: what any Go proxy on net/http does for a request.
func benchBare(b *testing.B, endpoint string) *httptest.Server {
	b.Helper()
	u := &url.URL{Scheme: "http", Host: endpoint}
	front := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.SetXForwarded()
			pr.Out.Host = pr.In.Host
		},
		Transport:  newTransport(defaultResponseTimeout),
		BufferPool: copyBuffers,
	})
	b.Cleanup(front.Close)
	return front
}

// BenchmarkReload times the full reload Run does every 30s, over 10,000
// ready tenants none of which changed since the last one:
//
//	go test -run '^$' -bench Reload -benchmem ./router
func BenchmarkReload(b *testing.B) {
	src := newFakeSource()
	for i := range 10000 {
		src.put(ready(fmt.Sprintf("t%05d", i), fmt.Sprintf("127.0.0.1:%d", 20000+i)))
	}
	r := New(Config{Source: src, Logger: quiet})
	if err := r.Sync(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := r.fullSync(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}
