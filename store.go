package stamp

import (
	"context"
	"time"
)

// Store keeps control-plane state: bundles, tenants and their secrets,
// releases, incidents, webhooks, tokens, leases, the tenants' last
// traffic, the append-only event log, the pipeline events of CI and the
// flow index read from the event log. Every implementation passes the
// conformance suite in store/storetest. A part that needs only some of
// it takes an interface of its own made of the per-resource interfaces
// below.
type Store interface {
	BundleStore
	TenantStore
	SecretStore
	EventLog
	LeaseStore
	ActivityStore
	ReleaseStore
	IncidentStore
	WebhookStore
	TokenStore
	AuditLog
	PipelineLog
	FlowIndex

	// Close releases the store's connections.
	Close() error
}

// BundleStore keeps blueprint bundles: their metadata, their archives and
// whether they are yanked.
type BundleStore interface {
	BundleSource

	// CreateBundle stores b (Content included) and sets CreatedAt. If
	// name@version already exists with the same digest it does nothing and
	// returns nil; with a different digest it returns ECONFLICT.
	CreateBundle(ctx context.Context, b *Bundle) error
	// GetBundle returns name@version without its content, or ENOTFOUND.
	GetBundle(ctx context.Context, name, version string) (*Bundle, error)
	// ListBundles returns every bundle without content, ordered by name and
	// creation time.
	ListBundles(ctx context.Context) ([]*Bundle, error)
	// SetYanked yanks name@version (yanked true: Yanked set, YankedAt the
	// store's time, YankReason reason) or unyanks it (false: all three
	// cleared, reason ignored). Only when that changes the bundle are the
	// events appended, in the same transaction (as UpdateTenant does). It
	// returns the bundle as it is now, without content, and whether it
	// changed; a missing bundle is ENOTFOUND.
	SetYanked(ctx context.Context, name, version string, yanked bool, reason string, events ...*Event) (*Bundle, bool, error)
}

// TenantStore keeps tenants, each written only at the resource version it
// was read at.
type TenantStore interface {
	// CreateTenant stores a new tenant, setting ResourceVersion and the
	// timestamps on t. A tenant of that name already existing is ECONFLICT.
	// The events, if any, are appended in the same transaction (as
	// UpdateTenant does), and only if the write succeeds.
	CreateTenant(ctx context.Context, t *Tenant, events ...*Event) error
	// GetTenant returns the tenant or ENOTFOUND.
	GetTenant(ctx context.Context, name string) (*Tenant, error)
	// ListTenants returns every tenant ordered by name, read at one
	// instant: for the parts that need the whole fleet at once (the
	// router's routes, the reconciler's resync).
	ListTenants(ctx context.Context) ([]*Tenant, error)
	// ListTenantsPage returns the tenants whose names sort after p.After,
	// ordered by name, at most p.Limit of them, and next: the After of the
	// following page, "" when this page holds the last tenant. Pages are
	// read by key, not by offset, so a tenant that exists from the first
	// page to the last is listed exactly once, whatever is created or
	// deleted in between; one created or deleted meanwhile may or may not
	// be. A negative Limit is EINVALID.
	//
	// A page read Before runs backwards: it holds the last p.Limit
	// tenants before p.Before, still in name order, and next is then the
	// Before of the page preceding it, "" when this page holds the first
	// tenant p.Filter selects. Only the tenants p.Filter selects are
	// listed: a selective filter reads more tenants to fill a page. After and
	// Before together are EINVALID.
	ListTenantsPage(ctx context.Context, p TenantPage) (tenants []*Tenant, next string, err error)
	// CountTenants counts the tenants f selects (not the warm pool's
	// stamps), grouped by phase, current version and plan, read at one
	// instant, in no particular order: a fleet's totals without listing
	// it.
	CountTenants(ctx context.Context, f TenantFilter) ([]TenantCount, error)
	// UpdateTenant writes t if t.ResourceVersion is the stored one, then
	// increments t.ResourceVersion and sets UpdatedAt. A stale version is
	// ECONFLICT; a missing tenant is ENOTFOUND. The events, if any, are
	// appended in the same transaction (as AppendEvents would): a crash
	// leaves the write and its events, or neither.
	UpdateTenant(ctx context.Context, t *Tenant, events ...*Event) error
	// DeleteTenant removes the tenant, its secrets and its activity if
	// resourceVersion is the stored one (ECONFLICT otherwise). A missing
	// tenant is ENOTFOUND. The events, if any, are appended in the same
	// transaction (as UpdateTenant does), and only if the delete succeeds.
	DeleteTenant(ctx context.Context, name string, resourceVersion int64, events ...*Event) error
	// ClaimTenant hands the pooled stamp pooled to the new tenant t in one
	// transaction: it deletes pooled's record and secrets if
	// resourceVersion is the stored one (ECONFLICT otherwise, ENOTFOUND if
	// it is gone, EINVALID if it is not Spec.Pooled), creates t (ECONFLICT
	// if a tenant of that name exists) as CreateTenant does, events
	// included, and stores secrets as t's (the pooled stamp's, which its
	// runtime was made with). t.Status.Runtime names pooled's runtime.
	ClaimTenant(ctx context.Context, pooled string, resourceVersion int64, t *Tenant, secrets map[string]string, events ...*Event) error
	// TenantByRuntime returns the tenant whose runtime (RuntimeName) is
	// runtime, or ENOTFOUND.
	TenantByRuntime(ctx context.Context, runtime string) (*Tenant, error)
}

