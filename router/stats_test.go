package router

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// statusBackend starts an app that answers GET /?status=N with status N
// (200 without the parameter) and a body naming the app.
func statusBackend(t *testing.T, name string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := http.StatusOK
		if s := r.URL.Query().Get("status"); s != "" {
			var err error
			if code, err = strconv.Atoi(s); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		w.WriteHeader(code)
		_, _ = fmt.Fprint(w, name)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// holdingBackend starts an app that holds GET /hold until release is
// closed, telling held about each such request once it has arrived, and
// answers anything else at once with its name. Closing a server waits for
// the requests it holds, so a test closes release before its cleanups run.
func holdingBackend(t *testing.T, name string, held chan<- struct{}, release <-chan struct{}) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			select {
			case held <- struct{}{}:
			case <-r.Context().Done():
				return
			}
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		_, _ = fmt.Fprint(w, name)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// statsWant is the part of TenantStats a test checks exactly.
type statsWant struct {
	requests, errors5xx, timed uint64
}

// checkStats compares the tenant's counters with want. The proxy counts a
// request's answer before sending it but times it only once it is sent,
// so the latency count is waited for.
func checkStats(t *testing.T, r *Router, tenant string, want statsWant) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%s to have %d timed requests", tenant, want.timed), func() bool {
		return r.Stats(tenant).Latency.Count >= want.timed
	})
	st := r.Stats(tenant)
	got := statsWant{requests: st.Requests, errors5xx: st.Errors5xx, timed: st.Latency.Count}
	if got != want {
		t.Errorf("%s: got requests, 5xx, timed %v, want %v", tenant, got, want)
	}
	if n := len(st.Latency.Buckets); st.Latency.Buckets[n-1] > st.Latency.Count {
		t.Errorf("%s: last bucket %d holds more than the count %d", tenant, st.Latency.Buckets[n-1], st.Latency.Count)
	}
	for i := 1; i < len(st.Latency.Buckets); i++ {
		if st.Latency.Buckets[i] < st.Latency.Buckets[i-1] {
			t.Errorf("%s: buckets %v are not cumulative", tenant, st.Latency.Buckets)
			break
		}
	}
}

func TestStatsCountAnswers(t *testing.T) {
	src := newFakeSource()
	src.put(ready("acme", statusBackend(t, "acme")))
	src.put(ready("dead", deadEndpoint(t)))
	src.put(inPhase("initech", stamp.PhaseProvisioning))
	src.put(ready("idle", statusBackend(t, "idle")))
	r, srv := serve(t, src)

	for _, c := range []struct {
		host, path string
		want       int
	}{
		{"acme.localhost", "/", 200},
		{"acme.localhost", "/?status=201", 201},
		{"acme.localhost", "/?status=404", 404},
		{"acme.localhost", "/?status=500", 500},
		{"acme.localhost", "/?status=503", 503},
		{"acme.localhost", "/?status=499", 499},
		{"dead.localhost", "/", 502},
		{"dead.localhost", "/", 502},
		{"initech.localhost", "/", 503},
		{"nobody.localhost", "/", 404},
		{"localhost", "/", 404},
	} {
		if a := get(t, srv, c.host, c.path, ""); a.status != c.want {
			t.Fatalf("GET %s%s: got status %d, want %d", c.host, c.path, a.status, c.want)
		}
	}
	checkStats(t, r, "acme", statsWant{requests: 6, errors5xx: 2, timed: 6})
	checkStats(t, r, "dead", statsWant{requests: 2, errors5xx: 2, timed: 2})    // the router's own 502s
	checkStats(t, r, "initech", statsWant{requests: 1, errors5xx: 1, timed: 0}) // its own 503, not timed
	checkStats(t, r, "idle", statsWant{})
	checkStats(t, r, "nobody", statsWant{})

	all := r.AllStats()
	if len(all) != 4 {
		t.Errorf("AllStats has %d tenants, want the 4 the table knows: %v", len(all), all)
	}
	for _, name := range []string{"acme", "dead", "initech", "idle"} {
		st, ok := all[name]
		if !ok {
			t.Errorf("AllStats lacks %s", name)
			continue
		}
		if want := r.Stats(name); st != want {
			t.Errorf("AllStats[%s] = %+v, want what Stats says: %+v", name, st, want)
		}
	}
}

