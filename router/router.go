// Package router is Stamp's data plane: the HTTP front door that sends
// <tenant>.<base-domain> to the tenant's public endpoint. It owns the host
// to tenant mapping, the route table, the reverse proxy and the pages shown
// when a tenant cannot be reached.
//
// Requests are served from an in-memory route table that is swapped
// atomically; Sync and Run keep it up to date from the store's tenants and
// event log. No request touches the store, so tenants keep serving while
// the control plane is down or slow.
//
// The router also counts, per tenant, the answers it gives and how many of
// them were 5xx (Stats), and, per endpoint, the requests being proxied to it
// (InFlight), with atomics the hot path updates without a lock.
package router

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stamphq/stamp"
)

// Source is what the router reads routes from; stamp.Store satisfies it.
type Source interface {
	// ListTenants returns every tenant.
	ListTenants(ctx context.Context) ([]*stamp.Tenant, error)
	// GetTenant returns the tenant or ENOTFOUND.
	GetTenant(ctx context.Context, name string) (*stamp.Tenant, error)
	// ListEvents returns events matching f, oldest first.
	ListEvents(ctx context.Context, f stamp.EventFilter) ([]*stamp.Event, error)
	// LastEventSeq returns the highest event seq, 0 if none.
	LastEventSeq(ctx context.Context) (int64, error)
}

var _ Source = stamp.Store(nil)

// Config configures a Router. Only Source is required.
type Config struct {
	// Source is where routes come from.
	Source Source
	// BaseDomain is the domain tenants live under: tenant acme is served at
	// acme.<BaseDomain>. Default "localhost" (*.localhost is loopback).
	BaseDomain string
	// PollInterval is how often Run reads new events. Default 200ms.
	PollInterval time.Duration
	// Logger receives sync failures (warn) and proxy errors (debug).
	// Default slog.Default().
	Logger *slog.Logger
	// HoldTimeout bounds how long a request to a tenant in the middle of
	// a recreate upgrade (its old version stopped, its new one not yet
	// serving) waits before it is answered 503. Default 30s.
	HoldTimeout time.Duration
	// ResponseTimeout bounds how long the router waits for a tenant's
	// answer to begin (its response headers, counted once the request has
	// been sent) before it answers 504: a stopped or wedged instance
	// accepts connections but never answers. The body that follows is not
	// bounded, so streams and large downloads are not cut. Default 30s.
	// It applies to the default Transport only.
	ResponseTimeout time.Duration
	// Waker wakes a sleeping tenant (scale to zero) when a request
	// reaches it; without one, such a request is answered 503.
	Waker Waker
	// WakeTimeout bounds how long a request to a sleeping tenant waits
	// for it to wake before it is answered 503. Default 60s.
	WakeTimeout time.Duration
	// Woke, if set, is told how long each request that woke a tenant
	// (or shared a wake) waited, from its arrival to the tenant serving,
	// and whether the tenant woke: the cold start a customer sees.
	Woke func(tenant string, wait time.Duration, ok bool)
	// Transport carries proxied requests. Default: an *http.Transport that
	// keeps up to 64 idle connections per tenant endpoint, gives up dialing
	// after 2s, waits ResponseTimeout for an answer's headers, ignores
	// proxy settings from the environment and asks the tenant for no
	// encoding the client did not ask for.
	Transport http.RoundTripper
}

const (
	defaultBaseDomain   = "localhost"
	defaultPollInterval = 200 * time.Millisecond
	// defaultResponseTimeout is ResponseTimeout's default.
	defaultResponseTimeout = 30 * time.Second
	// fullReloadInterval bounds how long a route can stay wrong when an
	// event was read before the tenant write it announces was visible.
	fullReloadInterval = 30 * time.Second
	// retryAfter is the Retry-After, in seconds, of every 503.
	retryAfter = "2"
)

