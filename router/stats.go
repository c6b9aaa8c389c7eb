package router

import (
	"sync/atomic"
	"time"
)

// latencyBounds are the upper bounds of the latency buckets, the Prometheus
// client's defaults: they span a quick API call to a slow page.
var latencyBounds = [...]time.Duration{
	5 * time.Millisecond,
	10 * time.Millisecond,
	25 * time.Millisecond,
	50 * time.Millisecond,
	100 * time.Millisecond,
	250 * time.Millisecond,
	500 * time.Millisecond,
	time.Second,
	2500 * time.Millisecond,
	5 * time.Second,
	10 * time.Second,
}

// LatencyBounds returns the upper bounds of Latency.Buckets, shortest first.
func LatencyBounds() [len(latencyBounds)]time.Duration { return latencyBounds }

// TenantStats are a tenant's counters, cumulative since the router first
// loaded the tenant. They survive route changes (an upgrade, new endpoints)
// and are dropped when the tenant is gone; a tenant created again under the
// same name starts from zero.
//
// Only requests whose Host names a tenant the route table knows are
// counted: a 404 for an unknown name, or a 503 before the first Sync, is
// no tenant's answer.
type TenantStats struct {
	// Requests counts the tenant's answers: every proxied request whatever
	// its status, and the router's own 502s and 503s. A request whose
	// client hung up before the backend answered counts here too.
	Requests uint64
	// Errors5xx counts those of them with a 5xx status, the backend's or
	// the router's own. It never exceeds Requests.
	Errors5xx uint64
	// Latency times the requests proxied to the tenant's endpoints (the
	// router's own 503s are not), each until its whole answer has been
	// copied, so a stream counts its whole life.
	Latency Latency
}

// Latency is a histogram of request durations in the shape of a Prometheus
// histogram.
type Latency struct {
	// Buckets[i] counts the requests that took at most LatencyBounds()[i];
	// like Prometheus' le buckets, each includes the ones before it.
	Buckets [len(latencyBounds)]uint64
	// Count counts every request timed, those slower than the last bound
	// included.
	Count uint64
	// SumSeconds is their total duration, in seconds (to the microsecond).
	SumSeconds float64
}

// tenantStats are the live counters behind TenantStats, updated by the hot
// path with atomics alone.
type tenantStats struct {
	requests  atomic.Uint64
	errors5xx atomic.Uint64
	// latency[i] counts requests in the bucket of latencyBounds[i] alone;
	// the last element counts those slower than every bound.
	latency [len(latencyBounds) + 1]atomic.Uint64
	// latencyMicros sums durations in microseconds, which overflows after
	// half a million years of request time rather than the 292 of a
	// time.Duration, which a few thousand long-lived streams could reach.
	latencyMicros atomic.Uint64
	// last is when the tenant last had a request, in Unix milliseconds,
	// kept to the nearest activityGrain so that busy tenants' requests
	// seldom write it.
	last atomic.Int64
}

// activityGrain is how stale tenantStats.last may be.
const activityGrain = 100 * time.Millisecond

// touch records a request to the tenant now.
func (s *tenantStats) touch() {
	now := time.Now().UnixMilli()
	if now-s.last.Load() >= activityGrain.Milliseconds() {
		s.last.Store(now)
	}
}

// lastRequest is when the tenant last had a request; zero if never.
func (s *tenantStats) lastRequest() time.Time {
	if ms := s.last.Load(); ms != 0 {
		return time.UnixMilli(ms)
	}
	return time.Time{}
}

// answered counts an answer with status.
func (s *tenantStats) answered(status int) {
	// requests before errors5xx, and snapshot reads them the other way
	// round: a snapshot never sees more errors than requests.
	s.requests.Add(1)
	if status >= 500 {
		s.errors5xx.Add(1)
	}
}

// hungUp counts a request whose client left before it was answered.
func (s *tenantStats) hungUp() { s.requests.Add(1) }

// observe records one request that took d.
func (s *tenantStats) observe(d time.Duration) {
	i := 0
	for i < len(latencyBounds) && d > latencyBounds[i] {
		i++
	}
	s.latency[i].Add(1)
	s.latencyMicros.Add(uint64((d + time.Microsecond/2) / time.Microsecond))
}

