package metrics

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/router"
)

// Fleet is where the fleet's figures are listed from; stamp.Store
// satisfies it.
type Fleet interface {
	// ListTenants returns every tenant.
	ListTenants(ctx context.Context) ([]*stamp.Tenant, error)
	// ListIncidents returns the incidents f selects.
	ListIncidents(ctx context.Context, f stamp.IncidentFilter) ([]*stamp.Incident, error)
}

// Traffic is the router's per-tenant counters; *router.Router satisfies it.
type Traffic interface {
	// AllStats returns the counters of every tenant the router knows.
	AllStats() map[string]router.TenantStats
}

// Reconciler is what the reconciler tells of its work;
// *reconcile.Reconciler satisfies it.
type Reconciler interface {
	// QueueLen returns how many tenants wait for a worker.
	QueueLen() int
	// Held returns the tenants whose lease this process holds.
	Held() []string
	// RuntimeOf returns the name the driver knows a held tenant by.
	RuntimeOf(tenant string) string
}

// HealthReader is the monitor's view of a tenant; *monitor.Monitor
// satisfies it.
type HealthReader interface {
	// Health returns the tenant's health and each service's, or "" if
	// the tenant is not watched.
	Health(tenant string) (string, map[string]string)
	// Behind returns how long past its due time the most overdue check
	// is now.
	Behind() time.Duration
}

// Observer is the driver's view of a tenant; stamp.Driver satisfies it.
type Observer interface {
	// Observe returns what runs for tenant.
	Observe(ctx context.Context, tenant string) (*stamp.Observed, error)
}

// Sources are the running parts the collector reads at each scrape. A nil
// source leaves its metrics out.
type Sources struct {
	// Fleet gives the tenants by phase and version and the open
	// incidents, listed at most once per FleetEvery.
	Fleet Fleet
	// Router gives each tenant's requests, 5xx and latency.
	Router Traffic
	// Reconciler gives the queue depth and the tenants this process
	// holds: only those get up and restarts series, since only their
	// health and processes are this process's to see.
	Reconciler Reconciler
	// Monitor gives the held tenants' health.
	Monitor HealthReader
	// Driver gives the held tenants' restarts.
	Driver Observer
	// FleetEvery is how long a fleet listing is reused; default 1s, so
	// scrapers in a hurry do not each list 10,000 tenants.
	FleetEvery time.Duration
	// Clock times FleetEvery; default stamp.SystemClock{}.
	Clock stamp.Clock
}

const (
	// maxIncidents bounds the open incidents counted: the stores list no
	// more in one call.
	maxIncidents = 5000
	// scrapeTimeout bounds the store and driver reads of one scrape.
	scrapeTimeout = 10 * time.Second
)

// phases are the values of the phase label that are always present.
var phases = []string{stamp.PhaseProvisioning, stamp.PhaseReady, stamp.PhaseUpgrading, stamp.PhaseSleeping, stamp.PhaseSuspended, stamp.PhaseRestoring, stamp.PhaseSoftDeleted, stamp.PhaseFailed, stamp.PhaseDeleting}

// causes are the values of the cause label that are always present.
var causes = []string{stamp.CauseExit, stamp.CauseProbe, stamp.CauseOOM, stamp.CauseStep}

// collector reads the fleet's and the tenants' figures when scraped.
type collector struct {
	src Sources

	queueDepth, held, behind       *prometheus.Desc
	tenants, versions, incidents   *prometheus.Desc
	pooled                         *prometheus.Desc
	up, serviceUp, restarts        *prometheus.Desc
	requests, requests5xx, latency *prometheus.Desc
	latencyBounds                  []float64 // router.LatencyBounds in seconds

	mu       sync.Mutex // serialises fleet listings; guards what follows
	listedAt time.Time
	fleet    *fleetCounts // the last listing; nil if it failed
	listErr  error
}

// fleetCounts are the figures of one fleet listing.
type fleetCounts struct {
	byPhase   map[string]float64
	byVersion map[blueprintVersion]float64
	byCause   map[string]float64
	pooled    map[pooledStamps]float64
}

// pooledStamps is the key of pool_stamps.
type pooledStamps struct{ blueprint, version, plan, phase string }

// blueprintVersion is the key of tenants_by_version.
type blueprintVersion struct{ blueprint, version string }