// Router is an http.Handler that proxies each request to the tenant its
// Host names. Create it with New; it routes nothing until the first Sync.
type Router struct {
	src       Source
	suffix    string // "." + base domain, lowercase
	poll      time.Duration
	log       *slog.Logger
	transport http.RoundTripper
	errorLog  *log.Logger // ReverseProxy's own complaints, sent to log at debug
	// holdTimeout bounds a held request's wait (see hold).
	holdTimeout time.Duration
	// responseTimeout bounds the wait for a tenant's response headers.
	responseTimeout time.Duration
	waker           Waker
	wakeTimeout     time.Duration
	onWoke          func(string, time.Duration, bool)
	wakes           wakes

	// routes is the table the hot path reads: tenant name to route. Nil
	// until the first successful Sync. Writers build a new map and swap it.
	// It is also where a tenant's counters live: each new route of a
	// tenant takes over the counters of the one it replaces.
	routes atomic.Pointer[map[string]*route]

	mu  sync.Mutex // serialises syncs; guards seq
	seq int64      // the last event seq whose tenant the table reflects

	// changed is closed, and replaced, whenever the table is swapped:
	// held requests wait on it.
	changedMu sync.Mutex
	changed   chan struct{}

	// gauges are the in-flight counters by endpoint. An endpoint keeps its
	// gauge while a route names it or a request to it is in flight, so a
	// drain can watch an endpoint the table no longer has.
	gaugesMu sync.Mutex
	gauges   map[string]*gauge
	sweeps   uint64 // counts sweepGauges calls; guarded by gaugesMu
}

// route is how the router answers for one tenant.
type route struct {
	basis
	endpoints []string
	stats     *tenantStats  // shared with the tenant's earlier routes
	targets   []target      // one per endpoint; empty while not serving
	next      atomic.Uint64 // turns: the next request goes to targets[next%len]
}

// basis is, with its endpoints, what a route is built from: all newRoute
// reads of a tenant but its name. It must stay comparable with ==, which
// is how newRoute tells that a route can be kept (for createdAt, == is
// stricter than Equal: a difference of representation alone only costs
// a route built anew).
type basis struct {
	phase     string
	deleting  bool
	hold      bool      // requests wait for targets (see holds, sleeps)
	sleeping  bool      // requests wake the tenant (see sleeps)
	message   string    // why a failed tenant failed
	createdAt time.Time // tells a tenant from an earlier one of the same name
}

// basisOf returns what t's route is built from, but its endpoints.
func basisOf(t *stamp.Tenant) basis {
	return basis{
		phase:     t.Status.Phase,
		deleting:  t.Spec.Desired == stamp.DesiredDeleted,
		hold:      holds(t) || sleeps(t),
		sleeping:  sleeps(t),
		message:   t.Status.Message,
		createdAt: t.CreatedAt,
	}
}

// target is one endpoint of a serving tenant.
type target struct {
	proxy    *httputil.ReverseProxy
	inFlight *gauge
}

