package router

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// statusOf asks srv for host's root page and returns the status code.
func statusOf(srv *httptest.Server, host string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	if err != nil {
		return 0, err
	}
	req.Host = host
	resp, err := srv.Client().Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", host, err)
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// status is statusOf for the test's own goroutine.
func status(t *testing.T, srv *httptest.Server, host string) int {
	t.Helper()
	code, err := statusOf(srv, host)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func TestSyncFollowsEvents(t *testing.T) {
	src := newFakeSource()
	src.put(inPhase("acme", stamp.PhaseProvisioning))
	src.put(ready("globex", backend(t, "globex")))
	r, srv := serve(t, src)
	ctx := context.Background()

	steps := []struct {
		name   string
		change func()
		want   map[string]int // host to status after Sync
	}{
		{
			name:   "loaded",
			change: func() {},
			want:   map[string]int{"acme.localhost": 503, "globex.localhost": 200, "initech.localhost": 404},
		},
		{
			name:   "acme becomes ready",
			change: func() { src.put(ready("acme", backend(t, "acme"))) },
			want:   map[string]int{"acme.localhost": 200, "globex.localhost": 200},
		},
		{
			name:   "new tenant appears",
			change: func() { src.put(inPhase("initech", stamp.PhaseProvisioning)) },
			want:   map[string]int{"initech.localhost": 503, "acme.localhost": 200},
		},
		{
			name:   "globex is being deleted",
			change: func() { src.put(deleting("globex", backend(t, "globex"))) },
			want:   map[string]int{"globex.localhost": 503, "acme.localhost": 200},
		},
		{
			name:   "globex is gone",
			change: func() { src.remove("globex") },
			want:   map[string]int{"globex.localhost": 404, "acme.localhost": 200, "initech.localhost": 503},
		},
		{
			name:   "acme moves to a new endpoint",
			change: func() { src.put(ready("acme", deadEndpoint(t))) },
			want:   map[string]int{"acme.localhost": 502},
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.change()
			if err := r.Sync(ctx); err != nil {
				t.Fatalf("Sync: %v", err)
			}
			for host, want := range st.want {
				if got := status(t, srv, host); got != want {
					t.Errorf("%s: got status %d, want %d", host, got, want)
				}
			}
		})
	}
}

func TestSyncTakesPositionBeforeListing(t *testing.T) {
	src := newFakeSource()
	src.put(ready("acme", backend(t, "acme")))
	late := backend(t, "late")
	// A tenant written after the listing was read but before it returned:
	// the first load cannot see it, so the next Sync must find its event.
	src.afterList = func() { src.put(ready("late", late)) }
	r, srv := serve(t, src)

	if got := status(t, srv, "late.localhost"); got != 404 {
		t.Fatalf("before the second Sync: got status %d, want 404", got)
	}
	if err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := status(t, srv, "late.localhost"); got != 200 {
		t.Errorf("after the second Sync: got status %d, want 200", got)
	}
}

func TestSyncReadsEveryPage(t *testing.T) {
	src := newFakeSource()
	src.maxPage = 2 // a store that hands out fewer events than asked for
	r, srv := serve(t, src)
	names := []string{"a1", "a2", "a3", "a4", "a5"}
	for _, n := range names {
		src.put(ready(n, backend(t, n)))
	}
	if err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if got := status(t, srv, n+".localhost"); got != 200 {
			t.Errorf("%s: got status %d, want 200", n, got)
		}
	}
}

func TestSyncErrorKeepsRoutes(t *testing.T) {
	src := newFakeSource()
	src.put(ready("acme", backend(t, "acme")))
	r, srv := serve(t, src)

	down := errors.New("database is locked")
	src.put(inPhase("acme", stamp.PhaseProvisioning)) // not seen while the store fails
	src.setErr(down)
	err := r.Sync(context.Background())
	if !errors.Is(err, down) {
		t.Fatalf("got %v, want an error wrapping %v", err, down)
	}
	if want := "update routes: list events after 1: database is locked"; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	if got := status(t, srv, "acme.localhost"); got != 200 {
		t.Errorf("while the store fails: got status %d, want 200 (last known route)", got)
	}

	src.setErr(nil)
	if err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := status(t, srv, "acme.localhost"); got != 503 {
		t.Errorf("after recovery: got status %d, want 503", got)
	}
}

