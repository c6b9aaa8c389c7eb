package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/stamphq/stamp"
)

// versioned describes a kind of resource that is written only at the
// resource version it was read at (tenants, releases, incidents, webhooks),
// for the tests and helpers every such kind shares.
type versioned[T any] struct {
	noun    string                                              // what the store's messages call one
	newOne  func(key string) T                                  // a new one with every field set
	key     func(v T) string                                    // its name or ID
	version func(v T) int64                                     // its ResourceVersion
	change  func(v T, n int)                                    // changes v, differently for each n
	norm    func(v T) any                                       // what comparisons compare
	create  func(s stamp.Store, ctx context.Context, v T) error // CreateX
	get     func(s stamp.Store, ctx context.Context, key string) (T, error)
	update  func(s stamp.Store, ctx context.Context, v T) error // UpdateX without events
}

var tenantKind = versioned[*stamp.Tenant]{
	noun:    "tenant",
	newOne:  newTenant,
	key:     func(t *stamp.Tenant) string { return t.Name },
	version: func(t *stamp.Tenant) int64 { return t.ResourceVersion },
	change:  func(t *stamp.Tenant, n int) { t.Spec.Plan = fmt.Sprintf("plan-%d", n) },
	norm:    func(t *stamp.Tenant) any { return normTenant(t) },
	create:  func(s stamp.Store, ctx context.Context, t *stamp.Tenant) error { return s.CreateTenant(ctx, t) },
	get:     stamp.Store.GetTenant,
	update:  func(s stamp.Store, ctx context.Context, t *stamp.Tenant) error { return s.UpdateTenant(ctx, t) },
}

var releaseKind = versioned[*stamp.Release]{
	noun:    "release",
	newOne:  newRelease,
	key:     func(r *stamp.Release) string { return r.ID },
	version: func(r *stamp.Release) int64 { return r.ResourceVersion },
	change:  func(r *stamp.Release, n int) { r.Status.Message = fmt.Sprintf("racer %d", n) },
	norm:    func(r *stamp.Release) any { return normRelease(r) },
	create:  func(s stamp.Store, ctx context.Context, r *stamp.Release) error { return s.CreateRelease(ctx, r) },
	get:     stamp.Store.GetRelease,
	update:  func(s stamp.Store, ctx context.Context, r *stamp.Release) error { return s.UpdateRelease(ctx, r) },
}

var incidentKind = versioned[*stamp.Incident]{
	noun:    "incident",
	newOne:  func(id string) *stamp.Incident { return newIncident(id, "acme", incidentEpoch) },
	key:     func(i *stamp.Incident) string { return i.ID },
	version: func(i *stamp.Incident) int64 { return i.ResourceVersion },
	change:  func(i *stamp.Incident, n int) { i.Message = fmt.Sprintf("racer %d", n) },
	norm:    func(i *stamp.Incident) any { return normIncident(i) },
	create:  stamp.Store.CreateIncident,
	get:     stamp.Store.GetIncident,
	update:  stamp.Store.UpdateIncident,
}

var webhookKind = versioned[*stamp.Webhook]{
	noun:    "webhook",
	newOne:  newWebhook,
	key:     func(w *stamp.Webhook) string { return w.ID },
	version: func(w *stamp.Webhook) int64 { return w.ResourceVersion },
	change:  func(w *stamp.Webhook, n int) { w.Delivered = int64(100 + n) },
	norm:    func(w *stamp.Webhook) any { return normWebhook(w) },
	create:  stamp.Store.CreateWebhook,
	get:     stamp.Store.GetWebhook,
	update:  stamp.Store.UpdateWebhook,
}

func (k versioned[T]) mustCreate(t *testing.T, s stamp.Store, v T) {
	t.Helper()
	if err := k.create(s, t.Context(), v); err != nil {
		t.Fatalf("create %s %q: %v", k.noun, k.key(v), err)
	}
}

func (k versioned[T]) mustGet(t *testing.T, s stamp.Store, key string) T {
	t.Helper()
	v, err := k.get(s, t.Context(), key)
	if err != nil {
		t.Fatalf("get %s %q: %v", k.noun, key, err)
	}
	return v
}

// testDuplicate: a create whose key is taken is ECONFLICT and leaves the
// stored one as it was.
func (k versioned[T]) testDuplicate(t *testing.T, s stamp.Store) {
	first := k.newOne("k1")
	k.mustCreate(t, s, first)
	second := k.newOne("k1")
	k.change(second, 1)
	assertError(t, k.create(s, t.Context(), second), stamp.ECONFLICT, fmt.Sprintf(`%s "k1" already exists`, k.noun))
	assertEqual(t, "get after the refused create", k.norm(k.mustGet(t, s, "k1")), k.norm(first))
}

// testStaleUpdate: of two writers that read the same version, the second
// to write gets ECONFLICT, and its struct and the stored one are left as
// they were.
func (k versioned[T]) testStaleUpdate(t *testing.T, s stamp.Store) {
	k.mustCreate(t, s, k.newOne("k1"))
	first, second := k.mustGet(t, s, "k1"), k.mustGet(t, s, "k1")
	version := k.version(first)

	k.change(first, 1)
	if err := k.update(s, t.Context(), first); err != nil {
		t.Fatalf("first update: %v", err)
	}
	if got := k.version(first); got != version+1 {
		t.Errorf("ResourceVersion after update: got %d, want %d", got, version+1)
	}

	k.change(second, 2)
	assertError(t, k.update(s, t.Context(), second), stamp.ECONFLICT, fmt.Sprintf(
		`%s "k1" was changed by someone else (resource version %d, stored %d); re-read and retry`, k.noun, version, version+1))
	if got := k.version(second); got != version {
		t.Errorf("ResourceVersion after a refused update: got %d, want %d unchanged", got, version)
	}
	assertEqual(t, "get after the refused update", k.norm(k.mustGet(t, s, "k1")), k.norm(first))
}

// testRacingUpdates: of writers racing from the same version, exactly one
// wins, and what is stored is what it wrote.
func (k versioned[T]) testRacingUpdates(t *testing.T, s stamp.Store) {
	k.mustCreate(t, s, k.newOne("k1"))
	base := k.mustGet(t, s, "k1")
	const racers = 20
	copies := make([]T, racers)
	for n := range racers {
		c := k.mustGet(t, s, "k1")
		k.change(c, n)
		copies[n] = c
	}
	winner := raceUpdates(t, racers, func(n int) error { return k.update(s, t.Context(), copies[n]) })
	got := k.mustGet(t, s, "k1")
	if k.version(got) != k.version(base)+1 {
		t.Errorf("stored ResourceVersion: got %d, want %d", k.version(got), k.version(base)+1)
	}
	assertEqual(t, "get after the race", k.norm(got), k.norm(copies[winner]))
}
