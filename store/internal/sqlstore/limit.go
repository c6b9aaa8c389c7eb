package sqlstore

import (
	"slices"

	"github.com/stamphq/stamp"
)

// Limit bounds how many rows one call of a list returns.
type Limit struct {
	Noun    string // what the message about a negative limit calls it
	Default int    // used for a limit of 0
	Max     int    // larger limits are lowered to this
}

// The limits of the lists. An incident carries its timeline and its
// service's last output lines, so fewer are listed at once than events; a
// webhook failing for a day is retried a few hundred times, and its newest
// attempts are the ones that tell why. A page of tenants is what the API
// answers a listing with: a thousand tenants are a few megabytes of JSON.
var (
	EventLimit    = Limit{Noun: "event", Default: 1000, Max: 10000}
	IncidentLimit = Limit{Noun: "incident", Default: 500, Max: 5000}
	AttemptLimit  = Limit{Noun: "delivery attempt", Default: 100, Max: 1000}
	TenantLimit   = Limit{Noun: "tenant", Default: 100, Max: 1000}
	AuditLimit    = Limit{Noun: "audit record", Default: 1000, Max: 10000}
	PipelineLimit = Limit{Noun: "pipeline event", Default: 1000, Max: 10000}
)

// Of returns the limit to query with when n was asked for: Default for 0,
// at most Max. A negative n is EINVALID.
func (l Limit) Of(n int) (int, error) {
	switch {
	case n < 0:
		return 0, stamp.Errorf(stamp.EINVALID, "%s limit %d is negative", l.Noun, n)
	case n == 0:
		return l.Default, nil
	default:
		return min(n, l.Max), nil
	}
}

// nextPage cuts a page of tenants read with one row more than limit, which
// tells whether any follow without a second query, to limit, and returns
// it with the After of the next page: the last name kept, or "" if no
// tenant follows.
func nextPage(ts []*stamp.Tenant, limit int) ([]*stamp.Tenant, string) {
	if len(ts) <= limit {
		return ts, ""
	}
	ts = ts[:limit]
	return ts, ts[limit-1].Name
}

// TenantPageLimit returns the limit to read p with (TenantLimit.Of), or
// EINVALID when p is read both after and before a name.
func TenantPageLimit(p stamp.TenantPage) (int, error) {
	if p.After != "" && p.Before != "" {
		return 0, stamp.Errorf(stamp.EINVALID, "a page of tenants is read after %q or before %q, not both", p.After, p.Before)
	}
	return TenantLimit.Of(p.Limit)
}

// CutPage cuts a page of tenants read with one row more than limit, in
// name order or, for a page read backwards, in descending name order.
// It returns the page in name order and the cursor of the next page in
// the direction read: the After of the page following it (its last name), or
// the Before of the one preceding it, "" when no tenant is left that way.
func CutPage(ts []*stamp.Tenant, limit int, backwards bool) ([]*stamp.Tenant, string) {
	ts, next := nextPage(ts, limit)
	if backwards {
		slices.Reverse(ts)
	}
	return ts, next
}
