package router

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestSilentTenantGets504 sends a request to a tenant that accepts the
// connection but never answers, as a stopped instance does: the router
// gives up after ResponseTimeout with a 504 that says so. An answer whose
// headers came in time is not cut however long its body takes.
func TestSilentTenantGets504(t *testing.T) {
	const timeout = 300 * time.Millisecond
	release := make(chan struct{})
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow-body" {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			time.Sleep(3 * timeout)
			_, _ = io.WriteString(w, "done\n")
			return
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); app.Close() })
	src := newFakeSource()
	src.put(ready("acme", app.Listener.Addr().String()))
	r := New(Config{Source: src, Logger: quiet, ResponseTimeout: timeout})
	if err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	get := func(path string) (int, string, time.Duration) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "acme.localhost"
		start := time.Now()
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("GET %s: read body: %v", path, err)
		}
		return resp.StatusCode, string(body), time.Since(start)
	}

	status, body, took := get("/")
	if want := "tenant acme did not answer within 300ms (the router's response timeout)\n"; status != http.StatusGatewayTimeout || body != want {
		t.Errorf("silent tenant: got %d %q, want 504 %q", status, body, want)
	}
	if took < timeout || took > timeout+2*time.Second {
		t.Errorf("silent tenant: answered after %s, want about %s", took, timeout)
	}
	if st := r.Stats("acme"); st.Errors5xx != 1 {
		t.Errorf("stats: %+v, want the 504 counted as a 5xx", st)
	}

	status, body, _ = get("/slow-body")
	if status != http.StatusOK || !strings.Contains(body, "done") {
		t.Errorf("slow body: got %d %q, want 200 with the whole body", status, body)
	}
}
