// Package activity shares when each tenant last had traffic between the
// control-plane processes that share a store: each one's router sees only
// the requests sent to it, and a tenant whose plan scales to zero must not
// be put to sleep by one process while another's router serves it.
//
// A Tracker records what its router saw in the store (stamp.ActivityStore)
// and reads back what every router recorded, each Interval; Last answers
// from memory, with the local router's own figure always fresh.
package activity

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/stamphq/stamp"
)

// Router is where a Tracker reads local traffic; *router.Router is one.
type Router interface {
	// LastRequest is when tenant last had a request; zero if never.
	LastRequest(tenant string) time.Time
	// ActiveSince returns the tenants with a request after since, and when.
	ActiveSince(since time.Time) map[string]time.Time
}

// Tracker shares a router's traffic through the store.
type Tracker struct {
	store    stamp.ActivityStore
	router   Router
	interval time.Duration
	log      *slog.Logger

	mu      sync.Mutex
	shared  map[string]time.Time // every router's, as last read
	flushed time.Time            // local traffic up to here is recorded
}

// New returns a Tracker recording router's traffic in store every
// interval; nothing is shared until Run.
func New(store stamp.ActivityStore, router Router, interval time.Duration, log *slog.Logger) *Tracker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Tracker{store: store, router: router, interval: interval, log: log, shared: map[string]time.Time{}}
}

// Last returns when tenant last had a request through any router sharing
// the store: this process's own as of now, the others' as of their last
// record (at most two intervals old). Zero if none is known.
func (t *Tracker) Last(tenant string) time.Time {
	last := t.router.LastRequest(tenant)
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.shared[tenant]; s.After(last) {
		return s
	}
	return last
}

// Run shares activity every interval until ctx ends, then records what is
// left and returns nil. A failing store is logged once when it starts
// failing and once when it recovers; nothing is lost meanwhile, since
// each record covers everything since the last one that worked.
func (t *Tracker) Run(ctx context.Context) error {
	ticker := time.NewTicker(t.interval)
	defer ticker.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.interval)
			defer cancel()
			t.record(sctx)
			return nil
		case <-ticker.C:
		}
		err := t.share(ctx)
		switch {
		case ctx.Err() != nil:
		case err != nil && !failing:
			failing = true
			t.log.Warn("activity: cannot share tenants' traffic through the store; idle tenants may sleep early", "err", err)
		case err == nil && failing:
			failing = false
			t.log.Info("activity: sharing tenants' traffic again")
		}
	}
}

// share records the local traffic and reads every router's.
func (t *Tracker) share(ctx context.Context) error {
	if err := t.record(ctx); err != nil {
		return err
	}
	shared, err := t.store.LastActivity(ctx)
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.shared = shared
	t.mu.Unlock()
	return nil
}

// record writes the local traffic since the last record that worked.
func (t *Tracker) record(ctx context.Context) error {
	t.mu.Lock()
	since := t.flushed
	t.mu.Unlock()
	now := time.Now()
	active := t.router.ActiveSince(since)
	if len(active) == 0 {
		t.mu.Lock()
		t.flushed = now
		t.mu.Unlock()
		return nil
	}
	if err := t.store.RecordActivity(ctx, active); err != nil {
		return err
	}
	t.mu.Lock()
	t.flushed = now
	t.mu.Unlock()
	return nil
}
