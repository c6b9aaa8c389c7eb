package router

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/stamphq/stamp"
)

// Waker wakes sleeping tenants (scale to zero); the reconciler is one.
type Waker interface {
	// Wake asks for sleeping tenant name's instances to be started. It
	// returns once the request is recorded, not once the tenant serves.
	Wake(ctx context.Context, name string) error
}

// defaultWakeTimeout bounds how long a request waits for a sleeping
// tenant to wake.
const defaultWakeTimeout = 60 * time.Second

// sleeps reports whether a tenant is asleep (its phase says so, whether
// or not its wake is under way): requests to it wake it.
func sleeps(t *stamp.Tenant) bool {
	return t.Status.Phase == stamp.PhaseSleeping && !t.Upgrading() && t.Spec.Desired != stamp.DesiredDeleted
}

// wakes runs one Waker.Wake per wake of a tenant: the first request to a
// sleeping tenant asks for it, those that come until it serves (or the
// wake fails or times out) share that call.
type wakes struct {
	mu    sync.Mutex
	calls map[string]*wakeCall
}

// wakeCall is one wake of a tenant; err is set before done closes.
type wakeCall struct {
	done    chan struct{}
	err     error
	started time.Time
}

// wake asks the waker to wake tenant name, or joins the wake under way,
// and returns the call once the wake is recorded or ctx ends. The call
// runs on with its own deadline if the request that started it goes.
func (r *Router) wake(ctx context.Context, name string) (*wakeCall, error) {
	r.wakes.mu.Lock()
	c := r.wakes.calls[name]
	if c == nil || time.Since(c.started) > r.wakeTimeout {
		c = &wakeCall{done: make(chan struct{}), started: time.Now()}
		r.wakes.calls[name] = c
		go func() {
			wctx, cancel := context.WithTimeout(context.Background(), r.wakeTimeout)
			defer cancel()
			c.err = r.waker.Wake(wctx, name)
			close(c.done)
		}()
	}
	r.wakes.mu.Unlock()
	select {
	case <-c.done:
		return c, c.err
	case <-ctx.Done():
		return c, ctx.Err()
	}
}

// woken forgets wake c of tenant name once a request sharing it has had
// its outcome: a later request to the tenant, should it still (or again)
// sleep, asks for a wake anew, which a wake under way takes as done.
func (r *Router) woken(name string, c *wakeCall) {
	r.wakes.mu.Lock()
	defer r.wakes.mu.Unlock()
	if r.wakes.calls[name] == c {
		delete(r.wakes.calls, name)
	}
}

// serveAsleep answers a request to a sleeping tenant: it wakes the tenant
// and holds the request until it serves (then proxies it), fails to wake
// (503, the reason named) or WakeTimeout passes (503).
func (r *Router) serveAsleep(w http.ResponseWriter, req *http.Request, name string, rt *route) {
	if r.waker == nil {
		rt.stats.answered(http.StatusServiceUnavailable)
		w.Header().Set("Retry-After", retryAfter)
		writeError(w, req, http.StatusServiceUnavailable,
			stamp.Errorf(stamp.EUNAVAILABLE, "tenant %q is asleep and this router cannot wake it (a standby between two servers); try again shortly", name))
		return
	}
	start := time.Now()
	c, err := r.wake(req.Context(), name)
	if err != nil {
		if req.Context().Err() != nil {
			rt.stats.hungUp()
			return
		}
		r.woken(name, c)
		if stamp.ErrorCode(err) == stamp.ENOTFOUND {
			writeError(w, req, http.StatusNotFound, stamp.Errorf(stamp.ENOTFOUND, "tenant %q does not exist", name))
			return
		}
		r.woke(name, time.Since(start), false)
		r.log.Warn("router: cannot wake a sleeping tenant", "tenant", name, "err", err)
		rt.stats.answered(http.StatusServiceUnavailable)
		w.Header().Set("Retry-After", retryAfter)
		writeError(w, req, http.StatusServiceUnavailable, stamp.Errorf(stamp.EUNAVAILABLE,
			"tenant %q is asleep and could not be woken: the control plane did not take the request; try again shortly", name))
		return
	}
	held := r.hold(req.Context(), name, r.wakeTimeout-time.Since(start))
	r.woken(name, c) // it serves, failed, is gone or is late: a later request asks again
	switch {
	case held == nil:
		writeError(w, req, http.StatusNotFound, stamp.Errorf(stamp.ENOTFOUND, "tenant %q does not exist", name))
	case len(held.targets) > 0:
		r.woke(name, time.Since(start), true)
		held.proxy(w, req)
	case req.Context().Err() != nil:
		held.stats.hungUp()
	default:
		r.woke(name, time.Since(start), false)
		held.stats.answered(http.StatusServiceUnavailable)
		w.Header().Set("Retry-After", retryAfter)
		msg := stamp.Errorf(stamp.EUNAVAILABLE, "tenant %q did not wake within %s", name, r.wakeTimeout)
		switch {
		case held.phase == stamp.PhaseFailed:
			msg = stamp.Errorf(stamp.EUNAVAILABLE, "tenant %q failed to wake: %s; an incident is open", name, held.message)
		case !held.sleeping:
			msg = notServing(name, held) // deleted, or moved, meanwhile
		}
		writeError(w, req, http.StatusServiceUnavailable, msg)
	}
}

// woke reports a wake's outcome to Config.Woke.
func (r *Router) woke(name string, d time.Duration, ok bool) {
	if r.onWoke != nil {
		r.onWoke(name, d, ok)
	}
}

// WakeFunc adapts a function to a Waker.
type WakeFunc func(ctx context.Context, name string) error

// Wake calls f.
func (f WakeFunc) Wake(ctx context.Context, name string) error { return f(ctx, name) }
