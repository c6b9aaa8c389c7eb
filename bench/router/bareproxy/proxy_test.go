package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestProxy sends a request through the proxy to a real upstream and
// checks that it arrives as nginx and Stamp's router send it: the
// client's Host, the X-Forwarded headers set by the proxy (the client's
// own dropped), and the answer passed back whole.
func TestProxy(t *testing.T) {
	type seen struct{ host, xff, xfh, xfp string }
	got := make(chan seen, 1)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Host, r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Host"), r.Header.Get("X-Forwarded-Proto")}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"release":"2"}`)
	}))
	t.Cleanup(upstream.Close)
	for _, flush := range []time.Duration{0, -1} {
		front := httptest.NewServer(newProxy(upstream.Listener.Addr().String(), flush))
		req, err := http.NewRequest(http.MethodGet, front.URL+"/version", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "acme.localhost:7080"
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		resp, err := front.Client().Do(req)
		if err != nil {
			t.Fatalf("flush %s: GET through the proxy: %v", flush, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		front.Close()
		if err != nil {
			t.Fatalf("flush %s: read the answer: %v", flush, err)
		}
		if resp.StatusCode != http.StatusOK || string(body) != `{"release":"2"}` {
			t.Errorf("flush %s: got %d %q, want 200 %q", flush, resp.StatusCode, body, `{"release":"2"}`)
		}
		want := seen{host: "acme.localhost:7080", xff: "127.0.0.1", xfh: "acme.localhost:7080", xfp: "http"}
		if s := <-got; s != want {
			t.Errorf("flush %s: upstream got %+v, want %+v", flush, s, want)
		}
	}
}

func TestRunRefusesBadUpstream(t *testing.T) {
	var stderr strings.Builder
	err := run(t.Context(), []string{"-listen", "127.0.0.1:0", "-upstream", "nowhere"}, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), `-upstream "nowhere"`) {
		t.Errorf("got %v, want an error naming -upstream %q", err, "nowhere")
	}
}
