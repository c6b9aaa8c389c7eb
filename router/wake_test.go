package router

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// sleeping returns a tenant asleep (scale to zero).
func sleeping(name string) *stamp.Tenant {
	return inPhase(name, stamp.PhaseSleeping)
}

// serveWaking serves src through a router whose waker runs wake.
func serveWaking(t *testing.T, src Source, wake WakeFunc, woke func(string, time.Duration, bool)) (*Router, *httptest.Server) {
	t.Helper()
	r := New(Config{Source: src, Logger: quiet, Waker: wake, WakeTimeout: 2 * time.Second, Woke: woke})
	if err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

// TestConcurrentRequestsShareOneWake sends 20 requests at once to a
// sleeping tenant: the waker is called once, and every request is
// proxied once the tenant serves.
func TestConcurrentRequestsShareOneWake(t *testing.T) {
	src := newFakeSource()
	src.put(sleeping("acme"))
	var r *Router
	var calls atomic.Int32
	var woken atomic.Int32
	wake := func(ctx context.Context, name string) error {
		calls.Add(1)
		go func() {
			time.Sleep(300 * time.Millisecond) // the instances start
			src.put(ready(name, backend(t, "acme")))
			r.SyncTenant(context.Background(), name)
		}()
		return nil
	}
	r, srv := serveWaking(t, src, wake, func(_ string, _ time.Duration, ok bool) {
		if ok {
			woken.Add(1)
		}
	})
	var wg sync.WaitGroup
	answers := make([]answer, 20)
	for i := range answers {
		wg.Go(func() { answers[i] = get(t, srv, "acme.localhost", "/", "") })
	}
	wg.Wait()
	for i, a := range answers {
		if a.status != http.StatusOK || decodeEcho(t, a).Tenant != "acme" {
			t.Errorf("request %d: %d %s, want 200 from the woken tenant", i, a.status, a.body)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the waker was called %d times for 20 concurrent requests, want 1", n)
	}
	// Requests that came once it served were proxied straight away; on a
	// busy machine not all 20 arrive within the wake.
	if n := woken.Load(); n < 1 || n > 20 {
		t.Errorf("Woke reported %d woken requests, want 1 to 20", n)
	}
	if last := r.LastRequest("acme"); time.Since(last) > time.Second {
		t.Errorf("LastRequest %v, want about now", last)
	}
}

// TestWakeFailures checks the answers when a sleeping tenant cannot
// wake: the waker fails, the tenant fails while waking, it does not
// serve within the wake timeout, or no waker is configured.
func TestWakeFailures(t *testing.T) {
	src := newFakeSource()
	for _, name := range []string{"refused", "broken", "slow"} {
		src.put(sleeping(name))
	}
	var r *Router
	wake := func(ctx context.Context, name string) error {
		switch name {
		case "refused":
			return errors.New("the store is read-only")
		case "broken":
			failed := inPhase(name, stamp.PhaseFailed)
			failed.Status.Message = "service web did not become healthy"
			src.put(failed)
			return r.SyncTenant(ctx, name)
		}
		return nil // slow: never serves
	}
	var failures atomic.Int32
	r, srv := serveWaking(t, src, wake, func(_ string, _ time.Duration, ok bool) {
		if !ok {
			failures.Add(1)
		}
	})
	r.wakeTimeout = 100 * time.Millisecond
	for _, tc := range []struct{ host, want string }{
		{"refused.localhost", "could not be woken: the control plane did not take the request"},
		{"broken.localhost", "failed to wake: service web did not become healthy"},
		{"slow.localhost", "did not wake within 100ms"},
	} {
		if a := get(t, srv, tc.host, "/", ""); a.status != http.StatusServiceUnavailable || !strings.Contains(a.body, tc.want) {
			t.Errorf("%s: %d %s, want 503 saying %q", tc.host, a.status, a.body, tc.want)
		}
	}
	if n := failures.Load(); n != 3 {
		t.Errorf("Woke reported %d failed wakes, want 3", n)
	}

	_, plain := serve(t, src) // no waker: a standby router
	if a := get(t, plain, "slow.localhost", "/", ""); a.status != http.StatusServiceUnavailable || !strings.Contains(a.body, "cannot wake it") {
		t.Errorf("without a waker: %d %s, want 503 saying this router cannot wake it", a.status, a.body)
	}
}
