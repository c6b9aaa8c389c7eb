package httpapi

import (
	"bufio"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeMetrics records what the API reports and serves a fixed body.
type fakeMetrics struct {
	mu       sync.Mutex
	observed []observed
}

// observed is one ObserveRequest call, less its duration.
type observed struct {
	route  string
	status int
}

func (f *fakeMetrics) ObserveRequest(route string, status int, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.observed = append(f.observed, observed{route, status})
}

func (f *fakeMetrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintln(w, "stamp_fake 1")
}

func (f *fakeMetrics) calls() []observed {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.observed)
}

func TestMetricsEndpoint(t *testing.T) {
	t.Run("without metrics", func(t *testing.T) {
		env := newTestEnv(t)
		if status, _, _ := env.raw(t, "GET", "/metrics", env.token, nil); status != http.StatusNotFound {
			t.Errorf("GET /metrics: status %d, want 404", status)
		}
	})

	fake := new(fakeMetrics)
	env := newTestEnv(t, func(c *Config) { c.Metrics = fake })
	for _, c := range []struct {
		method, path, token string
		want                int
	}{
		{"GET", "/metrics", "", http.StatusUnauthorized},
		{"GET", "/metrics", "stp_wrong", http.StatusUnauthorized},
		{"GET", "/metrics", env.token, http.StatusOK},
		{"GET", "/v1/tenants", env.token, http.StatusOK},
		{"GET", "/v1/tenants/nobody", env.token, http.StatusNotFound},
		{"GET", "/no/such/path", env.token, http.StatusNotFound},
		{"PUT", "/v1/tenants", env.token, http.StatusMethodNotAllowed},
		{"GET", "/healthz", "", http.StatusOK},
	} {
		if status, _, _ := env.raw(t, c.method, c.path, c.token, nil); status != c.want {
			t.Errorf("%s %s: status %d, want %d", c.method, c.path, status, c.want)
		}
	}
	want := []observed{
		{"GET /metrics", 401},
		{"GET /metrics", 401},
		{"GET /metrics", 200},
		{"GET /v1/tenants", 200},
		{"GET /v1/tenants/{name}", 404},
		{"", 404},
		{"", 405},
		{"GET /healthz", 200},
	}
	if got := fake.calls(); !slices.Equal(got, want) {
		t.Errorf("observed\n%v\nwant\n%v", got, want)
	}
}

// TestObservedStreamsStillFlush checks that a stream's lines reach the
// client while it runs, through the writer that records the status.
func TestObservedStreamsStillFlush(t *testing.T) {
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "first")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush: %v", err)
			return // the client would wait for the line forever
		}
		<-release
		fmt.Fprintln(w, "last")
	})
	fake := new(fakeMetrics)
	srv := httptest.NewServer(observeRequests(fake, mux, withRequest(slog.New(slog.DiscardHandler), nil, 0, mux)))
	t.Cleanup(srv.Close)

	resp, err := http.Get(srv.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	if !lines.Scan() || lines.Text() != "first" {
		t.Fatalf("first line %q (%v), want %q while the stream runs", lines.Text(), lines.Err(), "first")
	}
	if got := fake.calls(); len(got) != 0 {
		t.Errorf("observed %v while the stream runs, want nothing yet", got)
	}
	close(release)
	if !lines.Scan() || lines.Text() != "last" {
		t.Fatalf("last line %q (%v), want %q", lines.Text(), lines.Err(), "last")
	}
	for lines.Scan() {
	}
	// The handler returned before the body ended, so it has been observed.
	if got, want := fake.calls(), []observed{{"GET /stream", 200}}; !slices.Equal(got, want) {
		t.Errorf("observed %v, want %v", got, want)
	}
}
