// Package metrics owns Stamp's Prometheus metrics: one registry per
// server, the control plane's own instruments (API requests, reconcile
// passes and queue, store calls), and a collector that reads the fleet and
// each tenant's figures from the running parts when /metrics is scraped.
//
// Every label has a bounded set of values, listed with each metric in
// docs/README.md: routes of the API, methods of stamp.Store, reconcile
// kinds and outcomes, phases, incident causes, and tenant names (bounded
// by the fleet: about 20 series per tenant). Nothing takes a label from a
// request path, a query or an error message.
package metrics

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every metric Stamp defines.
const namespace = "stamp"

// unmatchedRoute is the route label of API requests no route matched.
const unmatchedRoute = "unmatched"

// reconcileBuckets span a pass that only writes a status to an upgrade that
// waits for a slow health check, in seconds.
var reconcileBuckets = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// storeBuckets span a cached read to a slow write under contention, in
// seconds.
var storeBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// Metrics is a server's registry and the control plane's instruments.
// Create it with New; it serves the registry as an http.Handler.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	apiRequests *prometheus.CounterVec
	apiDuration *prometheus.HistogramVec
	passes      *prometheus.HistogramVec
	storeCalls  *prometheus.HistogramVec
	storeErrors *prometheus.CounterVec
	wakes       *prometheus.HistogramVec
}

// New returns a registry holding the control plane's instruments and the
// Go runtime and process collectors. Scrape errors (a store that cannot
// list the fleet) go to logger; the rest of the metrics are still served.
func New(logger *slog.Logger) *Metrics {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		apiRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "api", Name: "requests_total",
			Help: "API requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		apiDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "api", Name: "request_duration_seconds",
			Help:    "How long API requests took, by route pattern and status code; streams count their whole life.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "code"}),
		passes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "reconcile", Name: "pass_duration_seconds",
			Help:    "How long reconcile passes that took steps ran, by kind (provision, upgrade, remove) and outcome (done, failed, stale, error).",
			Buckets: reconcileBuckets,
		}, []string{"kind", "outcome"}),
		storeCalls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "store", Name: "duration_seconds",
			Help:    "How long calls to the control-plane store took, by method of stamp.Store.",
			Buckets: storeBuckets,
		}, []string{"method"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "store", Name: "errors_total",
			Help: "Store calls that returned an error, by method and error code (not_found and conflict are answers; internal is a failure).",
		}, []string{"method", "code"}),
		wakes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "router", Name: "wake_seconds",
			Help:    "Cold starts: how long requests to a sleeping tenant waited for it to wake, from arrival to being proxied, by outcome (woke, failed).",
			Buckets: wakeBuckets,
		}, []string{"outcome"}),
	}
	m.reg.MustRegister(
		m.apiRequests, m.apiDuration, m.passes, m.storeCalls, m.storeErrors, m.wakes,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slogPrinter{logger},
		ErrorHandling: promhttp.ContinueOnError,
	})
	return m
}

// ServeHTTP writes every metric of the registry, in the Prometheus text
// format unless the scraper asks for another.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.handler.ServeHTTP(w, r)
}

// ObserveRequest records one answered API request (httpapi.Metrics).
func (m *Metrics) ObserveRequest(route string, status int, d time.Duration) {
	if route == "" {
		route = unmatchedRoute
	}
	code := strconv.Itoa(status)
	m.apiRequests.WithLabelValues(route, code).Inc()
	m.apiDuration.WithLabelValues(route, code).Observe(d.Seconds())
}

// ObservePass records one reconcile pass that took steps
// (reconcile.Config.Observe).
func (m *Metrics) ObservePass(kind, outcome string, d time.Duration) {
	m.passes.WithLabelValues(kind, outcome).Observe(d.Seconds())
}

// wakeBuckets span an app that starts in a few tens of milliseconds to
// one that takes the router's whole wake timeout.
var wakeBuckets = []float64{0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// ObserveWake records how long a request waited for a sleeping tenant to
// wake (router.Config.Woke).
func (m *Metrics) ObserveWake(_ string, d time.Duration, ok bool) {
	outcome := "woke"
	if !ok {
		outcome = "failed"
	}
	m.wakes.WithLabelValues(outcome).Observe(d.Seconds())
}

// Watch adds the collector of the fleet's and the tenants' figures, read
// from src at each scrape. Call it once, before the first scrape: a second
// call panics, as registering a metric twice does.
func (m *Metrics) Watch(src Sources) {
	m.reg.MustRegister(newCollector(src))
}

// slogPrinter hands promhttp's scrape errors to a slog.Logger.
type slogPrinter struct{ log *slog.Logger }

// Println logs v as one warning.
func (p slogPrinter) Println(v ...any) {
	p.log.Warn("metrics scrape", "err", strings.TrimSpace(fmt.Sprintln(v...)))
}
