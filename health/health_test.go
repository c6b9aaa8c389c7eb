package health

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// server starts an httptest server answering with h and stops it at the
// end of the test.
func server(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// refusedURL returns a URL on 127.0.0.1 where nothing listens.
func refusedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr + "/healthz"
}

// hangingServer answers only when the request is cancelled or the test ends.
func hangingServer(t *testing.T) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() {
		close(release)
		srv.Close()
	})
	return srv
}

func TestProbe(t *testing.T) {
	ok := server(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	noContent := server(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	unavailable := server(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "starting", http.StatusServiceUnavailable)
	})
	redirect := server(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/login", http.StatusFound)
	})
	slow := hangingServer(t)
	refused := refusedURL(t)

	tests := []struct {
		name    string
		url     string
		timeout time.Duration
		want    string // "" for success
		wantIs  error
	}{
		{name: "200", url: ok.URL + "/healthz", timeout: 5 * time.Second},
		{name: "204", url: noContent.URL + "/healthz", timeout: 5 * time.Second},
		{name: "503", url: unavailable.URL + "/healthz", timeout: 5 * time.Second,
			want: "GET " + unavailable.URL + "/healthz: status 503: starting"},
		{name: "redirect is not followed", url: redirect.URL + "/healthz", timeout: 5 * time.Second,
			want: "GET " + redirect.URL + "/healthz: status 302"},
		{name: "slow beyond timeout", url: slow.URL + "/healthz", timeout: 50 * time.Millisecond,
			want: "GET " + slow.URL + "/healthz: no answer within 50ms", wantIs: context.DeadlineExceeded},
		{name: "refused", url: refused, timeout: 5 * time.Second,
			want: "GET " + refused + ": connection refused", wantIs: syscall.ECONNREFUSED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Probe(context.Background(), nil, tt.url, tt.timeout)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got nil, want %q", tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false, want true", err, tt.wantIs)
			}
		})
	}
}

func TestProbeCancelled(t *testing.T) {
	srv := hangingServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Probe(ctx, nil, srv.URL, 5*time.Second)
	if want := "GET " + srv.URL + ": context canceled"; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("errors.Is(%v, context.Canceled) = false, want true", err)
	}
}

func TestProbeCustomClient(t *testing.T) {
	var gotUA atomic.Value
	srv := server(t, func(w http.ResponseWriter, r *http.Request) { gotUA.Store(r.UserAgent()) })
	if err := Probe(context.Background(), srv.Client(), srv.URL, 5*time.Second); err != nil {
		t.Fatalf("got %v, want nil", err)
	}
	if got, want := gotUA.Load(), "stamp-health"; got != want {
		t.Errorf("got User-Agent %q, want %q", got, want)
	}
}

func TestWaitHealthyAfterFailures(t *testing.T) {
	const failures = 3
	var calls atomic.Int32
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= failures {
			http.Error(w, "starting", http.StatusServiceUnavailable)
		}
	})
	err := WaitHealthy(context.Background(), nil, srv.URL+"/healthz", 10*time.Millisecond, 5*time.Second, time.Minute)
	if err != nil {
		t.Fatalf("got %v, want nil", err)
	}
	if got, want := calls.Load(), int32(failures+1); got != want {
		t.Errorf("got %d probes, want %d", got, want)
	}
}

func TestWaitHealthyGivesUp(t *testing.T) {
	unavailable := server(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "starting", http.StatusServiceUnavailable)
	})
	slow := hangingServer(t)
	refused := refusedURL(t)

	tests := []struct {
		name    string
		url     string
		lastErr string
		timeout time.Duration
	}{
		{name: "503", url: unavailable.URL + "/healthz", lastErr: "GET " + unavailable.URL + "/healthz: status 503: starting", timeout: 5 * time.Second},
		{name: "refused", url: refused, lastErr: "GET " + refused + ": connection refused", timeout: 5 * time.Second},
		{name: "slow", url: slow.URL, lastErr: "GET " + slow.URL + ": no answer within 50ms", timeout: 50 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := WaitHealthy(context.Background(), nil, tt.url, 20*time.Millisecond, tt.timeout, 200*time.Millisecond)
			if err == nil {
				t.Fatal("got nil, want an error")
			}
			got := err.Error()
			if !strings.HasPrefix(got, "not healthy after ") || !strings.Contains(got, ": "+tt.lastErr) {
				t.Errorf("got %q, want \"not healthy after <d>: %s...\"", got, tt.lastErr)
			}
		})
	}
}

func TestWaitHealthyContextEnds(t *testing.T) {
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "starting", http.StatusServiceUnavailable)
	})
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int32
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if calls.Add(1) == 2 {
			cancel() // while waiting for the third probe
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	t.Cleanup(cancel)
	err := WaitHealthy(ctx, client, srv.URL, 10*time.Millisecond, 5*time.Second, time.Minute)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want an error wrapping context.Canceled", err)
	}
	if want := "GET " + srv.URL + ": status 503"; !strings.Contains(err.Error(), want) {
		t.Errorf("got %q, want it to name the last probe error %q", err, want)
	}
}

func TestWaitHealthyRejectsBadArguments(t *testing.T) {
	err := WaitHealthy(context.Background(), nil, "http://127.0.0.1:1/", 0, time.Second, time.Second)
	if want := "must be positive"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want an error containing %q", err, want)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
