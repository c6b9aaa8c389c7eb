package httpapi

import (
	"fmt"
	"net/http"

	"github.com/stamphq/stamp"
)

// handleTenantWake asks for a sleeping tenant to be woken, as its next
// request would (an operator warming it before a demo, say): 202 with the
// tenant once the wake is recorded. A tenant that is awake, or already
// waking, is left as it is: 200.
func handleTenantWake(st Store, clock stamp.Clock, enqueue func(string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		woken := false
		ev := &stamp.Event{Type: stamp.EventTenantWaking}
		t, err := changeTenant(r.Context(), st, clock, enqueue, name, ev, false, func(t *stamp.Tenant) (bool, error) {
			if t.Spec.Desired == stamp.DesiredDeleted {
				return false, stamp.Errorf(stamp.ECONFLICT, "tenant %q is being deleted and cannot be woken", name)
			}
			if t.Status.Phase != stamp.PhaseSleeping || !t.Status.WakeAt.IsZero() {
				return false, nil
			}
			t.Status.WakeAt = clock.Now()
			ev.Message = "woken through the API while it was going to sleep"
			if !t.Status.SleptAt.IsZero() {
				ev.Message = fmt.Sprintf("woken through the API after %s asleep", t.Status.WakeAt.Sub(t.Status.SleptAt).Round(1e9))
			}
			woken = true
			return true, nil
		})
		if err != nil {
			writeError(w, r, err)
			return
		}
		status := http.StatusOK
		if woken {
			status = http.StatusAccepted
		}
		encode(w, r, status, masked(t))
	})
}