func TestStatsSurviveSync(t *testing.T) {
	src := newFakeSource()
	blue, green := statusBackend(t, "blue"), statusBackend(t, "green")
	src.put(ready("acme", blue))
	r, srv := serve(t, src)
	ctx := context.Background()
	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

	steps := []struct {
		name   string
		change func()
		full   bool // a full reload (Run's periodic one) rather than Sync
		want   statsWant
	}{
		{name: "before any change", change: func() {}, want: statsWant{2, 1, 2}},
		{name: "upgrading", change: func() { src.put(upgrading("acme", blue)) }, want: statsWant{4, 2, 4}},
		{name: "new endpoint", change: func() { src.put(ready("acme", green)) }, want: statsWant{6, 3, 6}},
		{name: "full reload", change: func() {}, full: true, want: statsWant{8, 4, 8}},
		{name: "not serving", change: func() { src.put(inPhase("acme", stamp.PhaseProvisioning)) }, want: statsWant{10, 6, 8}},
		{name: "gone", change: func() { src.remove("acme") }, want: statsWant{}},
		{name: "created again", change: func() { src.put(ready("acme", blue)) }, want: statsWant{2, 1, 2}},
		{
			name: "deleted and created again between two syncs",
			change: func() {
				again := ready("acme", green)
				again.CreatedAt = created
				src.put(again)
			},
			want: statsWant{2, 1, 2},
		},
		{
			name: "full reload after deleted and created again",
			change: func() {
				again := ready("acme", blue)
				again.CreatedAt = created.Add(time.Hour)
				src.put(again)
			},
			full: true,
			want: statsWant{2, 1, 2},
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.change()
			syncRoutes := r.Sync
			if st.full {
				syncRoutes = r.fullSync
			}
			if err := syncRoutes(ctx); err != nil {
				t.Fatal(err)
			}
			// One good answer and one 5xx (or two 503s, or two 404s).
			get(t, srv, "acme.localhost", "/", "")
			get(t, srv, "acme.localhost", "/?status=500", "")
			checkStats(t, r, "acme", st.want)
		})
	}
}

func TestStatsClientHangsUp(t *testing.T) {
	held, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	slow := holdingBackend(t, "slow", held, release)
	src := newFakeSource()
	src.put(ready("acme", slow))
	r, srv := serve(t, src)

	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/hold", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "acme.localhost"
	done := make(chan error, 1)
	go func() {
		resp, err := srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	<-held
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want the client's request canceled", err)
	}
	checkStats(t, r, "acme", statsWant{requests: 1, errors5xx: 0, timed: 1})
	waitFor(t, "nothing in flight", func() bool { return r.InFlight(slow) == 0 })
}

// TestInFlightDrain walks a blue/green upgrade: a request held by the old
// version stays counted against its endpoint after the route has moved to
// the new one, until it is answered.
func TestInFlightDrain(t *testing.T) {
	held, release := make(chan struct{}), make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	blue := holdingBackend(t, "blue", held, release)
	green := holdingBackend(t, "green", held, release)
	src := newFakeSource()
	src.put(ready("acme", blue))
	r, srv := serve(t, src)
	t.Cleanup(releaseOnce) // last registered, so it runs before the servers close
	ctx := context.Background()

	const holds = 3
	answers := make(chan answer, holds)
	for range holds {
		go func() {
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/hold", nil)
			if err != nil {
				panic(err) // a constant URL cannot fail to parse
			}
			req.Host = "acme.localhost"
			resp, err := srv.Client().Do(req)
			if err != nil {
				answers <- answer{body: err.Error()}
				return
			}
			resp.Body.Close()
			answers <- answer{status: resp.StatusCode}
		}()
	}
	for range holds {
		<-held
	}
	// Each request is counted before it is sent, so the backend having
	// them all means the gauge does too.
	if got := r.InFlight(blue); got != holds {
		t.Fatalf("with %d requests held by blue: got InFlight %d, want %d", holds, got, holds)
	}

	src.put(upgrading("acme", blue))
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if a := get(t, srv, "acme.localhost", "/", ""); a.status != 200 || a.body != "blue" {
		t.Errorf("while upgrading: got %d %q, want 200 %q", a.status, a.body, "blue")
	}
	src.put(ready("acme", green))
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if a := get(t, srv, "acme.localhost", "/", ""); a.status != 200 || a.body != "green" {
		t.Errorf("after the switch: got %d %q, want 200 %q", a.status, a.body, "green")
	}
	// The client can read green's answer a moment before the proxy's
	// handler returns and counts it out: wait for that, briefly.
	for deadline := time.Now().Add(2 * time.Second); r.InFlight(green) != 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if got, want := [2]int{r.InFlight(blue), r.InFlight(green)}, [2]int{holds, 0}; got != want {
		t.Errorf("after the switch: got InFlight of blue, green %v, want %v", got, want)
	}

	releaseOnce()
	for range holds {
		if a := <-answers; a.status != 200 {
			t.Errorf("held request: got status %d (%s), want 200", a.status, a.body)
		}
	}
	waitFor(t, "blue to drain", func() bool { return r.InFlight(blue) == 0 })
	checkStats(t, r, "acme", statsWant{requests: holds + 2, timed: holds + 2})

	// Idle and named by no route, blue's gauge goes at the next swap.
	if err := r.SyncTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	r.gaugesMu.Lock()
	_, kept := r.gauges[blue]
	n := len(r.gauges)
	r.gaugesMu.Unlock()
	if kept || n != 1 {
		t.Errorf("after blue drained: got blue's gauge kept %v, %d gauges, want false, 1 (green's)", kept, n)
	}
}

