package metrics

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/httpapi"
	"github.com/stamphq/stamp/router"
	"github.com/stamphq/stamp/store/sqlite"
)

var quiet = slog.New(slog.DiscardHandler)

// openStore opens a SQLite store in a temp dir, closed at cleanup.
func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "stamp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// fakeReconciler stands in for *reconcile.Reconciler, whose queue and
// leases only move while it runs against a driver.
type fakeReconciler struct {
	queue int
	held  []string
}

func (f fakeReconciler) QueueLen() int                  { return f.queue }
func (f fakeReconciler) Held() []string                 { return f.held }
func (f fakeReconciler) RuntimeOf(tenant string) string { return tenant }

// fakeMonitor stands in for *monitor.Monitor: the health of each service
// of each tenant.
type fakeMonitor map[string]map[string]string

// Behind is always 1.5s, as a monitor would report that is 1.5s late.
func (f fakeMonitor) Behind() time.Duration { return 1500 * time.Millisecond }

func (f fakeMonitor) Health(tenant string) (string, map[string]string) {
	services := f[tenant]
	if len(services) == 0 {
		return "", nil
	}
	for _, state := range services {
		if state != stamp.HealthHealthy {
			return stamp.HealthDegraded, services
		}
	}
	return stamp.HealthHealthy, services
}

// fakeDriver stands in for the driver's Observe: restarts by tenant and
// service.
type fakeDriver map[string]map[string]int

func (f fakeDriver) Observe(_ context.Context, tenant string) (*stamp.Observed, error) {
	obs := &stamp.Observed{Tenant: tenant, Services: map[string]*stamp.ServiceObserved{}}
	for service, n := range f[tenant] {
		obs.Services[service] = &stamp.ServiceObserved{Restarts: n}
	}
	return obs, nil
}

// stepClock is a clock that moves only when told.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// backend starts a tenant app that answers /fail with 500 and anything
// else with 200.
func backend(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			http.Error(w, "broken", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// send sends a request and returns its status, failing the test if it
// cannot be sent.
func send(t *testing.T, method, url, host, token string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// scrape GETs url (a /metrics) and parses it with the Prometheus text
// parser.
func scrape(t *testing.T, url, token string) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: status %d: %s", url, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want the text format", ct)
	}
	return parse(t, resp.Body)
}

func parse(t *testing.T, r io.Reader) map[string]*dto.MetricFamily {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("parse the exposition: %v", err)
	}
	return families
}

// series finds the series of family name whose labels include want, or
// fails the test.
func series(t *testing.T, families map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	if m := find(families, name, want); m != nil {
		return m
	}
	t.Fatalf("no series %s%v", name, want)
	return nil
}

// find returns the series of family name whose labels include want, nil if
// there is none.
func find(families map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f := families[name]
	if f == nil {
		return nil
	}
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		ok := true
		for k, v := range want {
			ok = ok && got[k] == v
		}
		if ok {
			return m
		}
	}
	return nil
}

// write reads one metric straight from its instrument.
func write(t *testing.T, m prometheus.Metric) *dto.Metric {
	t.Helper()
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// value is a counter's or gauge's value.
func value(m *dto.Metric) float64 {
	if m.GetCounter() != nil {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}

// labelValues lists the values label takes in family name.
func labelValues(families map[string]*dto.MetricFamily, name, label string) []string {
	var out []string
	for _, m := range families[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				out = append(out, l.GetValue())
			}
		}
	}
	return out
}

// server is an API server and a router on one SQLite store, instrumented
// by one Metrics, each behind real HTTP.
type server struct {
	m      *Metrics
	store  stamp.Store
	router *router.Router
	api    string // base URL
	front  string // base URL of the router
	token  string
}