// New returns a Router for cfg, filling in defaults.
func New(cfg Config) *Router {
	base := strings.ToLower(strings.Trim(cfg.BaseDomain, "."))
	if base == "" {
		base = defaultBaseDomain
	}
	r := &Router{
		src:       cfg.Source,
		suffix:    "." + base,
		poll:      cfg.PollInterval,
		log:       cfg.Logger,
		transport: cfg.Transport,
		gauges:    make(map[string]*gauge),
		changed:   make(chan struct{}),
	}
	r.holdTimeout = cfg.HoldTimeout
	if r.holdTimeout <= 0 {
		r.holdTimeout = defaultHoldTimeout
	}
	r.waker, r.onWoke, r.wakes.calls = cfg.Waker, cfg.Woke, map[string]*wakeCall{}
	r.wakeTimeout = cfg.WakeTimeout
	if r.wakeTimeout <= 0 {
		r.wakeTimeout = defaultWakeTimeout
	}
	if r.poll <= 0 {
		r.poll = defaultPollInterval
	}
	r.responseTimeout = cfg.ResponseTimeout
	if r.responseTimeout <= 0 {
		r.responseTimeout = defaultResponseTimeout
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.transport == nil {
		r.transport = newTransport(r.responseTimeout)
	}
	r.errorLog = slog.NewLogLogger(r.log.Handler(), slog.LevelDebug)
	return r
}

// newTransport is tuned for many tenants on few hosts: the default of 2 idle
// connections per host would make every burst dial anew. It waits at most
// responseTimeout for an answer's headers, and never asks for an encoding
// on its own.
func newTransport(responseTimeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy: nil, // tenant endpoints are local; $HTTP_PROXY must not apply
		DialContext: (&net.Dialer{
			Timeout:   2 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: responseTimeout,
		// Pass the client's Accept-Encoding on as it is: left on, the
		// Transport asks for gzip for a client that did not and inflates
		// the answer itself, which costs CPU and turns an answer of known
		// length into a stream.
		DisableCompression: true,
	}
}

// ServeHTTP routes req by its Host: a single label under the base domain
// names the tenant. A host that names no tenant is 404, a tenant neither
// ready nor upgrading (or being deleted) is 503 with Retry-After, a
// request to a tenant whose recreate upgrade stopped its old version
// waits for the new one (at most HoldTimeout, then 503), one to a
// sleeping tenant wakes it and waits (at most WakeTimeout, then 503), a
// tenant whose
// endpoint refuses the connection is 502, and one that does not begin to
// answer within ResponseTimeout is 504. Everything else is proxied
// untouched but for the X-Forwarded-For, -Host and -Proto headers, which
// the router sets (those sent by the client are dropped: the router is the
// edge). Answers for a tenant the table knows are counted (see Stats).
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	name, ok := r.tenantName(req.Host)
	if !ok {
		writeError(w, req, http.StatusNotFound, stamp.Errorf(stamp.ENOTFOUND, "no tenant at this address"))
		return
	}
	routes := r.routes.Load()
	if routes == nil {
		w.Header().Set("Retry-After", retryAfter)
		writeError(w, req, http.StatusServiceUnavailable, stamp.Errorf(stamp.EUNAVAILABLE, "the router is starting; routes are not loaded yet"))
		return
	}
	rt := (*routes)[name]
	if rt != nil {
		rt.stats.touch()
	}
	switch {
	case rt == nil, len(rt.targets) == 0 && rt.phase == stamp.PhaseSoftDeleted:
		// Deleted and kept for an undelete: to its customers, gone.
		writeError(w, req, http.StatusNotFound, stamp.Errorf(stamp.ENOTFOUND, "tenant %q does not exist", name))
	case len(rt.targets) == 0 && rt.phase == stamp.PhaseSuspended && !rt.deleting:
		rt.stats.answered(http.StatusServiceUnavailable)
		writePage(w, req, http.StatusServiceUnavailable, "Suspended",
			stamp.Errorf(stamp.EUNAVAILABLE, "tenant %q is suspended: its service is paused by its operator, and its data is kept", name))
	case len(rt.targets) == 0 && rt.sleeping:
		r.serveAsleep(w, req, name, rt)
	case len(rt.targets) == 0 && rt.hold:
		r.serveHeld(w, req, name)
	case len(rt.targets) == 0:
		rt.stats.answered(http.StatusServiceUnavailable)
		w.Header().Set("Retry-After", retryAfter)
		writeError(w, req, http.StatusServiceUnavailable, notServing(name, rt))
	default:
		rt.proxy(w, req)
	}
}

// proxy sends req to the tenant's next endpoint. The proxy's hooks count
// the answer; this counts the request in flight and times it until the
// answer has been copied, deferred because ReverseProxy panics with
// http.ErrAbortHandler when it cannot finish copying the answer.
func (rt *route) proxy(w http.ResponseWriter, req *http.Request) {
	t := &rt.targets[(rt.next.Add(1)-1)%uint64(len(rt.targets))]
	start := time.Now()
	t.inFlight.n.Add(1)
	defer func() {
		t.inFlight.n.Add(-1)
		rt.stats.observe(time.Since(start))
	}()
	t.proxy.ServeHTTP(w, req)
}

// notServing explains why a known tenant gets no traffic.
func notServing(name string, rt *route) *stamp.Error {
	phase := rt.phase
	if phase == "" {
		phase = "pending"
	}
	switch {
	case rt.deleting:
		return stamp.Errorf(stamp.EUNAVAILABLE, "tenant %q is being deleted (phase: %s)", name, phase)
	case phase == stamp.PhaseFailed:
		return stamp.Errorf(stamp.EUNAVAILABLE, "tenant %q failed and does not serve until an operator retries it (phase: %s)", name, phase)
	}
	return stamp.Errorf(stamp.EUNAVAILABLE, "tenant %q is not ready yet (phase: %s)", name, phase)
}

// tenantName returns the tenant a Host header names: host (port and a
// trailing dot dropped, case folded) must be exactly one label followed by
// the base domain. A bare base domain, a deeper name or an IP is no tenant.
func (r *Router) tenantName(host string) (string, bool) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	label, ok := strings.CutSuffix(host, r.suffix)
	if !ok || label == "" || strings.Contains(label, ".") {
		return "", false
	}
	return label, true
}