func TestInFlightUnknownEndpoint(t *testing.T) {
	src := newFakeSource()
	src.put(ready("acme", statusBackend(t, "acme")))
	r, _ := serve(t, src)
	if got := r.InFlight("127.0.0.1:1"); got != 0 {
		t.Errorf("got %d, want 0", got)
	}
}

func TestStatsConcurrent(t *testing.T) {
	src := newFakeSource()
	a, b := statusBackend(t, "a"), statusBackend(t, "b")
	src.put(ready("acme", a))
	r, srv := serve(t, src)
	ctx := context.Background()

	const clients, requests, changes = 4, 50, 30
	var wg sync.WaitGroup
	errs := make(chan error, clients*requests+changes)
	for c := range clients {
		wg.Go(func() {
			for i := range requests {
				path := "/"
				if i%2 == 1 {
					path = "/?status=500"
				}
				req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
				if err != nil {
					errs <- err
					return
				}
				req.Host = "acme.localhost"
				resp, err := srv.Client().Do(req)
				if err != nil {
					errs <- fmt.Errorf("client %d request %d: %w", c, i, err)
					continue
				}
				resp.Body.Close()
				_ = r.Stats("acme") // readers race with the writers
				_ = r.InFlight(a)
			}
		})
	}
	wg.Go(func() {
		for i := range changes {
			// The tenant moves between endpoints and upgrades, always serving.
			switch i % 3 {
			case 0:
				src.put(upgrading("acme", a))
			case 1:
				src.put(ready("acme", b, a))
			default:
				src.put(ready("acme", a))
			}
			if err := r.Sync(ctx); err != nil {
				errs <- err
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	const total = clients * requests
	checkStats(t, r, "acme", statsWant{requests: total, errors5xx: total / 2, timed: total})
	waitFor(t, "nothing in flight", func() bool { return r.InFlight(a) == 0 && r.InFlight(b) == 0 })
}

func TestLatencyBuckets(t *testing.T) {
	bounds := LatencyBounds()
	last := len(bounds) - 1
	tests := []struct {
		took       time.Duration
		wantBucket int // the first bucket that counts it; len(bounds): none
	}{
		{0, 0},
		{time.Microsecond, 0},
		{5 * time.Millisecond, 0},
		{5*time.Millisecond + 1, 1},
		{time.Second, 7},
		{bounds[last], last},
		{bounds[last] + 1, len(bounds)},
		{time.Hour, len(bounds)},
	}
	for _, tt := range tests {
		t.Run(tt.took.String(), func(t *testing.T) {
			var s tenantStats
			s.observe(tt.took)
			l := s.snapshot().Latency
			for i, n := range l.Buckets {
				want := uint64(0)
				if i >= tt.wantBucket {
					want = 1
				}
				if n != want {
					t.Errorf("bucket le %v: got %d, want %d", bounds[i], n, want)
				}
			}
			if l.Count != 1 {
				t.Errorf("got count %d, want 1", l.Count)
			}
			if want := tt.took.Round(time.Microsecond).Seconds(); l.SumSeconds != want {
				t.Errorf("got sum %vs, want %vs", l.SumSeconds, want)
			}
		})
	}
}
