package router

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkProxy compares a GET through the router with the same GET sent
// to the backend directly, both over real loopback HTTP with keep-alives,
// so the router's overhead can be read as the ratio of the two ns/op:
//
//	go test -run '^$' -bench Proxy -benchmem ./router
func BenchmarkProxy(b *testing.B) {
	body := []byte(`{"ok":true}`)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	b.Cleanup(app.Close)

	src := newFakeSource()
	src.put(ready("acme", app.Listener.Addr().String()))
	r := New(Config{Source: src, Logger: quiet})
	if err := r.Sync(b.Context()); err != nil {
		b.Fatal(err)
	}
	front := httptest.NewServer(r)
	b.Cleanup(front.Close)

	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64}}
	b.Cleanup(client.CloseIdleConnections)

	for _, bm := range []struct {
		name string
		url  string
	}{
		{name: "direct", url: app.URL + "/api/invoices"},
		{name: "router", url: front.URL + "/api/invoices"},
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
