// Package httpapi owns Stamp's control-plane REST API (JSON under /v1) and
// the Go client the CLI uses to call it. The server only records desired
// state in the store and wakes the reconciler; it never drives tenants
// itself.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bundle"
	"github.com/stamphq/stamp/flow"
)

// Store is the part of stamp.Store the API server uses: every resource,
// for the server records desired state of all of them, but not Close,
// which is its owner's.
type Store interface {
	stamp.BundleStore
	stamp.TenantStore
	stamp.SecretStore
	stamp.EventLog
	stamp.LeaseStore
	stamp.ReleaseStore
	stamp.IncidentStore
	stamp.WebhookStore
	stamp.TokenStore
	stamp.AuditLog
	stamp.PipelineLog
	stamp.FlowIndex
}

// Config holds what the API server needs.
type Config struct {
	// Store keeps what the API reads and writes. Required.
	Store Store
	// Logs hands out tenants' logs; nil makes the logs endpoint answer 503.
	Logs stamp.LogReader
	// Enqueue wakes the reconciler for a tenant after a write; may be nil.
	Enqueue func(tenant string)
	// Claim, if set, gives a new tenant a stamp of the warm pool, storing
	// it with its events; false means there was none, and the tenant is
	// created as usual (see reconcile.Reconciler.Claim).
	Claim func(ctx context.Context, t *stamp.Tenant, events ...*stamp.Event) (bool, error)
	// Engines are the database engines this server can provide, such as
	// {"sqlite": true}. A tenant whose blueprint needs another is refused at
	// create. A nil map turns the check off.
	Engines map[string]bool
	// EngineRefusals say why this server does not provide an engine it
	// knows, for the error that refuses a blueprint needing it.
	EngineRefusals map[string]string
	// Clock stamps events; default stamp.SystemClock{}.
	Clock stamp.Clock
	// Logger gets one line per request; default slog.Default().
	Logger *slog.Logger
	// MaxBodyBytes limits JSON request bodies; default 1 MiB.
	MaxBodyBytes int64
	// MaxBundleBytes limits bundle uploads; default bundle.MaxSize.
	MaxBundleBytes int64
	// MassChangeLimit is how many deletes and suspensions may be made in
	// MassChangeWindow before the next needs ?confirm=many, unless they
	// stay within MassChangeShare of the fleet; 0 turns the guard off.
	MassChangeLimit int
	MassChangeShare float64
	// Flow is the flow index GET /v1/flow reads, kept up to date by its
	// Run; nil makes one that only the reports bring up to date.
	Flow *flow.Index
	// GC runs the garbage collector; nil makes POST /v1/gc answer 503.
	GC func(ctx context.Context, dryRun, force bool) (*stamp.GCReport, error)
	// DeleteGrace is how long a deleted tenant is kept, stopped, before
	// it is purged (undelete brings it back meanwhile); 0 purges at once.
	DeleteGrace time.Duration
	// Backups takes and keeps tenants' backups; nil makes the backup,
	// restore, clone and import routes answer 503.
	Backups *Backups
	// MaxImportBytes limits an archive brought back as a new tenant;
	// default DefaultMaxImportBytes.
	MaxImportBytes int64
	// Ready answers /readyz; nil means always ready.
	Ready func(ctx context.Context) error
	// Metrics, if set, is told of every request and served at GET
	// /metrics behind the bearer token; nil leaves /metrics unrouted.
	Metrics Metrics
	// Health, if set, gives a tenant's health as this server's monitor
	// sees it, nil if it does not watch the tenant; GET /v1/tenants/{name}
	// answers with it.
	Health func(tenant string) *stamp.TenantHealth
	// SharedNetwork says tenants run on the host's network, with no
	// namespace of their own: a service's declared port cannot be given
	// to it (two tenants could not both have it), and a push says so.
	SharedNetwork bool
	// Keys, if set, rotates the master key secrets are sealed with;
	// nil makes POST /v1/keys/rotate answer 503.
	Keys KeyRotator
	// Requirements, if set, checks that this host provides what a
	// blueprint requires (ref names it), returning an EUNPROCESSABLE
	// error naming what it lacks: a push reports it as missing, a tenant
	// create, upgrade or release of the version is refused with it.
	Requirements func(ctx context.Context, ref string, reqs []stamp.Requirement) error
	// TokenCache, if set, keeps tokens in memory while its Watch runs;
	// nil reads each request's token from the store.
	TokenCache *TokenCache
	// RateLimit is how many calls that change something a token may make
	// a second on this server, in bursts of twice that; 0 for no limit.
	RateLimit float64
	// MaxCreates bounds the tenant creates this server handles at once,
	// and CreateQueue how many more wait for a turn; past both a create
	// answers 503. 0 for no bound.
	MaxCreates, CreateQueue int
	// AnonymousAuditRate bounds the audit records kept of calls without
	// a valid token, a second per client address (bursts of twice that);
	// the others are dropped and counted in a warning. Default 5;
	// negative keeps every one.
	AnonymousAuditRate float64
}

// NewServer returns the API as an http.Handler: /healthz and /readyz
// without authentication, everything under /v1 (and /metrics) behind a
// bearer token.
func NewServer(cfg Config) http.Handler {
	if cfg.Clock == nil {
		cfg.Clock = stamp.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.MaxBundleBytes <= 0 {
		cfg.MaxBundleBytes = bundle.MaxSize
	}
	if cfg.MaxImportBytes <= 0 {
		cfg.MaxImportBytes = DefaultMaxImportBytes
	}
	if cfg.AnonymousAuditRate == 0 {
		cfg.AnonymousAuditRate = defaultAnonymousRate
	}
	if cfg.Enqueue == nil {
		cfg.Enqueue = func(string) {}
	}
	mux := http.NewServeMux()
	cache := newBlueprintCache(64)
	cache.requirements = cfg.Requirements
	addRoutes(mux, cfg, cache)
	return observeRequests(cfg.Metrics, mux, withRequest(cfg.Logger, cfg.Store, cfg.AnonymousAuditRate, mux))
}
