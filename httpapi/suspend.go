package httpapi

import (
	"net/http"

	"github.com/stamphq/stamp"
)

// errSuspended refuses a change of a suspended tenant: it comes back as
// it was, and changes wait until it has.
func errSuspended(name string) error {
	return stamp.Errorf(stamp.ECONFLICT, "tenant %q is suspended; resume it first (stamp tenant resume %s)", name, name)
}

// handleTenantSuspend suspends tenant {name} (suspend) or resumes it: the
// reconciler stops its instances, keeping its data and secrets, and the
// router answers 503 "suspended" until a resume starts it again as it
// was. Either is a no-op on a tenant already so.
func handleTenantSuspend(st Store, clock stamp.Clock, enqueue func(string), suspend bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		ev := &stamp.Event{Type: stamp.EventTenantResuming}
		if suspend {
			ev.Type = stamp.EventTenantSuspending
		}
		t, err := changeTenant(r.Context(), st, clock, enqueue, name, ev, false, func(t *stamp.Tenant) (bool, error) {
			switch {
			case t.Spec.Desired == stamp.DesiredDeleted:
				return false, stamp.Errorf(stamp.ECONFLICT, "tenant %q is being deleted", name)
			case t.Spec.Desired == stamp.DesiredSoftDeleted:
				return false, errSoftDeleted(name)
			case suspend && t.Spec.Desired == stamp.DesiredSuspended, !suspend && t.Spec.Desired == stamp.DesiredRunning:
				return false, nil
			case suspend:
				t.Spec.Desired = stamp.DesiredSuspended
			default:
				t.Spec.Desired = stamp.DesiredRunning
			}
			return true, nil
		})
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusAccepted, masked(t))
	})
}
