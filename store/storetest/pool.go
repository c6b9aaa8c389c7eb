package storetest

import (
	"maps"
	"slices"
	"testing"

	"github.com/stamphq/stamp"
)

// newPooled returns a pooled stamp named name with a uid and secrets.
func newPooled(t *testing.T, s stamp.Store, name string, uid int) *stamp.Tenant {
	t.Helper()
	p := newTenant(name)
	p.Spec.Pooled, p.Spec.Params = true, nil
	p.Status.UID = uid
	tenantKind.mustCreate(t, s, p)
	if err := s.PutSecrets(t.Context(), name, map[string]string{"SESSION_KEY": "k-" + name}); err != nil {
		t.Fatalf("PutSecrets(%s): %v", name, err)
	}
	return p
}

// testTenantClaim: a claim deletes the pooled stamp and creates the
// tenant under the stamp's runtime, uid and secrets in one step; a stale,
// missing or unpooled one is refused and changes nothing.
func testTenantClaim(t *testing.T, s stamp.Store) {
	ctx := t.Context()
	pooled := newPooled(t, s, "pool-a1", 200100)
	tenantKind.mustCreate(t, s, newTenant("globex"))

	claim := func(name string) *stamp.Tenant {
		c := newTenant(name)
		c.Status.Runtime, c.Status.UID = "pool-a1", 200100
		return c
	}
	secrets := map[string]string{"SESSION_KEY": "k-pool-a1"}
	assertError(t, s.ClaimTenant(ctx, "pool-a1", pooled.ResourceVersion+1, claim("acme"), secrets), stamp.ECONFLICT,
		`tenant "pool-a1" was changed by someone else (resource version 2, stored 1); re-read and retry`)
	assertError(t, s.ClaimTenant(ctx, "pool-zz", 1, claim("acme"), secrets), stamp.ENOTFOUND, `tenant "pool-zz" does not exist`)
	assertError(t, s.ClaimTenant(ctx, "globex", 1, claim("acme"), secrets), stamp.EINVALID,
		`tenant "globex" is not a pooled stamp: only the warm pool's stamps can be claimed`)
	assertError(t, s.ClaimTenant(ctx, "pool-a1", pooled.ResourceVersion, claim("globex"), secrets), stamp.ECONFLICT, `tenant "globex" already exists`)
	assertEqual(t, "the pool after refused claims", names(t, s, stamp.TenantPage{Pooled: true}), []string{"pool-a1"})

	acme := claim("acme")
	ev := &stamp.Event{Type: stamp.EventTenantCreated, Tenant: "acme", Message: "claimed pool-a1"}
	if err := s.ClaimTenant(ctx, "pool-a1", pooled.ResourceVersion, acme, secrets, ev); err != nil {
		t.Fatalf("ClaimTenant: %v", err)
	}
	if acme.ResourceVersion != 1 || acme.CreatedAt.IsZero() || ev.Seq == 0 {
		t.Errorf("claimed tenant: version %d, created %v, event seq %d; want 1, set, set", acme.ResourceVersion, acme.CreatedAt, ev.Seq)
	}
	got := tenantKind.mustGet(t, s, "acme")
	assertEqual(t, "acme's runtime and uid", [2]any{got.Status.Runtime, got.Status.UID}, [2]any{"pool-a1", 200100})
	if _, err := s.GetTenant(ctx, "pool-a1"); stamp.ErrorCode(err) != stamp.ENOTFOUND {
		t.Errorf("GetTenant(pool-a1) after the claim: %v, want ENOTFOUND", err)
	}
	have, err := s.Secrets(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "acme's secrets", have, secrets)
	if left, err := s.Secrets(ctx, "pool-a1"); err != nil || len(left) != 0 {
		t.Errorf("secrets of the claimed stamp: %v %v, want none", left, err)
	}

	byRuntime, err := s.TenantByRuntime(ctx, "pool-a1")
	if err != nil || byRuntime.Name != "acme" {
		t.Errorf("TenantByRuntime(pool-a1) = %v, %v; want acme", byRuntime, err)
	}
	if own, err := s.TenantByRuntime(ctx, "globex"); err != nil || own.Name != "globex" {
		t.Errorf("TenantByRuntime(globex) = %v, %v; want globex under its own name", own, err)
	}
	if _, err := s.TenantByRuntime(ctx, "acme"); stamp.ErrorCode(err) != stamp.ENOTFOUND {
		t.Errorf("TenantByRuntime(acme), a name that runs under another runtime: %v, want ENOTFOUND", err)
	}

	// No second tenant gets the runtime, by claim or by update.
	newPooled(t, s, "pool-a1", 200101) // the name is free again
	twice := claim("initech")
	twice.Status.UID = 200101
	assertError(t, s.ClaimTenant(ctx, "pool-a1", 1, twice, nil), stamp.ECONFLICT, `runtime "pool-a1" of tenant "initech" is held by another tenant`)
	g := tenantKind.mustGet(t, s, "globex")
	g.Status.Runtime = "pool-a1"
	assertError(t, s.UpdateTenant(ctx, g), stamp.ECONFLICT, `runtime "pool-a1" of tenant "globex" is held by another tenant`)
}

