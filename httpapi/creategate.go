package httpapi

import (
	"net/http"

	"github.com/stamphq/stamp"
)

// createGate bounds the tenant creates a server handles at once: running
// at a time, and as many more waiting for a turn; past both a create is
// refused with 503 and Retry-After, so that a flood of creates cannot
// hold every connection and all of the store's writes.
type createGate struct {
	running, waiting int
	slots            chan struct{} // one per create running
	admitted         chan struct{} // one per create running or waiting
}

// newCreateGate returns a gate for running creates at once and waiting
// more; nil (no bound) when running is 0.
func newCreateGate(running, waiting int) *createGate {
	if running <= 0 {
		return nil
	}
	return &createGate{running: running, waiting: waiting,
		slots: make(chan struct{}, running), admitted: make(chan struct{}, running+max(0, waiting))}
}

// wrap puts h, a create, behind the gate.
func (g *createGate) wrap(h http.Handler) http.Handler {
	if g == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case g.admitted <- struct{}{}:
		default:
			w.Header().Set("Retry-After", "1")
			writeError(w, r, stamp.Errorf(stamp.EUNAVAILABLE, "too many tenant creates at once (%d running, %d waiting): try again shortly", g.running, g.waiting))
			return
		}
		defer func() { <-g.admitted }()
		select {
		case g.slots <- struct{}{}:
		case <-r.Context().Done():
			writeError(w, r, stamp.Errorf(stamp.EUNAVAILABLE, "the create waited for a turn and its client went away"))
			return
		}
		defer func() { <-g.slots }()
		h.ServeHTTP(w, r)
	})
}