// newCollector returns a collector of src, filling in defaults.
func newCollector(src Sources) *collector {
	if src.FleetEvery <= 0 {
		src.FleetEvery = time.Second
	}
	if src.Clock == nil {
		src.Clock = stamp.SystemClock{}
	}
	name := func(n string) string { return namespace + "_" + n }
	c := &collector{
		src: src,
		queueDepth: prometheus.NewDesc(name("reconcile_queue_depth"),
			"Tenants waiting for a reconcile worker.", nil, nil),
		held: prometheus.NewDesc(name("reconcile_tenants_held"),
			"Tenants whose lease this server holds: it reconciles and watches them.", nil, nil),
		behind: prometheus.NewDesc(name("monitor_behind_seconds"),
			"How long past its due time the most overdue health check is: up to a tick (0.25s) and a check when the monitor keeps its schedule.", nil, nil),
		tenants: prometheus.NewDesc(name("tenants"),
			"Tenants in the store, by phase.", []string{"phase"}, nil),
		versions: prometheus.NewDesc(name("tenants_by_version"),
			`Tenants in the store, by blueprint and the version their route serves ("none" before they first serve).`, []string{"blueprint", "version"}, nil),
		pooled: prometheus.NewDesc(name("pool_stamps"),
			"Stamps of the warm pools, made ahead for creates to claim, by blueprint version, plan and phase (ready ones can be claimed).", []string{"blueprint", "version", "plan", "phase"}, nil),
		incidents: prometheus.NewDesc(name("incidents_open"),
			"Open (or acknowledged) incidents, by cause.", []string{"cause"}, nil),
		up: prometheus.NewDesc(name("tenant_up"),
			"1 if every service of the tenant is healthy, 0 if not; only for tenants this server holds.", []string{"tenant"}, nil),
		serviceUp: prometheus.NewDesc(name("tenant_service_up"),
			"1 if the service is healthy, 0 if not; only for tenants this server holds.", []string{"tenant", "service"}, nil),
		restarts: prometheus.NewDesc(name("tenant_restarts_total"),
			"Restarts of the service's processes since this server began watching them; only for tenants this server holds.", []string{"tenant", "service"}, nil),
		requests: prometheus.NewDesc(name("tenant_requests_total"),
			"Requests this server's router answered for the tenant, whatever their status.", []string{"tenant"}, nil),
		requests5xx: prometheus.NewDesc(name("tenant_requests_5xx_total"),
			"Requests this server's router answered for the tenant with a 5xx, the app's or its own.", []string{"tenant"}, nil),
		latency: prometheus.NewDesc(name("tenant_request_duration_seconds"),
			"How long requests proxied to the tenant took, until the whole answer was copied.", []string{"tenant"}, nil),
	}
	for _, d := range router.LatencyBounds() {
		c.latencyBounds = append(c.latencyBounds, d.Seconds())
	}
	return c
}

// Describe sends every metric's description.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.queueDepth, c.held, c.behind, c.tenants, c.versions, c.incidents, c.pooled,
		c.up, c.serviceUp, c.restarts, c.requests, c.requests5xx, c.latency,
	} {
		ch <- d
	}
}

// Collect reads every source and sends what it read. A source that fails
// sends an invalid metric, which the handler logs; the rest is served.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	if c.src.Fleet != nil {
		c.collectFleet(ctx, ch)
	}
	if c.src.Router != nil {
		for tenant, st := range c.src.Router.AllStats() {
			ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(st.Requests), tenant)
			ch <- prometheus.MustNewConstMetric(c.requests5xx, prometheus.CounterValue, float64(st.Errors5xx), tenant)
			buckets := make(map[float64]uint64, len(c.latencyBounds))
			for i, le := range c.latencyBounds {
				buckets[le] = st.Latency.Buckets[i]
			}
			ch <- prometheus.MustNewConstHistogram(c.latency, st.Latency.Count, st.Latency.SumSeconds, buckets, tenant)
		}
	}
	if c.src.Reconciler == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.queueDepth, prometheus.GaugeValue, float64(c.src.Reconciler.QueueLen()))
	held := c.src.Reconciler.Held()
	ch <- prometheus.MustNewConstMetric(c.held, prometheus.GaugeValue, float64(len(held)))
	if c.src.Monitor != nil {
		ch <- prometheus.MustNewConstMetric(c.behind, prometheus.GaugeValue, c.src.Monitor.Behind().Seconds())
	}
	for _, tenant := range held {
		if c.src.Monitor != nil {
			c.collectHealth(ch, tenant)
		}
		if c.src.Driver != nil {
			c.collectRestarts(ctx, ch, tenant)
		}
	}
}