func TestFirstSyncError(t *testing.T) {
	src := newFakeSource()
	src.setErr(errors.New("no such table: tenants"))
	r := New(Config{Source: src, Logger: quiet})
	err := r.Sync(context.Background())
	if want := "load routes: last event seq: no such table: tenants"; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
	if r.routes.Load() != nil {
		t.Error("got a route table after a failed first load, want none")
	}
}

// lockedBuffer collects log output written from Run's goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline that only guards against hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRun(t *testing.T) {
	src := newFakeSource()
	src.setErr(errors.New("connection reset"))
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	r := New(Config{Source: src, PollInterval: 5 * time.Millisecond, Logger: logger})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithCancel(context.Background())
	var runErr error
	stopped := make(chan struct{})
	go func() {
		runErr = r.Run(ctx)
		close(stopped)
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
	})

	// Several failed polls make one warning, not one per poll.
	waitFor(t, "five failed polls", func() bool { return src.logReads() >= 5 })
	src.put(ready("acme", backend(t, "acme")))
	src.setErr(nil)
	waitFor(t, "acme to be routed", func() bool { return status(t, srv, "acme.localhost") == 200 })
	src.put(inPhase("globex", stamp.PhaseProvisioning))
	waitFor(t, "globex to be known", func() bool { return status(t, srv, "globex.localhost") == 503 })

	cancel()
	<-stopped
	if runErr != nil {
		t.Errorf("Run returned %v, want nil", runErr)
	}
	out := logs.String()
	if got := strings.Count(out, "cannot sync routes"); got != 1 {
		t.Errorf("got %d sync warnings, want 1; log:\n%s", got, out)
	}
	if !strings.Contains(out, "connection reset") {
		t.Errorf("got log %q, want it to name the error", out)
	}
	if got := strings.Count(out, "routes in sync again"); got != 1 {
		t.Errorf("got %d recovery lines, want 1; log:\n%s", got, out)
	}
}