func newServer(t *testing.T, src Sources) *server {
	t.Helper()
	ctx := context.Background()
	m := New(quiet)
	st := m.WrapStore(openStore(t))
	token := httpapi.NewToken()
	if err := st.CreateToken(ctx, &stamp.Token{ID: "admin", Name: "admin", Role: stamp.RoleAdmin, Hash: httpapi.HashToken(token)}); err != nil {
		t.Fatal(err)
	}
	rt := router.New(router.Config{Source: st, Logger: quiet})
	src.Fleet, src.Router = st, rt
	m.Watch(src)
	api := httptest.NewServer(httpapi.NewServer(httpapi.Config{Store: st, Logger: quiet, Metrics: m}))
	t.Cleanup(api.Close)
	front := httptest.NewServer(rt)
	t.Cleanup(front.Close)
	return &server{m: m, store: st, router: rt, api: api.URL, front: front.URL, token: token}
}

func TestScrapeHoldsEverySeries(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, Sources{
		Reconciler: fakeReconciler{queue: 3, held: []string{"acme"}},
		Monitor:    fakeMonitor{"acme": {"web": stamp.HealthHealthy, "worker": stamp.HealthDown}},
		Driver:     fakeDriver{"acme": {"web": 2, "worker": 0}},
	})
	for _, tenant := range []*stamp.Tenant{
		{
			Name:   "acme",
			Spec:   stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0", Desired: stamp.DesiredRunning},
			Status: stamp.TenantStatus{Phase: stamp.PhaseReady, Version: "1.0.0", Endpoints: []string{backend(t)}},
		},
		{
			Name:   "globex",
			Spec:   stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0", Desired: stamp.DesiredRunning},
			Status: stamp.TenantStatus{Phase: stamp.PhaseProvisioning},
		},
		{ // a stamp of the warm pool: counted apart, not as a tenant
			Name:   stamp.PoolPrefix + "0a1b2c3d4e",
			Spec:   stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0", Plan: "starter", Desired: stamp.DesiredRunning, Pooled: true},
			Status: stamp.TenantStatus{Phase: stamp.PhaseReady, Version: "1.0.0"},
		},
	} {
		if err := s.store.CreateTenant(ctx, tenant); err != nil {
			t.Fatal(err)
		}
	}
	err := s.store.CreateIncident(ctx, &stamp.Incident{
		ID: "inc-1", Tenant: "acme", Service: "worker", Cause: stamp.CauseProbe,
		State: stamp.IncidentOpen, OpenedAt: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.router.Sync(ctx); err != nil {
		t.Fatal(err)
	}

	// API calls: two listings, two lookups of tenants that do not exist
	// (one route, however many names), a path no route matches, and a
	// scrape without the token.
	for _, c := range []struct {
		method, path, token string
		want                int
	}{
		{"GET", "/v1/tenants", s.token, 200},
		{"GET", "/v1/tenants", s.token, 200},
		{"GET", "/v1/tenants/nobody", s.token, 404},
		{"GET", "/v1/tenants/nobody-else", s.token, 404},
		{"GET", "/no/such/path", s.token, 404},
		{"GET", "/metrics", "", 401},
	} {
		if got := send(t, c.method, s.api+c.path, "", c.token); got != c.want {
			t.Fatalf("%s %s: status %d, want %d", c.method, c.path, got, c.want)
		}
	}
	// Tenant traffic: three answers, one of them a 500.
	for _, path := range []string{"/", "/", "/fail"} {
		send(t, "GET", s.front+path, "acme.localhost", "")
	}
	// The router times a request once its answer is sent: wait for that.
	deadline := time.Now().Add(10 * time.Second)
	for s.router.Stats("acme").Latency.Count < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	s.m.ObservePass("provision", "done", 1500*time.Millisecond)

	families := scrape(t, s.api+"/metrics", s.token)

	counts := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"stamp_api_requests_total", map[string]string{"route": "GET /v1/tenants", "code": "200"}, 2},
		{"stamp_api_requests_total", map[string]string{"route": "GET /v1/tenants/{name}", "code": "404"}, 2},
		{"stamp_api_requests_total", map[string]string{"route": "unmatched", "code": "404"}, 1},
		{"stamp_api_requests_total", map[string]string{"route": "GET /metrics", "code": "401"}, 1},
		{"stamp_reconcile_queue_depth", nil, 3},
		{"stamp_reconcile_tenants_held", nil, 1},
		{"stamp_monitor_behind_seconds", nil, 1.5},
		{"stamp_tenants", map[string]string{"phase": "ready"}, 1},
		{"stamp_pool_stamps", map[string]string{"blueprint": "ledger", "version": "1.0.0", "plan": "starter", "phase": "ready"}, 1},
		{"stamp_tenants", map[string]string{"phase": "provisioning"}, 1},
		{"stamp_tenants", map[string]string{"phase": "failed"}, 0},
		{"stamp_tenants_by_version", map[string]string{"blueprint": "ledger", "version": "1.0.0"}, 1},
		{"stamp_tenants_by_version", map[string]string{"blueprint": "ledger", "version": "none"}, 1},
		{"stamp_incidents_open", map[string]string{"cause": "probe"}, 1},
		{"stamp_incidents_open", map[string]string{"cause": "exit"}, 0},
		{"stamp_tenant_up", map[string]string{"tenant": "acme"}, 0},
		{"stamp_tenant_service_up", map[string]string{"tenant": "acme", "service": "web"}, 1},
		{"stamp_tenant_service_up", map[string]string{"tenant": "acme", "service": "worker"}, 0},
		{"stamp_tenant_restarts_total", map[string]string{"tenant": "acme", "service": "web"}, 2},
		{"stamp_tenant_requests_total", map[string]string{"tenant": "acme"}, 3},
		{"stamp_tenant_requests_5xx_total", map[string]string{"tenant": "acme"}, 1},
		{"stamp_tenant_requests_total", map[string]string{"tenant": "globex"}, 0},
		{"stamp_store_errors_total", map[string]string{"method": "GetTenant", "code": "not_found"}, 2},
	}
	for _, c := range counts {
		if got := value(series(t, families, c.name, c.labels)); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}

	histograms := []struct {
		name   string
		labels map[string]string
		want   uint64 // samples at least
	}{
		{"stamp_api_request_duration_seconds", map[string]string{"route": "GET /v1/tenants", "code": "200"}, 2},
		{"stamp_tenant_request_duration_seconds", map[string]string{"tenant": "acme"}, 3},
		{"stamp_reconcile_pass_duration_seconds", map[string]string{"kind": "provision", "outcome": "done"}, 1},
		{"stamp_store_duration_seconds", map[string]string{"method": "ListTenants"}, 1},     // the fleet's figures
		{"stamp_store_duration_seconds", map[string]string{"method": "ListTenantsPage"}, 2}, // the API's listings
		{"stamp_store_duration_seconds", map[string]string{"method": "TokenByHash"}, 4},
		{"stamp_store_duration_seconds", map[string]string{"method": "DeleteWebhook"}, 0},
	}
	for _, c := range histograms {
		h := series(t, families, c.name, c.labels).GetHistogram()
		if h.GetSampleCount() < c.want {
			t.Errorf("%s%v has %d samples, want at least %d", c.name, c.labels, h.GetSampleCount(), c.want)
		}
		if len(h.GetBucket()) == 0 {
			t.Errorf("%s%v has no buckets", c.name, c.labels)
		}
	}
	pass := series(t, families, "stamp_reconcile_pass_duration_seconds", nil).GetHistogram()
	if pass.GetSampleSum() != 1.5 {
		t.Errorf("pass duration sum %v, want 1.5", pass.GetSampleSum())
	}
	// The router's histogram is passed through bucket by bucket.
	st := s.router.Stats("acme")
	h := series(t, families, "stamp_tenant_request_duration_seconds", map[string]string{"tenant": "acme"}).GetHistogram()
	bounds := router.LatencyBounds()
	buckets := h.GetBucket()
	if len(buckets) < len(bounds) {
		t.Fatalf("%d latency buckets, want %d", len(buckets), len(bounds))
	}
	for i, b := range buckets[:len(bounds)] {
		if b.GetUpperBound() != bounds[i].Seconds() || b.GetCumulativeCount() != st.Latency.Buckets[i] {
			t.Errorf("bucket %d: le %v count %d, want le %v count %d", i, b.GetUpperBound(), b.GetCumulativeCount(), bounds[i].Seconds(), st.Latency.Buckets[i])
		}
	}
	if h.GetSampleCount() != st.Latency.Count || h.GetSampleSum() != st.Latency.SumSeconds {
		t.Errorf("latency count %d sum %v, want %d and %v", h.GetSampleCount(), h.GetSampleSum(), st.Latency.Count, st.Latency.SumSeconds)
	}

	// Every store method has its series from the start; no route label
	// comes from a path.
	if got, want := len(families["stamp_store_duration_seconds"].GetMetric()), len(storeMethods); got != want {
		t.Errorf("%d store method series, want %d", got, want)
	}
	for _, route := range labelValues(families, "stamp_api_requests_total", "route") {
		if strings.Contains(route, "nobody") || strings.Contains(route, "/no/such") {
			t.Errorf("route label %q comes from a path", route)
		}
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if families[name] == nil {
			t.Errorf("no %s", name)
		}
	}
}