// newRoute turns a tenant into its route, with a target per endpoint when
// it serves. prev, the tenant's route until now (nil if none), is the
// route itself if nothing it was built from changed, so that the full
// reload of a large table builds no proxy again and replicas keep taking
// turns; else it hands over its counters unless it belonged to an earlier
// tenant of the same name.
func (r *Router) newRoute(t *stamp.Tenant, prev *route) *route {
	b := basisOf(t)
	if prev != nil && prev.basis == b && slices.Equal(prev.endpoints, t.Status.Endpoints) {
		return prev
	}
	rt := &route{basis: b, endpoints: t.Status.Endpoints}
	if prev != nil && prev.createdAt.Equal(t.CreatedAt) {
		rt.stats = prev.stats
	} else {
		rt.stats = new(tenantStats)
	}
	if serves(rt.phase) && !rt.deleting {
		rt.targets = make([]target, len(rt.endpoints))
		for i, e := range rt.endpoints {
			rt.targets[i] = target{proxy: r.newProxy(t.Name, e, rt.stats), inFlight: r.gauge(e)}
		}
	}
	return rt
}

// serves reports whether a tenant in phase gets traffic. An upgrading
// tenant does: its endpoints are the old version's until the new one is
// ready to take over.
func serves(phase string) bool {
	return phase == stamp.PhaseReady || phase == stamp.PhaseUpgrading
}

// copyBufferSize is the size of the buffers proxies copy bodies through,
// io.Copy's.
const copyBufferSize = 32 << 10

// bufferPool recycles the buffers proxies copy bodies through; without it
// each proxied request allocates 32KiB. It pools pointers to the arrays
// behind the slices, which Put takes without allocating (a pointer to the
// slice would escape, one allocation per request).
type bufferPool struct{ pool sync.Pool }

func (p *bufferPool) Get() []byte {
	if b, ok := p.pool.Get().(*[copyBufferSize]byte); ok {
		return b[:]
	}
	return make([]byte, copyBufferSize)
}

func (p *bufferPool) Put(b []byte) {
	if cap(b) >= copyBufferSize {
		p.pool.Put((*[copyBufferSize]byte)(b[:copyBufferSize]))
	}
}

var copyBuffers httputil.BufferPool = &bufferPool{}

// newProxy returns the reverse proxy for one endpoint (one instance of a
// tenant's public service), counting its answers in stats. Each endpoint
// gets its own (they are small) so the hot path needs no per-request
// allocation to tell the proxy where to go.
func (r *Router) newProxy(tenant, endpoint string, stats *tenantStats) *httputil.ReverseProxy {
	u := &url.URL{Scheme: "http", Host: endpoint}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.SetXForwarded()
			pr.Out.Host = pr.In.Host // apps build links from the customer's address
		},
		Transport:  r.transport,
		BufferPool: copyBuffers,
		// FlushInterval stays 0: ReverseProxy then flushes every write of
		// an event stream (text/event-stream) or of an answer of unknown
		// length (chunked: long polls, streams) and nothing else, so an
		// answer of known length leaves in one write, headers and body
		// together, rather than headers first and then every read.
		ErrorLog: r.errorLog,
		// A protocol switch that fails after the backend's 101 is counted
		// twice, as the 101 and as the 502: too rare to track per request.
		ModifyResponse: func(resp *http.Response) error {
			stats.answered(resp.StatusCode)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			status, msg := http.StatusBadGateway, stamp.Errorf(stamp.EUNAVAILABLE, "tenant %s is not answering", tenant)
			if answerTimedOut(err) {
				status, msg = http.StatusGatewayTimeout, stamp.Errorf(stamp.EUNAVAILABLE,
					"tenant %s did not answer within %s (the router's response timeout)", tenant, r.responseTimeout)
			}
			if req.Context().Err() != nil {
				// The client hung up before the backend answered: no one
				// receives the 502 or 504, so it is no error of the tenant's.
				stats.hungUp()
			} else {
				stats.answered(status)
			}
			r.log.Debug("router: tenant not answering", "tenant", tenant, "endpoint", endpoint, "err", err)
			writeError(w, req, status, msg)
		},
	}
}

// answerTimedOut reports whether a proxied request failed because the
// endpoint, once connected to, did not answer in time; a dial that timed
// out is no answer of the tenant's and stays a 502.
func answerTimedOut(err error) bool {
	var (
		ne net.Error
		op *net.OpError
	)
	if errors.As(err, &op) && op.Op == "dial" {
		return false
	}
	return errors.As(err, &ne) && ne.Timeout()
}