// collectHealth sends the up series of a held tenant the monitor watches.
func (c *collector) collectHealth(ch chan<- prometheus.Metric, tenant string) {
	health, services := c.src.Monitor.Health(tenant)
	if health == "" {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, boolValue(health == stamp.HealthHealthy), tenant)
	for service, state := range services {
		ch <- prometheus.MustNewConstMetric(c.serviceUp, prometheus.GaugeValue, boolValue(state == stamp.HealthHealthy), tenant, service)
	}
}

// collectRestarts sends the restart counters of a held tenant's services.
func (c *collector) collectRestarts(ctx context.Context, ch chan<- prometheus.Metric, tenant string) {
	obs, err := c.src.Driver.Observe(ctx, c.src.Reconciler.RuntimeOf(tenant))
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.restarts, fmt.Errorf("observe tenant %q: %w", tenant, err))
		return
	}
	for service, so := range obs.Services {
		ch <- prometheus.MustNewConstMetric(c.restarts, prometheus.CounterValue, float64(so.Restarts), tenant, service)
	}
}

// collectFleet sends the fleet's figures from a listing at most
// FleetEvery old.
func (c *collector) collectFleet(ctx context.Context, ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.src.Clock.Now(); c.listedAt.IsZero() || now.Sub(c.listedAt) >= c.src.FleetEvery {
		c.fleet, c.listErr = c.list(ctx)
		c.listedAt = now
	}
	if c.listErr != nil {
		ch <- prometheus.NewInvalidMetric(c.tenants, c.listErr)
		return
	}
	for phase, n := range c.fleet.byPhase {
		ch <- prometheus.MustNewConstMetric(c.tenants, prometheus.GaugeValue, n, phase)
	}
	for bv, n := range c.fleet.byVersion {
		ch <- prometheus.MustNewConstMetric(c.versions, prometheus.GaugeValue, n, bv.blueprint, bv.version)
	}
	for cause, n := range c.fleet.byCause {
		ch <- prometheus.MustNewConstMetric(c.incidents, prometheus.GaugeValue, n, cause)
	}
	for k, n := range c.fleet.pooled {
		ch <- prometheus.MustNewConstMetric(c.pooled, prometheus.GaugeValue, n, k.blueprint, k.version, k.plan, k.phase)
	}
}

// list reads the tenants and the open incidents and counts them.
func (c *collector) list(ctx context.Context) (*fleetCounts, error) {
	tenants, err := c.src.Fleet.ListTenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	incidents, err := c.src.Fleet.ListIncidents(ctx, stamp.IncidentFilter{Open: true, Limit: maxIncidents})
	if err != nil {
		return nil, fmt.Errorf("list open incidents: %w", err)
	}
	f := &fleetCounts{
		byPhase:   make(map[string]float64, len(phases)),
		byVersion: map[blueprintVersion]float64{},
		byCause:   make(map[string]float64, len(causes)),
		pooled:    map[pooledStamps]float64{},
	}
	for _, p := range phases {
		f.byPhase[p] = 0
	}
	for _, cause := range causes {
		f.byCause[cause] = 0
	}
	for _, t := range tenants {
		if t.Spec.Pooled {
			// The warm pool's stamps are no one's tenants yet.
			f.pooled[pooledStamps{t.Spec.Blueprint, t.Spec.Version, t.Spec.Plan, cmp.Or(t.Status.Phase, "unknown")}]++
			continue
		}
		phase := t.Status.Phase
		if phase == "" {
			phase = "unknown"
		}
		f.byPhase[phase]++
		version := t.Status.Version
		if version == "" {
			version = "none"
		}
		f.byVersion[blueprintVersion{t.Spec.Blueprint, version}]++
	}
	for _, i := range incidents {
		f.byCause[i.Cause]++
	}
	return f, nil
}

// boolValue is 1 for true and 0 for false.
func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