func TestConcurrentRequestsDuringSync(t *testing.T) {
	src := newFakeSource()
	src.put(ready("acme", backend(t, "acme")))
	flapping := backend(t, "globex")
	src.put(ready("globex", flapping))
	r, srv := serve(t, src)
	ctx := context.Background()

	const clients, requests, changes = 4, 50, 50
	var wg sync.WaitGroup
	errs := make(chan error, clients*requests+2*changes)
	for c := range clients {
		wg.Go(func() {
			for i := range requests {
				if got, err := statusOf(srv, "acme.localhost"); err != nil || got != 200 {
					errs <- fmt.Errorf("client %d request %d: acme got status %d (%v), want 200", c, i, got, err)
				}
				// globex flaps between ready and provisioning: either
				// answer is right, a panic or a race is not.
				if got, err := statusOf(srv, "globex.localhost"); err != nil || got != 200 && got != 503 {
					errs <- fmt.Errorf("client %d request %d: globex got status %d (%v), want 200 or 503", c, i, got, err)
				}
			}
		})
	}
	for range 2 { // two syncers, to exercise the mutex
		wg.Go(func() {
			for i := range changes {
				if i%2 == 0 {
					src.put(inPhase("globex", stamp.PhaseProvisioning))
				} else {
					src.put(ready("globex", flapping))
				}
				if err := r.Sync(ctx); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestSyncTenantNeedsNoEvent(t *testing.T) {
	src := newFakeSource()
	src.put(inPhase("acme", stamp.PhaseProvisioning))
	src.put(ready("globex", backend(t, "globex")))
	r, srv := serve(t, src)
	ctx := context.Background()
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// Changes whose events a Sync has not read yet (or read too early).
	src.mu.Lock()
	src.tenants["acme"] = ready("acme", backend(t, "acme"))
	delete(src.tenants, "globex")
	src.mu.Unlock()
	for _, name := range []string{"acme", "globex"} {
		if err := r.SyncTenant(ctx, name); err != nil {
			t.Fatalf("SyncTenant(%s): %v", name, err)
		}
	}
	for host, want := range map[string]int{"acme.localhost": 200, "globex.localhost": 404} {
		if got := status(t, srv, host); got != want {
			t.Errorf("%s: got status %d, want %d", host, got, want)
		}
	}
}

// TestReloadKeepsUnchangedRoutes checks that a full reload keeps the
// route of a tenant that did not change, turns of its replicas included
// (a route built anew would send the next request to the first replica
// again), and builds a new one for a tenant that changed.
func TestReloadKeepsUnchangedRoutes(t *testing.T) {
	src := newFakeSource()
	src.put(ready("acme", backend(t, "acme-0"), backend(t, "acme-1")))
	src.put(ready("globex", backend(t, "globex-0")))
	r, srv := serve(t, src)
	next := func(tenant string) string {
		t.Helper()
		return decodeEcho(t, get(t, srv, tenant+".localhost", "/", "")).Tenant
	}
	if got := next("acme"); got != "acme-0" {
		t.Fatalf("first request went to %s, want acme-0", got)
	}
	globex := (*r.routes.Load())["globex"]
	src.put(ready("globex", backend(t, "globex-1")))
	if err := r.fullSync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := next("acme"); got != "acme-1" {
		t.Errorf("after a reload that changed nothing of acme, the request went to %s, want acme-1 (its turn)", got)
	}
	if (*r.routes.Load())["globex"] == globex {
		t.Error("globex's endpoint changed, but the reload kept its route")
	}
	if got := next("globex"); got != "globex-1" {
		t.Errorf("globex's request went to %s, want its new endpoint globex-1", got)
	}
}

// TestReloadRebuildsChangedRoutes changes, one at a time, each thing a
// route is built from, and checks that a full reload builds the route
// anew, and that it keeps the route when nothing changed.
func TestReloadRebuildsChangedRoutes(t *testing.T) {
	withMessage := func(tn *stamp.Tenant, msg string) *stamp.Tenant { tn.Status.Message = msg; return tn }
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	createdAt := func(tn *stamp.Tenant, at time.Time) *stamp.Tenant { tn.CreatedAt = at; return tn }
	tests := []struct {
		name          string
		before, after *stamp.Tenant
		wantKept      bool
	}{
		{name: "nothing", before: ready("acme", "127.0.0.1:1"), after: ready("acme", "127.0.0.1:1"), wantKept: true},
		{name: "endpoints", before: ready("acme", "127.0.0.1:1"), after: ready("acme", "127.0.0.1:2")},
		{name: "another replica", before: ready("acme", "127.0.0.1:1"), after: ready("acme", "127.0.0.1:1", "127.0.0.1:2")},
		{name: "phase", before: ready("acme", "127.0.0.1:1"), after: upgrading("acme", "127.0.0.1:1")},
		{name: "deleting", before: ready("acme", "127.0.0.1:1"), after: deleting("acme", "127.0.0.1:1")},
		{name: "old version stopped", before: upgrading("acme"), after: recreating("acme")},
		{name: "asleep", before: inPhase("acme", stamp.PhaseProvisioning), after: sleeping("acme")},
		{name: "message", before: withMessage(inPhase("acme", stamp.PhaseFailed), "migrate failed"),
			after: withMessage(inPhase("acme", stamp.PhaseFailed), "health failed")},
		{name: "created again", before: createdAt(ready("acme", "127.0.0.1:1"), created),
			after: createdAt(ready("acme", "127.0.0.1:1"), created.Add(time.Second))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := newFakeSource()
			src.put(tt.before)
			r, _ := serve(t, src)
			before := (*r.routes.Load())["acme"]
			src.put(tt.after)
			if err := r.fullSync(context.Background()); err != nil {
				t.Fatal(err)
			}
			if kept := (*r.routes.Load())["acme"] == before; kept != tt.wantKept {
				t.Errorf("route kept: %v, want %v", kept, tt.wantKept)
			}
		})
	}
}