// TenantPage selects one page of tenants in name order, so that a fleet
// of thousands is listed a bounded piece at a time.
type TenantPage struct {
	// After is the name the page starts after: "" for the first page,
	// then the next that ListTenantsPage returned with the page before.
	After string
	// Before is the name the page ends before, for a page read backwards:
	// the one before the page whose first tenant it names.
	Before string
	// Limit is the most tenants on the page; 0 means the store's default,
	// and the store lowers one over its maximum to it.
	Limit int
	// Pooled lists the warm pool's stamps (TenantSpec.Pooled) instead of
	// the tenants, which are listed without them.
	Pooled bool
	// Filter selects the tenants listed.
	Filter TenantFilter
}

// SecretStore keeps each tenant's secrets by name.
type SecretStore interface {
	// Secrets returns the tenant's secrets (empty, not an error, if none).
	Secrets(ctx context.Context, tenant string) (map[string]string, error)
	// PutSecrets adds or replaces the named secrets of a tenant.
	PutSecrets(ctx context.Context, tenant string, secrets map[string]string) error
}

// EventLog is the append-only log of what happened, which watchers read
// from a position onwards.
type EventLog interface {
	// AppendEvents appends events in order, assigning each its Seq (and Time
	// if zero).
	AppendEvents(ctx context.Context, events ...*Event) error
	// ListEvents returns events matching f, oldest first.
	ListEvents(ctx context.Context, f EventFilter) ([]*Event, error)
	// LastEventSeq returns the highest Seq appended so far, 0 if none: the
	// position to watch the log from without reading all of it.
	LastEventSeq(ctx context.Context) (int64, error)
}

// LeaseStore hands out expiring leases on keys, so that one control-plane
// process at a time works on a tenant, release or webhook.
type LeaseStore interface {
	// TryLease takes the lease on key for holder until ttl from now, or
	// renews it if holder has it already. It returns false, not an error,
	// while another holder's lease has not expired. Expiry is judged by the
	// store's clock, so control-plane hosts need not agree on the time.
	TryLease(ctx context.Context, key, holder string, ttl time.Duration) (bool, error)
	// RenewLeases extends every unexpired lease of holder to ttl from now
	// and returns their keys: a key holder thought it had and that is
	// missing was lost (it expired and may belong to another holder now).
	RenewLeases(ctx context.Context, holder string, ttl time.Duration) ([]string, error)
	// ReleaseLease gives up holder's lease on key; no lease, or one held by
	// another holder, is not an error.
	ReleaseLease(ctx context.Context, key, holder string) error
}

// ActivityStore records when each tenant last had traffic through a
// router, so that every control-plane process sharing the store judges a
// tenant idle (scale to zero) from all routers' traffic, not only its own.
// A tenant's activity is deleted with it: one created again under the
// same name starts with none.
type ActivityStore interface {
	// RecordActivity raises each named tenant's last-activity time to the
	// given time; a time older than the recorded one leaves it, and a
	// zero time is ignored. Tenants that do not exist are ignored, not an
	// error: a request may race a delete. Times are kept to the
	// millisecond at least.
	RecordActivity(ctx context.Context, seen map[string]time.Time) error
	// LastActivity returns the last-activity time, in UTC, of every
	// tenant that has one.
	LastActivity(ctx context.Context) (map[string]time.Time, error)
}