// testTenantPoolListing: listings leave pooled stamps out; the pool's own
// listing holds only them.
func testTenantPoolListing(t *testing.T, s stamp.Store) {
	for _, name := range []string{"acme", "globex"} {
		tenantKind.mustCreate(t, s, newTenant(name))
	}
	for i, name := range []string{"pool-b2", "pool-a1"} {
		newPooled(t, s, name, 200200+i)
	}
	assertEqual(t, "tenants", names(t, s, stamp.TenantPage{}), []string{"acme", "globex"})
	assertEqual(t, "pooled stamps", names(t, s, stamp.TenantPage{Pooled: true}), []string{"pool-a1", "pool-b2"})
	page, next := mustPage(t, s, stamp.TenantPage{Pooled: true, Limit: 1})
	assertEqual(t, "first pooled page", [2]any{len(page), next}, [2]any{1, "pool-a1"})

	// Claimed, a stamp is an ordinary tenant and listed as one.
	p := tenantKind.mustGet(t, s, "pool-a1")
	p.Spec.Pooled = false
	if err := s.UpdateTenant(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "tenants after an update", names(t, s, stamp.TenantPage{}), []string{"acme", "globex", "pool-a1"})
}

// names returns the names on every page of p's listing.
func names(t *testing.T, s stamp.Store, p stamp.TenantPage) []string {
	t.Helper()
	seen := map[string]bool{}
	for {
		page, next := mustPage(t, s, p)
		for _, tn := range page {
			seen[tn.Name] = true
		}
		if next == "" {
			return append([]string{}, slices.Sorted(maps.Keys(seen))...)
		}
		p.After = next
	}
}

// CheckMigratedRuntime checks a store just migrated to the warm pool's
// columns, holding tenant: it is listed, found by its own name as its
// runtime, and can claim a pooled stamp made after the migration. The
// stores' migration tests call it.
func CheckMigratedRuntime(t *testing.T, s stamp.Store, tenant *stamp.Tenant) {
	t.Helper()
	assertEqual(t, "tenants after migrating", names(t, s, stamp.TenantPage{}), []string{tenant.Name})
	assertEqual(t, "pooled stamps after migrating", names(t, s, stamp.TenantPage{Pooled: true}), []string{})
	if got, err := s.TenantByRuntime(t.Context(), tenant.Name); err != nil || got.Name != tenant.Name {
		t.Fatalf("TenantByRuntime(%s) after migrating: %v, %v", tenant.Name, got, err)
	}
	p := newPooled(t, s, "pool-m1", 0)
	c := newTenant("claimed")
	c.Status.Runtime = p.Name
	if err := s.ClaimTenant(t.Context(), p.Name, p.ResourceVersion, c, nil); err != nil {
		t.Fatalf("ClaimTenant after migrating: %v", err)
	}
}