// snapshot reads the counters. They are read one at a time while requests
// go on, so a snapshot may be a request or so behind in some of them.
func (s *tenantStats) snapshot() TenantStats {
	var st TenantStats
	st.Errors5xx = s.errors5xx.Load()
	st.Requests = s.requests.Load()
	for i := range s.latency {
		st.Latency.Count += s.latency[i].Load()
		if i < len(st.Latency.Buckets) {
			st.Latency.Buckets[i] = st.Latency.Count
		}
	}
	st.Latency.SumSeconds = float64(s.latencyMicros.Load()) / 1e6
	return st
}

// Stats returns the counters of the named tenant, zero if the route table
// does not know it. It takes no lock and may be called at any rate.
func (r *Router) Stats(tenant string) TenantStats {
	routes := r.routes.Load()
	if routes == nil {
		return TenantStats{}
	}
	rt := (*routes)[tenant]
	if rt == nil {
		return TenantStats{}
	}
	return rt.stats.snapshot()
}

// LastRequest returns when tenant last had a request through this router
// (to the nearest tenth of a second), now if one is in flight (a stream,
// a long poll: the tenant is in use), zero if none since it loaded the
// tenant. It takes no lock.
func (r *Router) LastRequest(tenant string) time.Time {
	routes := r.routes.Load()
	if routes == nil {
		return time.Time{}
	}
	if rt := (*routes)[tenant]; rt != nil {
		return rt.lastActive(time.Now())
	}
	return time.Time{}
}

// ActiveSince returns the tenants that had a request through this router
// after since, or have one in flight, with the time of their last (now
// for one in flight).
func (r *Router) ActiveSince(since time.Time) map[string]time.Time {
	active := map[string]time.Time{}
	routes := r.routes.Load()
	if routes == nil {
		return active
	}
	now := time.Now()
	for name, rt := range *routes {
		if last := rt.lastActive(now); last.After(since) {
			active[name] = last
		}
	}
	return active
}

// lastActive is rt's last request, or now while one is in flight.
func (rt *route) lastActive(now time.Time) time.Time {
	for _, t := range rt.targets {
		if t.inFlight.n.Load() > 0 {
			return now
		}
	}
	return rt.stats.lastRequest()
}

// AllStats returns the counters of every tenant the route table knows, by
// name: what Stats returns for each, read in one go for a metrics scrape.
// It takes no lock.
func (r *Router) AllStats() map[string]TenantStats {
	routes := r.routes.Load()
	if routes == nil {
		return map[string]TenantStats{}
	}
	all := make(map[string]TenantStats, len(*routes))
	for name, rt := range *routes {
		all[name] = rt.stats.snapshot()
	}
	return all
}

// gauge counts the requests in flight to one endpoint.
type gauge struct {
	n atomic.Int64
	// seen is the last sweep that found a route naming the endpoint;
	// guarded by Router.gaugesMu.
	seen uint64
}

// InFlight returns how many requests are being proxied to endpoint (a
// host:port of some tenant's status.Endpoints) right now: each counts from
// just before it is sent until its answer has been copied to the client or
// the proxy has given up. Requests that started before the route table
// dropped the endpoint still count, which is what a drain waits for.
//
// A request that read the route table just before a swap may still start
// on an endpoint the swap removed, a moment after it: a drain that reads 0
// right after removing an endpoint should read again shortly before it
// stops the instance.
func (r *Router) InFlight(endpoint string) int {
	r.gaugesMu.Lock()
	g := r.gauges[endpoint]
	r.gaugesMu.Unlock()
	if g == nil {
		return 0
	}
	return int(g.n.Load())
}

// gauge returns the in-flight gauge of endpoint, created if needed.
func (r *Router) gauge(endpoint string) *gauge {
	r.gaugesMu.Lock()
	defer r.gaugesMu.Unlock()
	g := r.gauges[endpoint]
	if g == nil {
		g = new(gauge)
		r.gauges[endpoint] = g
	}
	return g
}

// sweepGauges forgets the gauges of endpoints that table does not name and
// that have nothing in flight. Called after every swap, with r.mu held.
func (r *Router) sweepGauges(table map[string]*route) {
	r.gaugesMu.Lock()
	defer r.gaugesMu.Unlock()
	r.sweeps++
	for _, rt := range table {
		for _, b := range rt.targets {
			b.inFlight.seen = r.sweeps
		}
	}
	for e, g := range r.gauges {
		if g.seen != r.sweeps && g.n.Load() == 0 {
			delete(r.gauges, e)
		}
	}
}