func TestTenantsOthersHoldHaveNoHealthSeries(t *testing.T) {
	// acme is held by another server: this one routes its traffic but
	// neither watches its health nor its processes.
	s := newServer(t, Sources{
		Reconciler: fakeReconciler{},
		Monitor:    fakeMonitor{"acme": {"web": stamp.HealthHealthy}},
		Driver:     fakeDriver{"acme": {"web": 1}},
	})
	err := s.store.CreateTenant(context.Background(), &stamp.Tenant{
		Name:   "acme",
		Spec:   stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0", Desired: stamp.DesiredRunning},
		Status: stamp.TenantStatus{Phase: stamp.PhaseReady, Version: "1.0.0", Endpoints: []string{backend(t)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.router.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	families := scrape(t, s.api+"/metrics", s.token)
	for _, name := range []string{"stamp_tenant_up", "stamp_tenant_service_up", "stamp_tenant_restarts_total"} {
		if m := find(families, name, map[string]string{"tenant": "acme"}); m != nil {
			t.Errorf("%s has a series for a tenant this server does not hold: %v", name, m)
		}
	}
	series(t, families, "stamp_tenant_requests_total", map[string]string{"tenant": "acme"})
}

func TestFleetListingIsReused(t *testing.T) {
	clock := &stepClock{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	m := New(quiet)
	st := m.WrapStore(openStore(t))
	m.Watch(Sources{Fleet: st, FleetEvery: time.Second, Clock: clock})
	// Read from the histogram itself: a scrape gathers it concurrently
	// with the collector that lists, so its own listing may or may not
	// be in what it serves.
	listings := func() uint64 {
		return write(t, m.storeCalls.WithLabelValues("ListTenants").(prometheus.Histogram)).GetHistogram().GetSampleCount()
	}
	steps := []struct {
		advance time.Duration
		want    uint64 // ListTenants calls after a scrape
	}{
		{0, 1},                      // the first scrape lists
		{0, 1},                      // at the same instant: reused
		{999 * time.Millisecond, 1}, // within FleetEvery: reused
		{time.Millisecond, 2},       // FleetEvery after the first: listed again
		{500 * time.Millisecond, 2},
		{time.Hour, 3},
	}
	for i, step := range steps {
		clock.add(step.advance)
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		series(t, parse(t, rec.Body), "stamp_tenants", map[string]string{"phase": "ready"})
		if got := listings(); got != step.want {
			t.Errorf("step %d: %d listings, want %d", i, got, step.want)
		}
	}
}

func TestFleetListingFailsAlone(t *testing.T) {
	m := New(quiet)
	broken := openStore(t)
	broken.Close() // every listing fails
	m.Watch(Sources{Fleet: m.WrapStore(broken), Reconciler: fakeReconciler{queue: 1}})
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, want 200 with what could be read: %s", rec.Code, rec.Body)
	}
	families := parse(t, rec.Body)
	if families["stamp_tenants"] != nil {
		t.Error("stamp_tenants served although the listing failed")
	}
	if got := value(series(t, families, "stamp_reconcile_queue_depth", nil)); got != 1 {
		t.Errorf("queue depth %v, want 1", got)
	}
	// Read from the counter itself: the scrape gathered it concurrently
	// with the listing that failed.
	if got := write(t, m.storeErrors.WithLabelValues("ListTenants", stamp.EINTERNAL)).GetCounter().GetValue(); got != 1 {
		t.Errorf("ListTenants errors %v, want 1", got)
	}
}
