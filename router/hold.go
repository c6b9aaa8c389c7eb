package router

import (
	"context"
	"net/http"
	"time"

	"github.com/stamphq/stamp"
)

// defaultHoldTimeout bounds how long a request waits for a tenant whose
// recreate upgrade stopped its old version.
const defaultHoldTimeout = 30 * time.Second

// holds reports whether requests to a tenant are held rather than
// refused: a recreate upgrade has stopped its old version and the new
// one does not serve yet.
func holds(t *stamp.Tenant) bool {
	return t.Upgrading() && t.Status.Upgrade.Stopped && t.Status.Phase == stamp.PhaseUpgrading &&
		len(t.Status.Endpoints) == 0 && t.Spec.Desired != stamp.DesiredDeleted
}

// publish swaps in table and wakes the requests held for a change.
func (r *Router) publish(table map[string]*route) {
	r.routes.Store(&table)
	r.changedMu.Lock()
	close(r.changed)
	r.changed = make(chan struct{})
	r.changedMu.Unlock()
}

// changes returns a channel closed at the next swap of the table.
func (r *Router) changes() <-chan struct{} {
	r.changedMu.Lock()
	defer r.changedMu.Unlock()
	return r.changed
}

// hold waits until tenant name's route serves, for at most timeout or
// until the client goes, and returns the route then (nil if the tenant is
// gone, one with no targets if it still does not serve).
func (r *Router) hold(ctx context.Context, name string, timeout time.Duration) *route {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		changed := r.changes()
		rt := (*r.routes.Load())[name]
		if rt == nil || len(rt.targets) > 0 || !rt.hold {
			return rt
		}
		select {
		case <-changed:
		case <-timer.C:
			return rt
		case <-ctx.Done():
			return rt
		}
	}
}

// serveHeld answers a request to a tenant whose routes hold requests:
// proxied once the new version serves, else 503.
func (r *Router) serveHeld(w http.ResponseWriter, req *http.Request, name string) {
	rt := r.hold(req.Context(), name, r.holdTimeout)
	switch {
	case rt == nil:
		writeError(w, req, http.StatusNotFound, stamp.Errorf(stamp.ENOTFOUND, "tenant %q does not exist", name))
	case len(rt.targets) > 0:
		rt.proxy(w, req)
	default:
		rt.stats.answered(http.StatusServiceUnavailable)
		w.Header().Set("Retry-After", retryAfter)
		writeError(w, req, http.StatusServiceUnavailable,
			stamp.Errorf(stamp.EUNAVAILABLE, "tenant %q is being upgraded and its new version did not serve within %s", name, r.holdTimeout))
	}
}