// ReleaseStore keeps releases, each written only at the resource version
// it was read at.
type ReleaseStore interface {
	// CreateRelease stores a new release, setting ResourceVersion and the
	// timestamps, and appends events in the same transaction, so that a
	// release and its history never disagree. An existing ID is
	// ECONFLICT.
	CreateRelease(ctx context.Context, r *Release, events ...*Event) error
	// GetRelease returns the release or ENOTFOUND.
	GetRelease(ctx context.Context, id string) (*Release, error)
	// ListReleases returns every release, oldest first.
	ListReleases(ctx context.Context) ([]*Release, error)
	// UpdateRelease writes r if r.ResourceVersion is the stored one, then
	// increments it and sets UpdatedAt; ECONFLICT if stale, ENOTFOUND if
	// missing. events are appended in the same transaction (as
	// UpdateTenant does), and only if the write succeeds.
	UpdateRelease(ctx context.Context, r *Release, events ...*Event) error
}

// IncidentStore keeps incidents, each written only at the resource
// version it was read at.
type IncidentStore interface {
	// CreateIncident stores a new incident, setting ResourceVersion and
	// UpdatedAt. An existing ID is ECONFLICT.
	CreateIncident(ctx context.Context, i *Incident) error
	// GetIncident returns the incident or ENOTFOUND.
	GetIncident(ctx context.Context, id string) (*Incident, error)
	// ListIncidents returns the incidents f selects, newest first.
	ListIncidents(ctx context.Context, f IncidentFilter) ([]*Incident, error)
	// UpdateIncident writes i if i.ResourceVersion is the stored one, then
	// increments it and sets UpdatedAt; ECONFLICT if stale, ENOTFOUND if
	// missing.
	UpdateIncident(ctx context.Context, i *Incident) error
}

// WebhookStore keeps webhooks and the record of their delivery attempts.
type WebhookStore interface {
	// CreateWebhook stores a new webhook, setting ResourceVersion and the
	// timestamps. An existing ID is ECONFLICT.
	CreateWebhook(ctx context.Context, w *Webhook) error
	// GetWebhook returns the webhook (Secret included) or ENOTFOUND.
	GetWebhook(ctx context.Context, id string) (*Webhook, error)
	// ListWebhooks returns every webhook (Secret included), oldest first.
	ListWebhooks(ctx context.Context) ([]*Webhook, error)
	// UpdateWebhook writes w if w.ResourceVersion is the stored one, then
	// increments it and sets UpdatedAt; ECONFLICT if stale, ENOTFOUND if
	// missing.
	UpdateWebhook(ctx context.Context, w *Webhook) error
	// DeleteWebhook removes the webhook and its attempts; a missing one is
	// ENOTFOUND.
	DeleteWebhook(ctx context.Context, id string) error
	// AppendDeliveryAttempt records one attempt of a webhook's delivery.
	AppendDeliveryAttempt(ctx context.Context, a *DeliveryAttempt) error
	// ListDeliveryAttempts returns the webhook's attempts, newest first, at
	// most limit (0: the store's default).
	ListDeliveryAttempts(ctx context.Context, webhook string, limit int) ([]*DeliveryAttempt, error)
}

// TokenWatcher is implemented by stores that can tell when a token is
// revoked by any process sharing them, so that API servers may keep
// tokens in memory.
type TokenWatcher interface {
	// WatchTokens runs until ctx ends and returns its error. It calls
	// f(true) once it watches, again after every revocation, and
	// f(false) whenever it stops being able to tell (a lost connection),
	// until it calls f(true) again.
	WatchTokens(ctx context.Context, f func(watching bool)) error
}

// TokenStore keeps API tokens, found by the hash of their secret.
type TokenStore interface {
	// CreateToken stores a token; a duplicate ID or hash, or the name of
	// a token not revoked, is ECONFLICT.
	CreateToken(ctx context.Context, t *Token) error
	// TokenByHash returns the token whose Hash is hash, revoked and
	// expired ones included, or ENOTFOUND.
	TokenByHash(ctx context.Context, hash string) (*Token, error)
	// ListTokens returns every token, revoked ones included, oldest
	// first.
	ListTokens(ctx context.Context) ([]*Token, error)
	// RevokeToken sets RevokedAt of the token named ref (its ID, or the
	// name of the one token not revoked that has it) to at and returns
	// it. Unknown (or already revoked) is ENOTFOUND; a name two tokens
	// not revoked share is ECONFLICT, naming their IDs.
	RevokeToken(ctx context.Context, ref string, at time.Time) (*Token, error)
}
