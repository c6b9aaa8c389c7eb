package httpapi

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/stamphq/stamp"
)

// MassChangeWindow is how far back the guard against mass deletion
// counts the deletes and suspensions made (see massGuard).
const MassChangeWindow = 10 * time.Minute

// massActions are the calls that take tenants out of service, which the
// guard counts.
var massActions = map[string]bool{
	"DELETE /v1/tenants/{name}":       true,
	"POST /v1/tenants/{name}/suspend": true,
}

// confirmParam is the query parameter that lets a call past the guard:
// ?confirm=many (the CLI's --confirm-many).
const confirmParam = "confirm"

// massGuard refuses a delete or a suspension past the first limit in
// MassChangeWindow, through any server, unless they stay within share
// of the fleet, or the call says ?confirm=many: a script gone wrong, or
// a stolen token, must not take the fleet down one call at a time. A
// limit of 0 turns the guard off.
type massGuard struct {
	store Store
	clock stamp.Clock
	limit int
	share float64
}

// check returns nil if the call r may go ahead, else why not. It counts
// the calls the audit log holds as done, so every server sharing the
// store counts the same ones.
func (g massGuard) check(ctx context.Context, r *http.Request) error {
	if g.limit <= 0 || r.URL.Query().Get(confirmParam) == "many" {
		return nil
	}
	recs, err := g.store.ListAudit(ctx, stamp.AuditFilter{Since: g.clock.Now().Add(-MassChangeWindow), Limit: 100_000})
	if err != nil {
		return fmt.Errorf("count recent deletes and suspensions: %w", err)
	}
	done := 0
	for _, rec := range recs {
		if massActions[rec.Action] && rec.Outcome == stamp.AuditOK {
			done++
		}
	}
	if done < g.limit {
		return nil
	}
	tenants, err := g.store.ListTenants(ctx)
	if err != nil {
		return fmt.Errorf("count the fleet: %w", err)
	}
	if float64(done+1) <= math.Floor(g.share*float64(len(tenants))) {
		return nil
	}
	return stamp.Errorf(stamp.ECONFLICT, "%d tenants were deleted or suspended in the last %s, of %d: one more needs confirmation that so many should go (?confirm=many; the CLI's --confirm-many)",
		done, MassChangeWindow, len(tenants))
}

// guarded wraps h, a delete or a suspension, in the guard.
func (g massGuard) guarded(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := g.check(r.Context(), r); err != nil {
			writeError(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}
