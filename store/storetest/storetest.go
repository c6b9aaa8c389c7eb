// Package storetest is the conformance suite of stamp.Store: every store
// implementation (SQLite, PostgreSQL) runs it from its own tests, so they all
// behave alike, error codes and messages included.
//
// What the suite demands beyond the interface's doc comments:
//   - Times come back as the same instant to the microsecond at least (the
//     suite compares them in UTC, truncated to the microsecond). A store
//     that keeps less than nanoseconds sets the value it kept on the struct.
//   - A nil and an empty map are the same (Spec.Params, Spec.Labels,
//     selectors), and so are a nil and an empty slice (Status.Endpoints,
//     Wave.Tenants, Incident.Timeline).
//   - A nil and an empty Webhook.Events are the same.
//   - Every time of an incident, a webhook and a delivery attempt comes
//     back in UTC.
//   - Bundles, releases and webhooks created at the same instant list in
//     the order of creation; incidents opened at the same instant list
//     newest first, the one created last first; delivery attempts list in
//     the reverse order of appending, whatever their At.
//   - A delivery attempt's Duration comes back to the nanosecond, and a
//     zero At is set to the store's clock, as an event's Time is.
//   - Delivery attempts of a webhook that does not exist are none, not an
//     error; appending one is ENOTFOUND.
//   - Incidents keep their text as JSON does: a NUL byte is kept, invalid
//     UTF-8 becomes U+FFFD, and neither stops an incident from being stored.
//   - Secrets of a tenant without any is an empty, non-nil map.
//   - Errors that are not the user's (a cancelled context, a broken
//     connection) are never a *stamp.Error and wrap their cause.
package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// Precision is the time precision the suite demands of a store.
const Precision = time.Microsecond

// Run runs the conformance suite against the stores open returns. open is
// called once per subtest and must return a new, empty store, closed by a
// t.Cleanup it registers.
func Run(t *testing.T, open func(t *testing.T) stamp.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s stamp.Store)
	}{
		{"bundle/create and get", testBundleCreateGet},
		{"bundle/same digest again is a no-op", testBundleSameDigest},
		{"bundle/different digest is a conflict", testBundleConflict},
		{"bundle/missing", testBundleMissing},
		{"bundle/content by digest", testBundleContent},
		{"bundle/list", testBundleList},
		{"bundle/yank and unyank", testBundleYank},
		{"bundle/racing yanks", testBundleYankRace},
		{"tenant/round trip", testTenantRoundTrip},
		{"tenant/duplicate", tenantKind.testDuplicate},
		{"tenant/missing", testTenantMissing},
		{"tenant/list ordered by name", testTenantList},
		{"tenant/pages", testTenantPages},
		{"tenant/pages while tenants come and go", testTenantPagesWhileChanging},
		{"tenant/filtered and counted", testTenantFilter},
		{"tenant/update with stale version", tenantKind.testStaleUpdate},
		{"tenant/update with events", testTenantUpdateWithEvents},
		{"tenant/racing updates", tenantKind.testRacingUpdates},
		{"tenant/delete", testTenantDelete},
		{"tenant/create and delete with events", testTenantCreateDeleteWithEvents},
		{"tenant/uid held by one tenant", testTenantUID},
		{"tenant/claim a pooled stamp", testTenantClaim},
		{"tenant/pooled stamps listed apart", testTenantPoolListing},
		{"secrets/put and merge", testSecrets},
		{"secrets/concurrent puts", testSecretsConcurrent},
		{"events/append assigns seq and time", testEventsAppend},
		{"events/filters", testEventsFilter},
		{"events/concurrent appends", testEventsConcurrent},
		{"release/round trip", testReleaseRoundTrip},
		{"release/duplicate", releaseKind.testDuplicate},
		{"release/missing", testReleaseMissing},
		{"release/list oldest first", testReleaseList},
		{"release/update with stale version", releaseKind.testStaleUpdate},
		{"release/racing updates", releaseKind.testRacingUpdates},
		{"release/with events", testReleaseWithEvents},
		{"incident/round trip", testIncidentRoundTrip},
		{"incident/output that is not text", testIncidentOutput},
		{"incident/duplicate", incidentKind.testDuplicate},
		{"incident/missing", testIncidentMissing},
		{"incident/list newest first", testIncidentList},
		{"incident/filters", testIncidentFilter},
		{"incident/update with stale version", incidentKind.testStaleUpdate},
		{"incident/racing updates", incidentKind.testRacingUpdates},
		{"webhook/round trip", testWebhookRoundTrip},
		{"webhook/duplicate", webhookKind.testDuplicate},
		{"webhook/missing", testWebhookMissing},
		{"webhook/list oldest first", testWebhookList},
		{"webhook/update with stale version", webhookKind.testStaleUpdate},
		{"webhook/racing updates", webhookKind.testRacingUpdates},
		{"webhook/delete removes its attempts", testWebhookDelete},
		{"webhook/attempts newest first", testDeliveryAttempts},
		{"token/create and find", testTokens},
		{"audit/append, list and pending", testAudit},
		{"pipeline/append and list", testPipeline},
		{"flow/index runs", testFlowIndex},
		{"lease/one holder at a time", testLeaseExclusive},
		{"lease/expires", testLeaseExpiry},
		{"lease/racing holders", testLeaseRace},
		{"activity/record and read", testActivityRecord},
		{"activity/missing tenant ignored", testActivityUnknownTenant},
		{"activity/deleted with its tenant", testActivityDelete},
		{"activity/10,000 tenants in one call", testActivityMany},
		{"activity/racing recorders", testActivityRacingRecorders},
		{"activity/record racing deletes", testActivityRacingDelete},
		{"cancelled context is an internal error", testCancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

// Bundles.

func newBundle(name, version, content string) *stamp.Bundle {
	return &stamp.Bundle{
		Name:        name,
		Version:     version,
		Description: "the " + name + " app",
		Digest:      digest(content),
		Size:        int64(len(content)),
		Content:     []byte(content),
	}
}

func digest(content string) string {
	return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(content)))
}

func testBundleCreateGet(t *testing.T, s stamp.Store) {
	b := newBundle("ledger", "1.0.0", "archive one")
	mustCreateBundle(t, s, b)
	if b.CreatedAt.IsZero() {
		t.Fatal("CreateBundle left CreatedAt zero")
	}
	got, err := s.GetBundle(t.Context(), "ledger", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	want := *b
	want.Content = nil
	assertEqual(t, "GetBundle", normBundle(got), normBundle(&want))
}

func testBundleSameDigest(t *testing.T, s stamp.Store) {
	first := newBundle("ledger", "1.0.0", "archive one")
	mustCreateBundle(t, s, first)
	again := newBundle("ledger", "1.0.0", "archive one")
	again.Description = "pushed again"
	if err := s.CreateBundle(t.Context(), again); err != nil {
		t.Fatalf("CreateBundle of the same digest again: got %v, want nil", err)
	}
	got, err := s.GetBundle(t.Context(), "ledger", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	want := *first
	want.Content = nil
	assertEqual(t, "GetBundle after the second push", normBundle(got), normBundle(&want))
}

func testBundleConflict(t *testing.T, s stamp.Store) {
	first := newBundle("ledger", "1.0.0", "archive one")
	mustCreateBundle(t, s, first)
	other := newBundle("ledger", "1.0.0", "archive two")
	err := s.CreateBundle(t.Context(), other)
	assertError(t, err, stamp.ECONFLICT, fmt.Sprintf(
		"blueprint ledger@1.0.0 already exists with different content (stored %s, pushed %s)", first.Digest, other.Digest))
	content, err := s.BundleContent(t.Context(), first.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if string(content) != "archive one" {
		t.Errorf("content after the refused push: got %q, want %q", content, "archive one")
	}
}

func testBundleMissing(t *testing.T, s stamp.Store) {
	mustCreateBundle(t, s, newBundle("ledger", "1.0.0", "archive one"))
	_, err := s.GetBundle(t.Context(), "ledger", "9.9.9")
	assertError(t, err, stamp.ENOTFOUND, "blueprint ledger@9.9.9 does not exist")
	_, err = s.GetBundle(t.Context(), "nope", "1.0.0")
	assertError(t, err, stamp.ENOTFOUND, "blueprint nope@1.0.0 does not exist")
}

func testBundleContent(t *testing.T, s stamp.Store) {
	one := newBundle("ledger", "1.0.0", "archive one")
	two := newBundle("ledger", "2.0.0", "archive two")
	mustCreateBundle(t, s, one)
	mustCreateBundle(t, s, two)
	for _, b := range []*stamp.Bundle{one, two} {
		got, err := s.BundleContent(t.Context(), b.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(b.Content) {
			t.Errorf("BundleContent(%s): got %q, want %q", b.Ref(), got, b.Content)
		}
	}
	unknown := digest("never pushed")
	_, err := s.BundleContent(t.Context(), unknown)
	assertError(t, err, stamp.ENOTFOUND, "no blueprint has digest "+unknown)
}

func testBundleList(t *testing.T, s stamp.Store) {
	got, err := s.ListBundles(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("ListBundles of an empty store: got %d bundles, want 0", len(got))
	}
	// Created out of name and version order: the listing is by name, then
	// by creation.
	for _, b := range []*stamp.Bundle{
		newBundle("ledger", "2.0.0", "ledger two"),
		newBundle("crm", "1.0.0", "crm one"),
		newBundle("ledger", "1.0.0", "ledger one"),
	} {
		mustCreateBundle(t, s, b)
	}
	got, err = s.ListBundles(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, b := range got {
		refs = append(refs, b.Ref())
		if b.Content != nil {
			t.Errorf("ListBundles: %s has %d bytes of content, want none", b.Ref(), len(b.Content))
		}
		if b.Digest == "" || b.Size == 0 || b.CreatedAt.IsZero() {
			t.Errorf("ListBundles: %s lacks digest, size or creation time: %+v", b.Ref(), b)
		}
	}
	assertEqual(t, "ListBundles", refs, []string{"crm@1.0.0", "ledger@2.0.0", "ledger@1.0.0"})
}

func mustCreateBundle(t *testing.T, s stamp.Store, b *stamp.Bundle) {
	t.Helper()
	if err := s.CreateBundle(t.Context(), b); err != nil {
		t.Fatalf("CreateBundle %s: %v", b.Ref(), err)
	}
}

// Tenants.

// newTenant returns a tenant with every field set, times in a zone that is
// not UTC and with nanoseconds, to catch lossy storage.
func newTenant(name string) *stamp.Tenant {
	zone := time.FixedZone("UTC+2", 2*60*60)
	return &stamp.Tenant{
		Name: name,
		Spec: stamp.TenantSpec{
			Blueprint: "ledger",
			Version:   "1.2.0",
			Plan:      "business",
			Params:    map[string]string{"currency": "EUR", "admin_email": "ops@" + name + ".example", "motto": "ça va ✓"},
			Labels:    map[string]string{"region": "eu", "tier": "gold"},
			Desired:   stamp.DesiredRunning,
			Pin:       "1.2.0",
			Channel:   stamp.ChannelBeta,
		},
		Status: stamp.TenantStatus{
			Phase:              stamp.PhaseReady,
			ObservedGeneration: 3,
			FailedStep:         stamp.StepHealth,
			Message:            "was unhealthy once",
			MigratedVersion:    "1.2.0",
			Seeded:             true,
			Endpoints:          []string{"127.0.0.1:41234", "127.0.0.1:41235"},
			URL:                "http://" + name + ".localhost:7080",
			ReadyAt:            time.Date(2025, 3, 4, 5, 6, 7, 123456789, zone),
			Version:            "1.1.0",
			Limits:             &stamp.Limits{Memory: 128 << 20, CPU: 0.25, PIDs: 256},
			Upgrade: &stamp.Upgrade{
				From:       "1.1.0",
				To:         "1.2.0",
				Snapshot:   "pre-1.2.0",
				Restore:    true,
				Migrating:  true,
				SwitchedAt: time.Date(2025, 3, 4, 5, 3, 0, 555666777, zone),
				FailedStep: stamp.StepHealth,
				Message:    "health check failed: 503",
				Result:     stamp.UpgradeRolledBack,
				StartedAt:  time.Date(2025, 3, 4, 5, 0, 0, 987654321, zone),
				FinishedAt: time.Date(2025, 3, 4, 5, 6, 0, 1000, zone),
			},
		},
		Generation: 3,
	}
}

func testTenantRoundTrip(t *testing.T, s stamp.Store) {
	tests := []struct {
		name   string
		tenant *stamp.Tenant
		change func(t *stamp.Tenant)
	}{
		{"every field set", newTenant("acme"), func(t *stamp.Tenant) {
			t.Spec.Params["currency"] = "USD"
			delete(t.Spec.Labels, "tier")
			t.Spec.Desired = stamp.DesiredDeleted
			t.Spec.Pin = ""
			t.Spec.Channel = stamp.ChannelStable
			t.Generation++
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseDeleting, ObservedGeneration: 4, Version: "1.2.0"}
		}},
		{"upgrade under way", &stamp.Tenant{Name: "moving", Spec: stamp.TenantSpec{Version: "2.0.0"}}, func(t *stamp.Tenant) {
			t.Status.Phase = stamp.PhaseUpgrading
			t.Status.Upgrade = &stamp.Upgrade{From: "1.0.0", To: "2.0.0", StartedAt: time.Date(2031, 1, 2, 3, 4, 5, 6789, time.UTC)}
		}},
		{"bare", &stamp.Tenant{Name: "bare"}, func(t *stamp.Tenant) {
			t.Spec.Params = map[string]string{"currency": "EUR"}
			t.Status.ReadyAt = time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)
		}},
		{"empty maps", &stamp.Tenant{Name: "empty", Spec: stamp.TenantSpec{Params: map[string]string{}, Labels: map[string]string{}}}, func(t *stamp.Tenant) {
			t.Spec.Plan = "starter"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant := tt.tenant
			tenantKind.mustCreate(t, s, tenant)
			if tenant.ResourceVersion == 0 || tenant.CreatedAt.IsZero() || tenant.UpdatedAt.IsZero() {
				t.Fatalf("CreateTenant left ResourceVersion %d, CreatedAt %v, UpdatedAt %v; want all set",
					tenant.ResourceVersion, tenant.CreatedAt, tenant.UpdatedAt)
			}
			assertEqual(t, "GetTenant after create", normTenant(tenantKind.mustGet(t, s, tenant.Name)), normTenant(tenant))

			createdAt, version := tenant.CreatedAt, tenant.ResourceVersion
			tt.change(tenant)
			if err := s.UpdateTenant(t.Context(), tenant); err != nil {
				t.Fatalf("UpdateTenant: %v", err)
			}
			if tenant.ResourceVersion != version+1 {
				t.Errorf("ResourceVersion after update: got %d, want %d", tenant.ResourceVersion, version+1)
			}
			if !tenant.CreatedAt.Equal(createdAt) || tenant.UpdatedAt.Before(createdAt) {
				t.Errorf("times after update: CreatedAt %v, UpdatedAt %v; want CreatedAt %v and UpdatedAt not before it",
					tenant.CreatedAt, tenant.UpdatedAt, createdAt)
			}
			assertEqual(t, "GetTenant after update", normTenant(tenantKind.mustGet(t, s, tenant.Name)), normTenant(tenant))
		})
	}
}

func testTenantMissing(t *testing.T, s stamp.Store) {
	tenantKind.mustCreate(t, s, newTenant("acme"))
	tests := []struct {
		name string
		call func() error
	}{
		{"get", func() error { _, err := s.GetTenant(t.Context(), "globex"); return err }},
		{"update", func() error {
			g := newTenant("globex")
			g.ResourceVersion = 1
			return s.UpdateTenant(t.Context(), g)
		}},
		{"delete", func() error { return s.DeleteTenant(t.Context(), "globex", 1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertError(t, tt.call(), stamp.ENOTFOUND, `tenant "globex" does not exist`)
		})
	}
}

func testTenantList(t *testing.T, s stamp.Store) {
	got, err := s.ListTenants(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("ListTenants of an empty store: got %d tenants, want 0", len(got))
	}
	want := map[string]*stamp.Tenant{}
	for _, name := range []string{"zeta", "acme", "m-1", "m-0", "globex"} {
		tenant := newTenant(name)
		tenantKind.mustCreate(t, s, tenant)
		want[name] = tenant
	}
	got, err = s.ListTenants(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tenant := range got {
		names = append(names, tenant.Name)
		if w, ok := want[tenant.Name]; ok {
			assertEqual(t, "ListTenants entry", normTenant(tenant), normTenant(w))
		}
	}
	assertEqual(t, "ListTenants names", names, []string{"acme", "globex", "m-0", "m-1", "zeta"})
}

// testTenantUpdateWithEvents: the events of an update are appended with
// it, numbered after what came before; a refused update appends none.
func testTenantUpdateWithEvents(t *testing.T, s stamp.Store) {
	tenantKind.mustCreate(t, s, newTenant("acme"))
	before := &stamp.Event{Type: stamp.EventTenantCreated, Tenant: "acme"}
	mustAppend(t, s, before)
	tn, stale := tenantKind.mustGet(t, s, "acme"), tenantKind.mustGet(t, s, "acme")
	tn.Status.Phase = stamp.PhaseReady
	events := []*stamp.Event{
		{Type: stamp.EventStep, Tenant: "acme", Step: stamp.StepRetire, Status: stamp.StatusOK},
		{Type: stamp.EventTenantUpgraded, Tenant: "acme", Message: "from 1.0.0 to 2.0.0"},
	}
	if err := s.UpdateTenant(t.Context(), tn, events...); err != nil {
		t.Fatalf("UpdateTenant with events: %v", err)
	}
	if events[0].Seq <= before.Seq || events[1].Seq <= events[0].Seq || events[0].Time.IsZero() {
		t.Errorf("events of the update: seq %d, %d (time %v); want above %d, in order, with a time", events[0].Seq, events[1].Seq, events[0].Time, before.Seq)
	}
	assertEqual(t, "ListEvents after the update", normEvents(mustListEvents(t, s, stamp.EventFilter{})), normEvents(append([]*stamp.Event{before}, events...)))

	stale.Status.Phase = stamp.PhaseFailed
	refused := &stamp.Event{Type: stamp.EventTenantFailed, Tenant: "acme"}
	if err := s.UpdateTenant(t.Context(), stale, refused); stamp.ErrorCode(err) != stamp.ECONFLICT {
		t.Fatalf("UpdateTenant with events at a stale version: %v; want ECONFLICT", err)
	}
	if refused.Seq != 0 {
		t.Errorf("the refused update's event got seq %d", refused.Seq)
	}
	if got := mustListEvents(t, s, stamp.EventFilter{}); len(got) != 3 {
		t.Errorf("after a refused update: %d events, want the 3 from before", len(got))
	}
	missing := newTenant("globex")
	missing.ResourceVersion = 1
	if err := s.UpdateTenant(t.Context(), missing, &stamp.Event{Type: stamp.EventTenantReady, Tenant: "globex"}); stamp.ErrorCode(err) != stamp.ENOTFOUND {
		t.Errorf("UpdateTenant with events of a missing tenant: %v; want ENOTFOUND", err)
	}
	if got := mustListEvents(t, s, stamp.EventFilter{}); len(got) != 3 {
		t.Errorf("after an update of a missing tenant: %d events, want 3", len(got))
	}
}

// raceUpdates runs update(0) to update(racers-1) at once, each writing its
// own copy of one record read at the same version, and returns the one
// that won: exactly one must, and the others must get ECONFLICT.
func raceUpdates(t *testing.T, racers int, update func(n int) error) int {
	t.Helper()
	errs := make([]error, racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for n := range racers {
		wg.Go(func() {
			<-start
			errs[n] = update(n)
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for n, err := range errs {
		switch code := stamp.ErrorCode(err); code {
		case "":
			if winner >= 0 {
				t.Errorf("updates %d and %d both won the same resource version", winner, n)
			}
			winner = n
		case stamp.ECONFLICT:
		default:
			t.Errorf("update %d: got code %q (%v), want %q or success", n, code, err, stamp.ECONFLICT)
		}
	}
	if winner < 0 {
		t.Fatal("no update won")
	}
	return winner
}

func testTenantDelete(t *testing.T, s stamp.Store) {
	tenant := newTenant("acme")
	tenantKind.mustCreate(t, s, tenant)
	mustPutSecrets(t, s, "acme", map[string]string{"session_key": "s3cret"})
	stale := tenant.ResourceVersion
	tenant.Status.Phase = stamp.PhaseDeleting
	if err := s.UpdateTenant(t.Context(), tenant); err != nil {
		t.Fatal(err)
	}

	assertError(t, s.DeleteTenant(t.Context(), "acme", stale), stamp.ECONFLICT, fmt.Sprintf(
		`tenant "acme" was changed by someone else (resource version %d, stored %d); re-read and retry`, stale, tenant.ResourceVersion))
	tenantKind.mustGet(t, s, "acme")
	assertEqual(t, "Secrets after the refused delete", mustSecrets(t, s, "acme"), map[string]string{"session_key": "s3cret"})

	if err := s.DeleteTenant(t.Context(), "acme", tenant.ResourceVersion); err != nil {
		t.Fatalf("DeleteTenant: %v", err)
	}
	_, err := s.GetTenant(t.Context(), "acme")
	assertError(t, err, stamp.ENOTFOUND, `tenant "acme" does not exist`)
	assertEqual(t, "Secrets after delete", mustSecrets(t, s, "acme"), map[string]string{})
	assertError(t, s.DeleteTenant(t.Context(), "acme", tenant.ResourceVersion), stamp.ENOTFOUND, `tenant "acme" does not exist`)

	// A new tenant of the same name starts afresh.
	tenantKind.mustCreate(t, s, newTenant("acme"))
	assertEqual(t, "Secrets of the new acme", mustSecrets(t, s, "acme"), map[string]string{})
}

// testTenantUID checks that no two tenants hold one Unix user: a create
// or an update that would give a held uid to another tenant is refused,
// tenants without one (uid 0) never clash, and a deleted tenant's uid is
// free again.
func testTenantUID(t *testing.T, s stamp.Store) {
	acme := newTenant("acme")
	acme.Status.UID = 200001
	tenantKind.mustCreate(t, s, acme)

	globex := newTenant("globex")
	globex.Status.UID = 200001
	assertError(t, s.CreateTenant(t.Context(), globex), stamp.ECONFLICT, `uid 200001 of tenant "globex" is held by another tenant`)
	globex.Status.UID = 0
	tenantKind.mustCreate(t, s, globex)
	tenantKind.mustCreate(t, s, newTenant("initech")) // a second tenant without a uid

	globex.Status.UID = 200001
	rv := globex.ResourceVersion
	assertError(t, s.UpdateTenant(t.Context(), globex), stamp.ECONFLICT, `uid 200001 of tenant "globex" is held by another tenant`)
	assertEqual(t, "globex's version after the refused update", tenantKind.mustGet(t, s, "globex").ResourceVersion, rv)
	assertEqual(t, "globex's uid after the refused update", tenantKind.mustGet(t, s, "globex").Status.UID, 0)
	globex.Status.UID = 200002
	if err := s.UpdateTenant(t.Context(), globex); err != nil {
		t.Fatalf("UpdateTenant with a free uid: %v", err)
	}
	assertEqual(t, "globex's uid", tenantKind.mustGet(t, s, "globex").Status.UID, 200002)

	if err := s.DeleteTenant(t.Context(), "acme", acme.ResourceVersion); err != nil {
		t.Fatalf("DeleteTenant: %v", err)
	}
	again := newTenant("hooli")
	again.Status.UID = 200001
	tenantKind.mustCreate(t, s, again)
}

// Releases.

// newRelease returns a release with every field set, times in a zone that
// is not UTC and with nanoseconds, to catch lossy storage.
func newRelease(id string) *stamp.Release {
	zone := time.FixedZone("UTC-3", -3*60*60)
	started := time.Date(2025, 9, 1, 10, 0, 0, 123456789, zone)
	return &stamp.Release{
		ID: id,
		Spec: stamp.ReleaseSpec{
			Blueprint: "ledger",
			Version:   "1.3.0",
			Channel:   stamp.ChannelBeta,
			Selector:  map[string]string{"region": "eu"},
			Waves: []stamp.Wave{
				{Tenants: []string{"acme", "globex"}},
				{Count: 3},
				{Percent: 12.5},
				{Selector: map[string]string{"tier": "gold"}},
			},
			MaxParallel:  4,
			Soak:         stamp.Duration(90*time.Second + 250*time.Millisecond),
			MaxErrorRate: 0.015,
			OnFailure:    stamp.OnFailureRollback,
			Paused:       true,
			Aborted:      true,
		},
		Status: stamp.ReleaseStatus{
			State:     stamp.ReleasePaused,
			Message:   "paused by ops: ça va ✓",
			Wave:      1,
			GateSince: started.Add(time.Minute),
			Tenants: []stamp.ReleaseTenant{
				{Name: "acme", Wave: 0, From: "1.2.0", State: stamp.ReleaseTenantUpgraded, Generation: 7,
					StartedAt: started, FinishedAt: started.Add(30*time.Second + 1000)},
				{Name: "globex", Wave: 0, From: "1.1.0", State: stamp.ReleaseTenantSkipped, Message: "pinned to 1.1.0"},
				{Name: "initech", Wave: 1, From: "1.2.0", State: stamp.ReleaseTenantPending},
			},
			StartedAt:  started,
			FinishedAt: started.Add(time.Hour),
		},
	}
}

func testReleaseRoundTrip(t *testing.T, s stamp.Store) {
	tests := []struct {
		name    string
		release *stamp.Release
		change  func(r *stamp.Release)
	}{
		{"every field set", newRelease("r1"), func(r *stamp.Release) {
			r.Spec.Paused, r.Spec.Aborted = false, false
			r.Spec.Waves = r.Spec.Waves[:2]
			r.Spec.Soak = stamp.Duration(time.Minute)
			r.Status.State = stamp.ReleaseRollingBack
			r.Status.Wave = 2
			r.Status.Tenants[2].State = stamp.ReleaseTenantRollingBack
			r.Status.Tenants[2].StartedAt = time.Date(2025, 9, 1, 14, 0, 0, 5000, time.UTC)
			r.Status.FinishedAt = time.Time{}
		}},
		{"bare", &stamp.Release{ID: "bare"}, func(r *stamp.Release) {
			r.Spec.Waves = []stamp.Wave{{Percent: 100}}
			r.Status = stamp.ReleaseStatus{State: stamp.ReleaseSucceeded, FinishedAt: time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)}
		}},
		{"empty maps and slices", &stamp.Release{ID: "empty", Spec: stamp.ReleaseSpec{
			Selector: map[string]string{},
			Waves:    []stamp.Wave{{Tenants: []string{}, Selector: map[string]string{}}},
		}, Status: stamp.ReleaseStatus{Tenants: []stamp.ReleaseTenant{}}}, func(r *stamp.Release) {
			r.Spec.OnFailure = stamp.OnFailurePause
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.release
			releaseKind.mustCreate(t, s, r)
			if r.ResourceVersion != 1 || r.CreatedAt.IsZero() || !r.UpdatedAt.Equal(r.CreatedAt) {
				t.Fatalf("CreateRelease left ResourceVersion %d, CreatedAt %v, UpdatedAt %v; want 1 and two equal times",
					r.ResourceVersion, r.CreatedAt, r.UpdatedAt)
			}
			assertEqual(t, "GetRelease after create", normRelease(releaseKind.mustGet(t, s, r.ID)), normRelease(r))

			createdAt := r.CreatedAt
			tt.change(r)
			if err := s.UpdateRelease(t.Context(), r); err != nil {
				t.Fatalf("UpdateRelease: %v", err)
			}
			if r.ResourceVersion != 2 {
				t.Errorf("ResourceVersion after update: got %d, want 2", r.ResourceVersion)
			}
			if !r.CreatedAt.Equal(createdAt) || r.UpdatedAt.Before(createdAt) {
				t.Errorf("times after update: CreatedAt %v, UpdatedAt %v; want CreatedAt %v and UpdatedAt not before it",
					r.CreatedAt, r.UpdatedAt, createdAt)
			}
			assertEqual(t, "GetRelease after update", normRelease(releaseKind.mustGet(t, s, r.ID)), normRelease(r))
		})
	}
}

func testReleaseMissing(t *testing.T, s stamp.Store) {
	releaseKind.mustCreate(t, s, newRelease("r1"))
	tests := []struct {
		name string
		call func() error
	}{
		{"get", func() error { _, err := s.GetRelease(t.Context(), "r2"); return err }},
		{"update", func() error {
			r := newRelease("r2")
			r.ResourceVersion = 1
			return s.UpdateRelease(t.Context(), r)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertError(t, tt.call(), stamp.ENOTFOUND, `release "r2" does not exist`)
		})
	}
	// A tenant of that name is not a release.
	tenantKind.mustCreate(t, s, newTenant("r3"))
	_, err := s.GetRelease(t.Context(), "r3")
	assertError(t, err, stamp.ENOTFOUND, `release "r3" does not exist`)
}

func testReleaseList(t *testing.T, s stamp.Store) {
	got, err := s.ListReleases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("ListReleases of an empty store: got %d releases, want 0", len(got))
	}
	// Created out of ID order, and the first one updated last: the listing
	// is by creation.
	ids := []string{"r-c", "r-a", "r-d", "r-b"}
	want := map[string]*stamp.Release{}
	for _, id := range ids {
		r := newRelease(id)
		releaseKind.mustCreate(t, s, r)
		want[id] = r
	}
	first := want[ids[0]]
	first.Status.State = stamp.ReleaseSucceeded
	if err := s.UpdateRelease(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	got, err = s.ListReleases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, r := range got {
		listed = append(listed, r.ID)
		if w, ok := want[r.ID]; ok {
			assertEqual(t, "ListReleases entry", normRelease(r), normRelease(w))
		}
	}
	assertEqual(t, "ListReleases IDs", listed, ids)
}

// Incidents.

// incidentEpoch is when the suite's incidents open, give or take.
var incidentEpoch = time.Date(2025, 11, 3, 4, 5, 6, 123456789, time.UTC)

// newIncident returns an incident of tenant opened at openedAt with every
// field set, times in a zone that is not UTC and with nanoseconds, to catch
// lossy storage.
func newIncident(id, tenant string, openedAt time.Time) *stamp.Incident {
	zone := time.FixedZone("UTC+5:30", 5*60*60+30*60)
	opened := openedAt.In(zone)
	acked := opened.Add(90*time.Second + 123)
	resolved := opened.Add(time.Hour + 456)
	return &stamp.Incident{
		ID:       id,
		Tenant:   tenant,
		Service:  "web",
		Cause:    stamp.CauseProbe,
		Message:  "GET /healthz: 503 Service Unavailable",
		LastLogs: "listening on :8080\npanic: ça va ✓\n",
		State:    stamp.IncidentResolved,
		Timeline: []stamp.IncidentEntry{
			{Time: opened, Message: "probe failed 3 times"},
			{Time: acked, Message: "acknowledged by ops@" + tenant + ".example"},
			{Time: resolved.In(time.FixedZone("UTC-8", -8*60*60)), Message: "probe passed"},
		},
		OpenedAt:   opened,
		AckedAt:    acked,
		AckedBy:    "ops@" + tenant + ".example",
		ResolvedAt: resolved,
		ResolvedBy: "monitor",
	}
}

func testIncidentRoundTrip(t *testing.T, s stamp.Store) {
	tests := []struct {
		name     string
		incident *stamp.Incident
		change   func(i *stamp.Incident)
	}{
		{"every field set", newIncident("i1", "acme", incidentEpoch), func(i *stamp.Incident) {
			i.Service = ""
			i.Cause = stamp.CauseOOM
			i.Message = "killed for memory"
			i.LastLogs = ""
			i.State = stamp.IncidentOpen
			i.Timeline = append(i.Timeline, stamp.IncidentEntry{
				Time: time.Date(2025, 11, 3, 9, 0, 0, 987654321, time.FixedZone("UTC+1", 60*60)), Message: "reopened"})
			i.AckedAt, i.AckedBy, i.ResolvedAt, i.ResolvedBy = time.Time{}, "", time.Time{}, ""
		}},
		{"bare", &stamp.Incident{ID: "bare", Tenant: "acme", State: stamp.IncidentOpen, OpenedAt: incidentEpoch}, func(i *stamp.Incident) {
			i.Cause = stamp.CauseExit
			i.Message = "exit status 137"
			i.Timeline = []stamp.IncidentEntry{{Time: incidentEpoch.Add(time.Second), Message: "restarted"}}
			i.State = stamp.IncidentAcknowledged
		}},
		{"empty timeline", &stamp.Incident{ID: "empty", Tenant: "acme", State: stamp.IncidentOpen, OpenedAt: incidentEpoch,
			Timeline: []stamp.IncidentEntry{}}, func(i *stamp.Incident) {
			i.Cause = stamp.CauseStep
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i := tt.incident
			incidentKind.mustCreate(t, s, i)
			if i.ResourceVersion != 1 || i.UpdatedAt.IsZero() {
				t.Fatalf("CreateIncident left ResourceVersion %d, UpdatedAt %v; want 1 and a time", i.ResourceVersion, i.UpdatedAt)
			}
			got := incidentKind.mustGet(t, s, i.ID)
			assertEqual(t, "GetIncident after create", normIncident(got), normIncident(i))
			assertIncidentUTC(t, got)

			updatedAt := i.UpdatedAt
			tt.change(i)
			if err := s.UpdateIncident(t.Context(), i); err != nil {
				t.Fatalf("UpdateIncident: %v", err)
			}
			if i.ResourceVersion != 2 {
				t.Errorf("ResourceVersion after update: got %d, want 2", i.ResourceVersion)
			}
			if i.UpdatedAt.Before(updatedAt) {
				t.Errorf("UpdatedAt after update: got %v, want not before %v", i.UpdatedAt, updatedAt)
			}
			got = incidentKind.mustGet(t, s, i.ID)
			assertEqual(t, "GetIncident after update", normIncident(got), normIncident(i))
			assertIncidentUTC(t, got)
		})
	}
}

// testIncidentOutput stores process output that is not text, as LastLogs
// may hold: NUL bytes are kept, invalid UTF-8 becomes U+FFFD, and the
// incident is stored either way.
func testIncidentOutput(t *testing.T, s stamp.Store) {
	i := newIncident("i1", "acme", incidentEpoch)
	i.LastLogs = "a\x00b\xffc"
	i.Timeline[0].Message = "\x00"
	incidentKind.mustCreate(t, s, i)
	got := incidentKind.mustGet(t, s, "i1")
	if got.LastLogs != "a\x00b\uFFFDc" || got.Timeline[0].Message != "\x00" {
		t.Errorf("LastLogs and first timeline message: got %q and %q, want %q and %q",
			got.LastLogs, got.Timeline[0].Message, "a\x00b\uFFFDc", "\x00")
	}
}

func testIncidentMissing(t *testing.T, s stamp.Store) {
	incidentKind.mustCreate(t, s, newIncident("i1", "acme", incidentEpoch))
	tests := []struct {
		name string
		call func() error
	}{
		{"get", func() error { _, err := s.GetIncident(t.Context(), "i2"); return err }},
		{"update", func() error {
			i := newIncident("i2", "acme", incidentEpoch)
			i.ResourceVersion = 1
			return s.UpdateIncident(t.Context(), i)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertError(t, tt.call(), stamp.ENOTFOUND, `incident "i2" does not exist`)
		})
	}
	// A release of that ID is not an incident.
	releaseKind.mustCreate(t, s, newRelease("r3"))
	_, err := s.GetIncident(t.Context(), "r3")
	assertError(t, err, stamp.ENOTFOUND, `incident "r3" does not exist`)
}

func testIncidentList(t *testing.T, s stamp.Store) {
	if got := mustListIncidents(t, s, stamp.IncidentFilter{}); len(got) != 0 {
		t.Fatalf("ListIncidents of an empty store: got %d incidents, want 0", len(got))
	}
	// Created out of order. i-d and i-c open at the same instant: the one
	// created last is the newer. i-e's zone puts its wall clock after all
	// the others: the order is by instant, not by how the time is written.
	far := time.FixedZone("UTC+10", 10*60*60)
	created := []*stamp.Incident{
		newIncident("i-b", "acme", incidentEpoch.Add(2*time.Hour)),
		newIncident("i-a", "acme", incidentEpoch),
		newIncident("i-d", "globex", incidentEpoch.Add(time.Hour)),
		newIncident("i-c", "acme", incidentEpoch.Add(time.Hour)),
		newIncident("i-e", "acme", incidentEpoch.Add(30*time.Minute).In(far)),
	}
	want := map[string]*stamp.Incident{}
	for _, i := range created {
		incidentKind.mustCreate(t, s, i)
		want[i.ID] = i
	}
	// An update changes neither the order of ties nor anything else.
	d := want["i-d"]
	d.Message = "updated last"
	if err := s.UpdateIncident(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, i := range mustListIncidents(t, s, stamp.IncidentFilter{}) {
		listed = append(listed, i.ID)
		if w, ok := want[i.ID]; ok {
			assertEqual(t, "ListIncidents entry", normIncident(i), normIncident(w))
		}
		assertIncidentUTC(t, i)
	}
	assertEqual(t, "ListIncidents IDs", listed, []string{"i-b", "i-c", "i-d", "i-e", "i-a"})
}

func testIncidentFilter(t *testing.T, s stamp.Store) {
	var incidents []*stamp.Incident
	for n, ts := range [][2]string{
		{"acme", stamp.IncidentOpen},
		{"globex", stamp.IncidentResolved},
		{"acme", stamp.IncidentAcknowledged},
		{"acme", stamp.IncidentResolved},
		{"globex", stamp.IncidentOpen},
		{"acme", stamp.IncidentOpen},
	} {
		i := newIncident(fmt.Sprintf("%s-%d", ts[0], n), ts[0], incidentEpoch.Add(time.Duration(n)*time.Minute))
		i.State = ts[1]
		incidentKind.mustCreate(t, s, i)
		incidents = append(incidents, i)
	}
	ids := func(ns ...int) []string {
		var ids []string
		for _, n := range ns {
			ids = append(ids, incidents[n].ID)
		}
		return ids
	}
	listed := func(t *testing.T, f stamp.IncidentFilter) []string {
		t.Helper()
		var ids []string
		for _, i := range mustListIncidents(t, s, f) {
			ids = append(ids, i.ID)
		}
		return ids
	}
	tests := []struct {
		name   string
		filter stamp.IncidentFilter
		want   []string
	}{
		{"everything", stamp.IncidentFilter{}, ids(5, 4, 3, 2, 1, 0)},
		{"tenant", stamp.IncidentFilter{Tenant: "acme"}, ids(5, 3, 2, 0)},
		{"unknown tenant", stamp.IncidentFilter{Tenant: "initech"}, nil},
		{"open or acknowledged", stamp.IncidentFilter{Open: true}, ids(5, 4, 2, 0)},
		{"open of a tenant", stamp.IncidentFilter{Tenant: "acme", Open: true}, ids(5, 2, 0)},
		{"open of another tenant", stamp.IncidentFilter{Tenant: "globex", Open: true}, ids(4)},
		{"limit", stamp.IncidentFilter{Limit: 2}, ids(5, 4)},
		{"limit above the count", stamp.IncidentFilter{Limit: 100}, ids(5, 4, 3, 2, 1, 0)},
		{"tenant with limit", stamp.IncidentFilter{Tenant: "globex", Limit: 1}, ids(4)},
		{"open of a tenant with limit", stamp.IncidentFilter{Tenant: "acme", Open: true, Limit: 2}, ids(5, 2)},
		{"tenants", stamp.IncidentFilter{Tenants: []string{"globex", "initech"}}, ids(4, 1)},
		{"no tenants", stamp.IncidentFilter{Tenants: []string{}}, nil},
		{"opened since", stamp.IncidentFilter{OpenedSince: incidentEpoch.Add(3 * time.Minute)}, ids(5, 4, 3)},
		{"opened since, in another zone", stamp.IncidentFilter{OpenedSince: incidentEpoch.Add(4 * time.Minute).In(time.FixedZone("UTC+5", 5*60*60))}, ids(5, 4)},
		{"tenants opened since", stamp.IncidentFilter{Tenants: []string{"acme", "globex"}, OpenedSince: incidentEpoch.Add(2 * time.Minute), Limit: 2}, ids(5, 4)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertEqual(t, fmt.Sprintf("ListIncidents(%+v) IDs", tt.filter), listed(t, tt.filter), tt.want)
		})
	}

	// The filters see the state and tenant an update wrote.
	resolved := incidents[2]
	resolved.State = stamp.IncidentResolved
	if err := s.UpdateIncident(t.Context(), resolved); err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "open incidents of acme after resolving one", listed(t, stamp.IncidentFilter{Tenant: "acme", Open: true}), ids(5, 0))
	moved := incidents[1]
	moved.Tenant, moved.State = "acme", stamp.IncidentAcknowledged
	if err := s.UpdateIncident(t.Context(), moved); err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "open incidents of acme after another update", listed(t, stamp.IncidentFilter{Tenant: "acme", Open: true}), ids(5, 1, 0))

	_, err := s.ListIncidents(t.Context(), stamp.IncidentFilter{Limit: -1})
	assertError(t, err, stamp.EINVALID, "incident limit -1 is negative")
}

func mustListIncidents(t *testing.T, s stamp.Store, f stamp.IncidentFilter) []*stamp.Incident {
	t.Helper()
	is, err := s.ListIncidents(t.Context(), f)
	if err != nil {
		t.Fatalf("ListIncidents(%+v): %v", f, err)
	}
	return is
}

// assertIncidentUTC checks that every time of i is in UTC, as the store
// hands out every time.
func assertIncidentUTC(t *testing.T, i *stamp.Incident) {
	t.Helper()
	times := map[string]time.Time{"OpenedAt": i.OpenedAt, "AckedAt": i.AckedAt, "ResolvedAt": i.ResolvedAt, "UpdatedAt": i.UpdatedAt}
	for n, e := range i.Timeline {
		times[fmt.Sprintf("Timeline[%d].Time", n)] = e.Time
	}
	for name, tm := range times {
		if tm.Location() != time.UTC {
			t.Errorf("incident %q: %s is %v, want it in UTC", i.ID, name, tm)
		}
	}
}

// Webhooks.

// newWebhook returns a webhook with every field set, its time in a zone
// that is not UTC and with nanoseconds, to catch lossy storage.
func newWebhook(id string) *stamp.Webhook {
	return &stamp.Webhook{
		ID:          id,
		URL:         "https://hooks." + id + ".example/stamp?team=ops&x=ça",
		Events:      []string{"incident.*", "tenant.ready", "release.*"},
		Secret:      "whsec-" + id + "-ça va ✓",
		Delivered:   42,
		Failures:    3,
		NextAttempt: time.Date(2025, 12, 1, 2, 3, 4, 567891234, time.FixedZone("UTC-7", -7*60*60)),
		LastError:   "POST: 502 Bad Gateway",
	}
}

func testWebhookRoundTrip(t *testing.T, s stamp.Store) {
	tests := []struct {
		name    string
		webhook *stamp.Webhook
		change  func(w *stamp.Webhook)
	}{
		{"every field set", newWebhook("w1"), func(w *stamp.Webhook) {
			w.URL = "http://127.0.0.1:9/hook"
			w.Events = w.Events[:1]
			w.Secret = "rotated"
			w.Delivered = 43
			w.Failures, w.NextAttempt, w.LastError = 0, time.Time{}, ""
		}},
		{"bare", &stamp.Webhook{ID: "bare"}, func(w *stamp.Webhook) {
			w.Events = []string{"*"}
			w.Failures = 1
			w.NextAttempt = time.Date(2031, 1, 2, 3, 4, 5, 6789, time.FixedZone("UTC+9", 9*60*60))
			w.LastError = "dial tcp: connection refused"
		}},
		{"empty events", &stamp.Webhook{ID: "empty", URL: "http://example.test/", Events: []string{}}, func(w *stamp.Webhook) {
			w.Delivered = 7
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := tt.webhook
			webhookKind.mustCreate(t, s, w)
			if w.ResourceVersion != 1 || w.CreatedAt.IsZero() || !w.UpdatedAt.Equal(w.CreatedAt) {
				t.Fatalf("CreateWebhook left ResourceVersion %d, CreatedAt %v, UpdatedAt %v; want 1 and two equal times",
					w.ResourceVersion, w.CreatedAt, w.UpdatedAt)
			}
			got := webhookKind.mustGet(t, s, w.ID)
			assertEqual(t, "GetWebhook after create", normWebhook(got), normWebhook(w))
			assertWebhookUTC(t, got)

			createdAt := w.CreatedAt
			tt.change(w)
			if err := s.UpdateWebhook(t.Context(), w); err != nil {
				t.Fatalf("UpdateWebhook: %v", err)
			}
			if w.ResourceVersion != 2 {
				t.Errorf("ResourceVersion after update: got %d, want 2", w.ResourceVersion)
			}
			if !w.CreatedAt.Equal(createdAt) || w.UpdatedAt.Before(createdAt) {
				t.Errorf("times after update: CreatedAt %v, UpdatedAt %v; want CreatedAt %v and UpdatedAt not before it",
					w.CreatedAt, w.UpdatedAt, createdAt)
			}
			got = webhookKind.mustGet(t, s, w.ID)
			assertEqual(t, "GetWebhook after update", normWebhook(got), normWebhook(w))
			assertWebhookUTC(t, got)
		})
	}
}

func testWebhookMissing(t *testing.T, s stamp.Store) {
	webhookKind.mustCreate(t, s, newWebhook("w1"))
	tests := []struct {
		name string
		call func() error
	}{
		{"get", func() error { _, err := s.GetWebhook(t.Context(), "w2"); return err }},
		{"update", func() error {
			w := newWebhook("w2")
			w.ResourceVersion = 1
			return s.UpdateWebhook(t.Context(), w)
		}},
		{"delete", func() error { return s.DeleteWebhook(t.Context(), "w2") }},
		{"append an attempt", func() error {
			return s.AppendDeliveryAttempt(t.Context(), &stamp.DeliveryAttempt{Webhook: "w2", EventSeq: 1, Attempt: 1, At: incidentEpoch})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertError(t, tt.call(), stamp.ENOTFOUND, `webhook "w2" does not exist`)
		})
	}
	if got := mustListAttempts(t, s, "w2", 0); len(got) != 0 {
		t.Errorf("ListDeliveryAttempts of a missing webhook: got %+v, want none", normAttempts(got))
	}
	// A release of that ID is not a webhook.
	releaseKind.mustCreate(t, s, newRelease("r3"))
	_, err := s.GetWebhook(t.Context(), "r3")
	assertError(t, err, stamp.ENOTFOUND, `webhook "r3" does not exist`)
}

func testWebhookList(t *testing.T, s stamp.Store) {
	if got := mustListWebhooks(t, s); len(got) != 0 {
		t.Fatalf("ListWebhooks of an empty store: got %d webhooks, want 0", len(got))
	}
	// Created out of ID order, and the first one updated last: the listing
	// is by creation.
	ids := []string{"w-c", "w-a", "w-d", "w-b"}
	want := map[string]*stamp.Webhook{}
	for _, id := range ids {
		w := newWebhook(id)
		webhookKind.mustCreate(t, s, w)
		want[id] = w
	}
	first := want[ids[0]]
	first.Delivered = 99
	if err := s.UpdateWebhook(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, w := range mustListWebhooks(t, s) {
		listed = append(listed, w.ID)
		if e, ok := want[w.ID]; ok {
			assertEqual(t, "ListWebhooks entry", normWebhook(w), normWebhook(e))
		}
		assertWebhookUTC(t, w)
	}
	assertEqual(t, "ListWebhooks IDs", listed, ids)
}

func testWebhookDelete(t *testing.T, s stamp.Store) {
	webhookKind.mustCreate(t, s, newWebhook("w1"))
	kept := newWebhook("w2")
	webhookKind.mustCreate(t, s, kept)
	var keptAttempts []*stamp.DeliveryAttempt
	for n := range 3 {
		mustAppendAttempt(t, s, &stamp.DeliveryAttempt{Webhook: "w1", EventSeq: 1, Attempt: n + 1, At: incidentEpoch, Error: "timeout"})
		a := &stamp.DeliveryAttempt{Webhook: "w2", EventSeq: int64(n + 1), Attempt: 1, At: incidentEpoch, Status: 204}
		mustAppendAttempt(t, s, a)
		keptAttempts = append([]*stamp.DeliveryAttempt{a}, keptAttempts...)
	}

	if err := s.DeleteWebhook(t.Context(), "w1"); err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}
	_, err := s.GetWebhook(t.Context(), "w1")
	assertError(t, err, stamp.ENOTFOUND, `webhook "w1" does not exist`)
	if got := mustListAttempts(t, s, "w1", 0); len(got) != 0 {
		t.Errorf("attempts of the deleted webhook: got %+v, want none", normAttempts(got))
	}
	assertError(t, s.DeleteWebhook(t.Context(), "w1"), stamp.ENOTFOUND, `webhook "w1" does not exist`)
	assertEqual(t, "attempts of the other webhook", normAttempts(mustListAttempts(t, s, "w2", 0)), normAttempts(keptAttempts))
	assertEqual(t, "the other webhook", normWebhook(webhookKind.mustGet(t, s, "w2")), normWebhook(kept))

	// A new webhook of the same ID starts afresh, and lists after the one
	// left.
	webhookKind.mustCreate(t, s, newWebhook("w1"))
	if got := mustListAttempts(t, s, "w1", 0); len(got) != 0 {
		t.Errorf("attempts of the new w1: got %+v, want none", normAttempts(got))
	}
	var listed []string
	for _, w := range mustListWebhooks(t, s) {
		listed = append(listed, w.ID)
	}
	assertEqual(t, "ListWebhooks IDs after delete and create", listed, []string{"w2", "w1"})
}

func testDeliveryAttempts(t *testing.T, s stamp.Store) {
	webhookKind.mustCreate(t, s, newWebhook("w1"))
	webhookKind.mustCreate(t, s, newWebhook("w2"))
	zone := time.FixedZone("UTC+3", 3*60*60)
	at := time.Date(2025, 12, 1, 10, 0, 0, 123456789, zone)
	// Durations with nanoseconds and beyond int32; two attempts at the same
	// instant, and one at an earlier one after them: the order is by
	// appending.
	attempts := []*stamp.DeliveryAttempt{
		{Webhook: "w1", EventSeq: 7, Attempt: 1, At: at, Status: 503, Error: "503 Service Unavailable: ça ✓", Duration: 1234567891},
		{Webhook: "w1", EventSeq: 7, Attempt: 2, At: at.Add(time.Second), Error: "dial tcp 127.0.0.1:9: connection refused", Duration: 987},
		{Webhook: "w1", EventSeq: 7, Attempt: 3, At: at.Add(time.Second), Status: 200, Duration: 3*time.Hour + 1},
		{Webhook: "w1", EventSeq: 9, Attempt: 1, At: at.Add(-time.Hour).In(time.UTC), Status: 204},
		{Webhook: "w1", AuditSeq: 4, Attempt: 1, At: at, Status: 200}, // an audit record's
	}
	other := &stamp.DeliveryAttempt{Webhook: "w2", EventSeq: 7, Attempt: 1, At: at, Status: 200, Duration: time.Millisecond}
	for n, a := range attempts {
		mustAppendAttempt(t, s, a)
		if n == 1 {
			mustAppendAttempt(t, s, other)
		}
	}
	// A zero At is the store's clock.
	before := time.Now()
	unstamped := &stamp.DeliveryAttempt{Webhook: "w1", EventSeq: 10, Attempt: 1, Status: 200, Duration: 5 * time.Millisecond}
	mustAppendAttempt(t, s, unstamped)
	if unstamped.At.IsZero() || unstamped.At.Before(before.Add(-time.Minute)) || unstamped.At.After(time.Now().Add(time.Minute)) {
		t.Errorf("At of an attempt appended without one: got %v, want about %v", unstamped.At, before)
	}
	attempts = append(attempts, unstamped)

	newestFirst := slices.Clone(attempts)
	slices.Reverse(newestFirst)
	tests := []struct {
		name  string
		limit int
		want  []*stamp.DeliveryAttempt
	}{
		{"default limit", 0, newestFirst},
		{"limit", 2, newestFirst[:2]},
		{"limit of one", 1, newestFirst[:1]},
		{"limit above the count", 100, newestFirst},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustListAttempts(t, s, "w1", tt.limit)
			assertEqual(t, fmt.Sprintf("ListDeliveryAttempts(w1, %d)", tt.limit), normAttempts(got), normAttempts(tt.want))
			for n, a := range got {
				if a.At.Location() != time.UTC {
					t.Errorf("attempt %d: At is %v, want it in UTC", n, a.At)
				}
			}
		})
	}
	assertEqual(t, "ListDeliveryAttempts(w2, 0)", normAttempts(mustListAttempts(t, s, "w2", 0)), normAttempts([]*stamp.DeliveryAttempt{other}))

	_, err := s.ListDeliveryAttempts(t.Context(), "w1", -1)
	assertError(t, err, stamp.EINVALID, "delivery attempt limit -1 is negative")
}

func mustListWebhooks(t *testing.T, s stamp.Store) []*stamp.Webhook {
	t.Helper()
	ws, err := s.ListWebhooks(t.Context())
	if err != nil {
		t.Fatalf("ListWebhooks: %v", err)
	}
	return ws
}

func mustAppendAttempt(t *testing.T, s stamp.Store, a *stamp.DeliveryAttempt) {
	t.Helper()
	if err := s.AppendDeliveryAttempt(t.Context(), a); err != nil {
		t.Fatalf("AppendDeliveryAttempt of webhook %q: %v", a.Webhook, err)
	}
}

func mustListAttempts(t *testing.T, s stamp.Store, webhook string, limit int) []*stamp.DeliveryAttempt {
	t.Helper()
	as, err := s.ListDeliveryAttempts(t.Context(), webhook, limit)
	if err != nil {
		t.Fatalf("ListDeliveryAttempts(%q, %d): %v", webhook, limit, err)
	}
	return as
}

// assertWebhookUTC checks that every time of w is in UTC, as the store
// hands out every time.
func assertWebhookUTC(t *testing.T, w *stamp.Webhook) {
	t.Helper()
	for name, tm := range map[string]time.Time{"NextAttempt": w.NextAttempt, "CreatedAt": w.CreatedAt, "UpdatedAt": w.UpdatedAt} {
		if tm.Location() != time.UTC {
			t.Errorf("webhook %q: %s is %v, want it in UTC", w.ID, name, tm)
		}
	}
}

// Secrets.

func testSecrets(t *testing.T, s stamp.Store) {
	tenantKind.mustCreate(t, s, newTenant("acme"))
	tenantKind.mustCreate(t, s, newTenant("globex"))
	assertEqual(t, "Secrets before any", mustSecrets(t, s, "acme"), map[string]string{})

	mustPutSecrets(t, s, "acme", map[string]string{"session_key": "one", "api_key": "two"})
	mustPutSecrets(t, s, "globex", map[string]string{"session_key": "globex's"})
	mustPutSecrets(t, s, "acme", map[string]string{"api_key": "three", "db_password": "four"})
	mustPutSecrets(t, s, "acme", nil)

	assertEqual(t, "Secrets of acme", mustSecrets(t, s, "acme"),
		map[string]string{"session_key": "one", "api_key": "three", "db_password": "four"})
	assertEqual(t, "Secrets of globex", mustSecrets(t, s, "globex"), map[string]string{"session_key": "globex's"})
	assertEqual(t, "Secrets of an unknown tenant", mustSecrets(t, s, "initech"), map[string]string{})
}

// testSecretsConcurrent has writers whose transactions read before they
// write (the tenant must exist), which is where a store that lets writers
// race for a lock fails with "database is locked" instead of waiting.
func testSecretsConcurrent(t *testing.T, s stamp.Store) {
	tenantKind.mustCreate(t, s, newTenant("acme"))
	const writers, puts = 10, 10
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for p := range puts {
				if err := s.PutSecrets(t.Context(), "acme", map[string]string{fmt.Sprintf("k%d-%d", w, p): "v"}); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("PutSecrets: %v", err)
	}
	if got := len(mustSecrets(t, s, "acme")); got != writers*puts {
		t.Errorf("Secrets: got %d, want %d", got, writers*puts)
	}
}

func mustPutSecrets(t *testing.T, s stamp.Store, tenant string, secrets map[string]string) {
	t.Helper()
	if err := s.PutSecrets(t.Context(), tenant, secrets); err != nil {
		t.Fatalf("PutSecrets %q: %v", tenant, err)
	}
}

func mustSecrets(t *testing.T, s stamp.Store, tenant string) map[string]string {
	t.Helper()
	secrets, err := s.Secrets(t.Context(), tenant)
	if err != nil {
		t.Fatalf("Secrets %q: %v", tenant, err)
	}
	if secrets == nil {
		t.Fatalf("Secrets %q: got a nil map, want an empty one", tenant)
	}
	return secrets
}

// Events.

func testEventsAppend(t *testing.T, s stamp.Store) {
	if err := s.AppendEvents(t.Context()); err != nil {
		t.Fatalf("AppendEvents of nothing: %v", err)
	}
	zone := time.FixedZone("UTC-5", -5*60*60)
	queued := time.Date(2025, 6, 1, 12, 0, 0, 111222333, zone)
	given := time.Date(2025, 6, 1, 12, 0, 2, 999, zone)
	events := []*stamp.Event{
		{Type: stamp.EventTenantCreated, Tenant: "acme", Generation: 1},
		{
			Time: given, Type: stamp.EventStep, Tenant: "acme", Generation: 1, Step: stamp.StepMigrate,
			Status: stamp.StatusFailed, Message: "exit status 1: no such table",
			QueuedAt: queued, StartedAt: queued.Add(time.Second), FinishedAt: queued.Add(2 * time.Second),
		},
		{Type: stamp.EventBlueprintPushed, Message: "ledger@1.0.0"},
		{Type: stamp.EventReleaseTenant, Tenant: "acme", Release: "ledger-1.2.0", Status: stamp.ReleaseTenantUpgraded},
		{Type: stamp.EventIncidentOpened, Tenant: "acme", Incident: "acme-web-1", Message: "probe: GET /healthz: 503"},
	}
	if seq, err := s.LastEventSeq(t.Context()); err != nil || seq != 0 {
		t.Errorf("LastEventSeq of an empty log = %d, %v; want 0, nil", seq, err)
	}
	mustAppend(t, s, events...)
	for i, e := range events {
		if e.Seq <= 0 || i > 0 && e.Seq <= events[i-1].Seq {
			t.Errorf("event %d: Seq %d; want positive and above the previous one", i, e.Seq)
		}
		if e.Time.IsZero() {
			t.Errorf("event %d: Time left zero", i)
		}
	}
	if !events[1].Time.Equal(given) {
		t.Errorf("a given Time: got %v, want %v kept", events[1].Time, given)
	}
	more := &stamp.Event{Type: stamp.EventTenantReady, Tenant: "acme"}
	mustAppend(t, s, more)
	if last := events[len(events)-1]; more.Seq <= last.Seq {
		t.Errorf("Seq of a later append: got %d, want above %d", more.Seq, last.Seq)
	}

	got := mustListEvents(t, s, stamp.EventFilter{})
	assertEqual(t, "ListEvents", normEvents(got), normEvents(append(events, more)))
	if seq, err := s.LastEventSeq(t.Context()); err != nil || seq != more.Seq {
		t.Errorf("LastEventSeq = %d, %v; want %d, nil", seq, err, more.Seq)
	}
}

func testEventsFilter(t *testing.T, s stamp.Store) {
	var events []*stamp.Event
	for i, tr := range [][2]string{{"acme", "r1"}, {"globex", ""}, {"acme", "r2"}, {"", "r1"}, {"globex", "r1"}, {"acme", ""}} {
		events = append(events, &stamp.Event{Type: stamp.EventStep, Tenant: tr[0], Release: tr[1], Message: fmt.Sprint(i)})
	}
	mustAppend(t, s, events...)
	seq := func(is ...int) []int64 {
		var seqs []int64
		for _, i := range is {
			seqs = append(seqs, events[i].Seq)
		}
		return seqs
	}
	tests := []struct {
		name   string
		filter stamp.EventFilter
		want   []int64
	}{
		{"everything", stamp.EventFilter{}, seq(0, 1, 2, 3, 4, 5)},
		{"after", stamp.EventFilter{AfterSeq: events[2].Seq}, seq(3, 4, 5)},
		{"after the last", stamp.EventFilter{AfterSeq: events[5].Seq}, nil},
		{"tenant", stamp.EventFilter{Tenant: "acme"}, seq(0, 2, 5)},
		{"unknown tenant", stamp.EventFilter{Tenant: "initech"}, nil},
		{"limit", stamp.EventFilter{Limit: 2}, seq(0, 1)},
		{"limit above the count", stamp.EventFilter{Limit: 100}, seq(0, 1, 2, 3, 4, 5)},
		{"tenant after", stamp.EventFilter{Tenant: "globex", AfterSeq: events[1].Seq}, seq(4)},
		{"tenant after with limit", stamp.EventFilter{Tenant: "acme", AfterSeq: events[0].Seq, Limit: 1}, seq(2)},
		{"release", stamp.EventFilter{Release: "r1"}, seq(0, 3, 4)},
		{"unknown release", stamp.EventFilter{Release: "r9"}, nil},
		{"release after with limit", stamp.EventFilter{Release: "r1", AfterSeq: events[0].Seq, Limit: 1}, seq(3)},
		{"release and tenant", stamp.EventFilter{Release: "r1", Tenant: "globex"}, seq(4)},
		{"release and another tenant", stamp.EventFilter{Release: "r2", Tenant: "globex"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int64
			for _, e := range mustListEvents(t, s, tt.filter) {
				got = append(got, e.Seq)
			}
			assertEqual(t, fmt.Sprintf("ListEvents(%+v) seqs", tt.filter), got, tt.want)
		})
	}
}

func testEventsConcurrent(t *testing.T, s stamp.Store) {
	const writers, calls = 10, 10 // each call appends two events
	seqs := make([][]int64, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for c := range calls {
				a := &stamp.Event{Type: stamp.EventStep, Tenant: fmt.Sprintf("t%d", w), Message: fmt.Sprintf("%d/%d/a", w, c)}
				b := &stamp.Event{Type: stamp.EventStep, Tenant: fmt.Sprintf("t%d", w), Message: fmt.Sprintf("%d/%d/b", w, c)}
				if err := s.AppendEvents(t.Context(), a, b); err != nil {
					errs[w] = err
					return
				}
				seqs[w] = append(seqs[w], a.Seq, b.Seq)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("AppendEvents: %v", err)
	}

	all := map[int64]string{}
	for w, ws := range seqs {
		if !slices.IsSorted(ws) || len(slices.Compact(slices.Clone(ws))) != len(ws) {
			t.Errorf("writer %d got seqs %v, want strictly increasing", w, ws)
		}
		for i, seq := range ws {
			if prev, ok := all[seq]; ok {
				t.Errorf("seq %d given to both %s and %d/%d", seq, prev, w, i)
			}
			all[seq] = fmt.Sprintf("%d/%d", w, i)
		}
	}

	listed := mustListEvents(t, s, stamp.EventFilter{})
	if len(listed) != writers*calls*2 {
		t.Fatalf("ListEvents: got %d events, want %d", len(listed), writers*calls*2)
	}
	var listedSeqs []int64
	perWriter := map[string][]string{}
	for _, e := range listed {
		listedSeqs = append(listedSeqs, e.Seq)
		perWriter[e.Tenant] = append(perWriter[e.Tenant], e.Message)
	}
	want := slices.Sorted(maps.Keys(all))
	assertEqual(t, "ListEvents seqs", listedSeqs, want)
	for w := range writers {
		var msgs []string
		for c := range calls {
			msgs = append(msgs, fmt.Sprintf("%d/%d/a", w, c), fmt.Sprintf("%d/%d/b", w, c))
		}
		assertEqual(t, fmt.Sprintf("writer %d's events in the log", w), perWriter[fmt.Sprintf("t%d", w)], msgs)
	}
}

func mustAppend(t *testing.T, s stamp.Store, events ...*stamp.Event) {
	t.Helper()
	if err := s.AppendEvents(t.Context(), events...); err != nil {
		t.Fatalf("AppendEvents: %v", err)
	}
}

func mustListEvents(t *testing.T, s stamp.Store, f stamp.EventFilter) []*stamp.Event {
	t.Helper()
	events, err := s.ListEvents(t.Context(), f)
	if err != nil {
		t.Fatalf("ListEvents(%+v): %v", f, err)
	}
	return events
}

// Tokens.

func testTokens(t *testing.T, s stamp.Store) {
	hash := func(secret string) string { return fmt.Sprintf("%x", sha256.Sum256([]byte(secret))) }
	admin := &stamp.Token{ID: "tok1", Name: "admin", Role: stamp.RoleAdmin, Hash: hash("secret one"),
		CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)}
	ci := &stamp.Token{ID: "tok2", Name: "ci", Role: stamp.RoleViewer, Tenant: "acme", Hash: hash("secret two"),
		CreatedAt: time.Date(2025, 1, 3, 3, 4, 5, 0, time.UTC), ExpiresAt: time.Date(2025, 2, 3, 3, 4, 5, 0, time.UTC)}
	for _, tok := range []*stamp.Token{admin, ci} {
		if err := s.CreateToken(t.Context(), tok); err != nil {
			t.Fatalf("CreateToken %q: %v", tok.ID, err)
		}
	}
	for _, tok := range []*stamp.Token{admin, ci} {
		got, err := s.TokenByHash(t.Context(), tok.Hash)
		if err != nil {
			t.Fatalf("TokenByHash of %q: %v", tok.ID, err)
		}
		assertEqual(t, "TokenByHash", normToken(got), normToken(tok))
	}

	sameID := &stamp.Token{ID: "tok1", Name: "other", Role: stamp.RoleAdmin, Hash: hash("secret three")}
	assertError(t, s.CreateToken(t.Context(), sameID), stamp.ECONFLICT, `token "tok1" already exists`)
	sameHash := &stamp.Token{ID: "tok3", Name: "other", Role: stamp.RoleAdmin, Hash: admin.Hash}
	assertError(t, s.CreateToken(t.Context(), sameHash), stamp.ECONFLICT, `token "tok3" has the same secret as an existing token`)
	sameName := &stamp.Token{ID: "tok3", Name: "ci", Role: stamp.RoleAdmin, Hash: hash("secret three")}
	assertError(t, s.CreateToken(t.Context(), sameName), stamp.ECONFLICT, `a token named "ci" exists; revoke it first (stamp token revoke ci) or choose another name`)
	noRole := &stamp.Token{ID: "tok3", Name: "other", Hash: hash("secret three")}
	assertError(t, s.CreateToken(t.Context(), noRole), stamp.EINVALID, `role "": want admin, operator or viewer`)

	_, err := s.TokenByHash(t.Context(), hash("never issued"))
	assertError(t, err, stamp.ENOTFOUND, "no token has that secret")
	got, err := s.TokenByHash(t.Context(), admin.Hash)
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "TokenByHash after the refused creates", normToken(got), normToken(admin))

	// Revoked by name; the name is free again, and the revoked token
	// still listed and found, with its revocation.
	at := time.Date(2025, 1, 4, 0, 0, 0, 0, time.UTC)
	revoked, err := s.RevokeToken(t.Context(), "ci", at)
	if err != nil {
		t.Fatalf("RevokeToken ci: %v", err)
	}
	want := *ci
	want.RevokedAt = at
	assertEqual(t, "RevokeToken", normToken(revoked), normToken(&want))
	_, err = s.RevokeToken(t.Context(), "ci", at)
	assertError(t, err, stamp.ENOTFOUND, `no token named "ci" (or with that ID) is in use`)
	ci2 := &stamp.Token{ID: "tok4", Name: "ci", Role: stamp.RoleOperator, Hash: hash("secret four"), CreatedAt: at}
	if err := s.CreateToken(t.Context(), ci2); err != nil {
		t.Fatalf("CreateToken of a revoked token's name: %v", err)
	}
	if got, err := s.TokenByHash(t.Context(), ci.Hash); err != nil || !got.RevokedAt.Equal(at) {
		t.Errorf("TokenByHash of the revoked token: got %+v, %v; want it revoked at %s", got, err, at)
	}
	list, err := s.ListTokens(t.Context())
	if err != nil {
		t.Fatalf("ListTokens: %v", err)
	}
	var ids []string
	for _, tok := range list {
		ids = append(ids, tok.ID)
	}
	assertEqual(t, "ListTokens", ids, []string{"tok1", "tok2", "tok4"})

	if _, err := s.RevokeToken(t.Context(), "tok4", at); err != nil {
		t.Fatalf("RevokeToken by ID: %v", err)
	}
	_, err = s.RevokeToken(t.Context(), "nobody", at)
	assertError(t, err, stamp.ENOTFOUND, `no token named "nobody" (or with that ID) is in use`)

	// A tenant's tokens are revoked with it: a new tenant of its name is
	// not theirs.
	leaving := newTenant("leaving")
	if err := s.CreateTenant(t.Context(), leaving); err != nil {
		t.Fatal(err)
	}
	own := &stamp.Token{ID: "tok5", Name: "leaving-support", Role: stamp.RoleAdmin, Tenant: "leaving", Hash: hash("secret five")}
	if err := s.CreateToken(t.Context(), own); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTenant(t.Context(), "leaving", leaving.ResourceVersion); err != nil {
		t.Fatal(err)
	}
	if got, err := s.TokenByHash(t.Context(), own.Hash); err != nil || got.RevokedAt.IsZero() {
		t.Errorf("the deleted tenant's token: got %+v, %v; want it revoked", got, err)
	}
}

// Errors.

func testCancelled(t *testing.T, s stamp.Store) {
	tenantKind.mustCreate(t, s, newTenant("acme"))
	releaseKind.mustCreate(t, s, newRelease("r1"))
	incidentKind.mustCreate(t, s, newIncident("i1", "acme", incidentEpoch))
	webhookKind.mustCreate(t, s, newWebhook("w1"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name string
		call func() error
	}{
		{"GetTenant", func() error { _, err := s.GetTenant(ctx, "acme"); return err }},
		{"CreateTenant", func() error { return s.CreateTenant(ctx, newTenant("globex")) }},
		{"UpdateTenant", func() error { return s.UpdateTenant(ctx, newTenant("acme")) }},
		{"ListTenantsPage", func() error { _, _, err := s.ListTenantsPage(ctx, stamp.TenantPage{}); return err }},
		{"CountTenants", func() error { _, err := s.CountTenants(ctx, stamp.TenantFilter{}); return err }},
		{"ListEvents", func() error { _, err := s.ListEvents(ctx, stamp.EventFilter{}); return err }},
		{"AppendEvents", func() error { return s.AppendEvents(ctx, &stamp.Event{Type: stamp.EventStep}) }},
		{"BundleContent", func() error { _, err := s.BundleContent(ctx, digest("x")); return err }},
		{"CreateRelease", func() error { return s.CreateRelease(ctx, newRelease("r2")) }},
		{"GetRelease", func() error { _, err := s.GetRelease(ctx, "r1"); return err }},
		{"ListReleases", func() error { _, err := s.ListReleases(ctx); return err }},
		{"UpdateRelease", func() error { return s.UpdateRelease(ctx, newRelease("r1")) }},
		{"CreateIncident", func() error { return s.CreateIncident(ctx, newIncident("i2", "acme", incidentEpoch)) }},
		{"GetIncident", func() error { _, err := s.GetIncident(ctx, "i1"); return err }},
		{"ListIncidents", func() error { _, err := s.ListIncidents(ctx, stamp.IncidentFilter{Open: true}); return err }},
		{"UpdateIncident", func() error {
			i := newIncident("i1", "acme", incidentEpoch)
			i.ResourceVersion = 1
			return s.UpdateIncident(ctx, i)
		}},
		{"CreateWebhook", func() error { return s.CreateWebhook(ctx, newWebhook("w2")) }},
		{"GetWebhook", func() error { _, err := s.GetWebhook(ctx, "w1"); return err }},
		{"ListWebhooks", func() error { _, err := s.ListWebhooks(ctx); return err }},
		{"UpdateWebhook", func() error {
			w := newWebhook("w1")
			w.ResourceVersion = 1
			return s.UpdateWebhook(ctx, w)
		}},
		{"DeleteWebhook", func() error { return s.DeleteWebhook(ctx, "w1") }},
		{"AppendDeliveryAttempt", func() error {
			return s.AppendDeliveryAttempt(ctx, &stamp.DeliveryAttempt{Webhook: "w1", EventSeq: 1, Attempt: 1})
		}},
		{"ListDeliveryAttempts", func() error { _, err := s.ListDeliveryAttempts(ctx, "w1", 0); return err }},
		{"RecordActivity", func() error { return s.RecordActivity(ctx, map[string]time.Time{"acme": incidentEpoch}) }},
		{"LastActivity", func() error { _, err := s.LastActivity(ctx); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if code := stamp.ErrorCode(err); code != stamp.EINTERNAL {
				t.Errorf("got code %q (%v), want %q", code, err, stamp.EINTERNAL)
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("got %v, want it to wrap context.Canceled", err)
			}
		})
	}
}

// Comparison.

func assertError(t *testing.T, err error, code, message string) {
	t.Helper()
	if got := stamp.ErrorCode(err); got != code {
		t.Fatalf("error code: got %q (%v), want %q", got, err, code)
	}
	if got := stamp.ErrorMessage(err); got != message {
		t.Errorf("error message: got %q, want %q", got, message)
	}
}

func assertEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\ngot  %+v\nwant %+v", what, got, want)
	}
}

// normTime is t as the suite compares times: UTC, to Precision.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(Precision)
}

// normMap treats a nil and an empty map as the same.
func normMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

func normTenant(t *stamp.Tenant) stamp.Tenant {
	n := *t
	n.Spec.Params = normMap(t.Spec.Params)
	n.Spec.Labels = normMap(t.Spec.Labels)
	n.Status.Endpoints = normSlice(t.Status.Endpoints)
	n.Status.ReadyAt = normTime(t.Status.ReadyAt)
	if u := t.Status.Upgrade; u != nil {
		nu := *u
		nu.StartedAt = normTime(u.StartedAt)
		nu.SwitchedAt = normTime(u.SwitchedAt)
		nu.FinishedAt = normTime(u.FinishedAt)
		n.Status.Upgrade = &nu
	}
	n.CreatedAt = normTime(t.CreatedAt)
	n.UpdatedAt = normTime(t.UpdatedAt)
	return n
}

// normSlice treats a nil and an empty slice as the same.
func normSlice[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

func normRelease(r *stamp.Release) stamp.Release {
	n := *r
	n.Spec.Selector = normMap(r.Spec.Selector)
	n.Spec.Waves = normSlice(r.Spec.Waves)
	for i, w := range n.Spec.Waves {
		n.Spec.Waves[i].Tenants = normSlice(w.Tenants)
		n.Spec.Waves[i].Selector = normMap(w.Selector)
	}
	n.Status.GateSince = normTime(r.Status.GateSince)
	n.Status.Tenants = normSlice(r.Status.Tenants)
	for i, rt := range n.Status.Tenants {
		n.Status.Tenants[i].StartedAt = normTime(rt.StartedAt)
		n.Status.Tenants[i].FinishedAt = normTime(rt.FinishedAt)
	}
	n.Status.StartedAt = normTime(r.Status.StartedAt)
	n.Status.FinishedAt = normTime(r.Status.FinishedAt)
	n.CreatedAt = normTime(r.CreatedAt)
	n.UpdatedAt = normTime(r.UpdatedAt)
	return n
}

func normIncident(i *stamp.Incident) stamp.Incident {
	n := *i
	n.Timeline = normSlice(i.Timeline)
	for k, e := range n.Timeline {
		n.Timeline[k].Time = normTime(e.Time)
	}
	n.OpenedAt = normTime(i.OpenedAt)
	n.AckedAt = normTime(i.AckedAt)
	n.ResolvedAt = normTime(i.ResolvedAt)
	n.UpdatedAt = normTime(i.UpdatedAt)
	return n
}

func normWebhook(w *stamp.Webhook) stamp.Webhook {
	n := *w
	n.Events = normSlice(w.Events)
	n.NextAttempt = normTime(w.NextAttempt)
	n.CreatedAt = normTime(w.CreatedAt)
	n.UpdatedAt = normTime(w.UpdatedAt)
	return n
}

func normAttempts(as []*stamp.DeliveryAttempt) []stamp.DeliveryAttempt {
	var ns []stamp.DeliveryAttempt
	for _, a := range as {
		n := *a
		n.At = normTime(a.At)
		ns = append(ns, n)
	}
	return ns
}

func normBundle(b *stamp.Bundle) stamp.Bundle {
	n := *b
	n.CreatedAt = normTime(b.CreatedAt)
	n.YankedAt = normTime(b.YankedAt)
	return n
}

func normEvents(events []*stamp.Event) []stamp.Event {
	var ns []stamp.Event
	for _, e := range events {
		n := *e
		n.Time = normTime(e.Time)
		n.QueuedAt = normTime(e.QueuedAt)
		n.StartedAt = normTime(e.StartedAt)
		n.FinishedAt = normTime(e.FinishedAt)
		ns = append(ns, n)
	}
	return ns
}

func normToken(t *stamp.Token) stamp.Token {
	n := *t
	n.CreatedAt, n.ExpiresAt, n.RevokedAt = normTime(t.CreatedAt), normTime(t.ExpiresAt), normTime(t.RevokedAt)
	return n
}

// Leases.

func mustTryLease(t *testing.T, s stamp.Store, key, holder string, ttl time.Duration) bool {
	t.Helper()
	ok, err := s.TryLease(t.Context(), key, holder, ttl)
	if err != nil {
		t.Fatalf("TryLease(%q, %q): %v", key, holder, err)
	}
	return ok
}

func testLeaseExclusive(t *testing.T, s stamp.Store) {
	const ttl = time.Minute
	if !mustTryLease(t, s, "tenant/acme", "a", ttl) {
		t.Fatal("a could not take a free lease")
	}
	if mustTryLease(t, s, "tenant/acme", "b", ttl) {
		t.Fatal("b took a lease a holds")
	}
	if !mustTryLease(t, s, "tenant/acme", "a", ttl) {
		t.Fatal("a could not renew its own lease")
	}
	if !mustTryLease(t, s, "tenant/globex", "b", ttl) {
		t.Fatal("b could not take another key")
	}
	keys, err := s.RenewLeases(t.Context(), "a", ttl)
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "RenewLeases(a)", keys, []string{"tenant/acme"})
	if err := s.ReleaseLease(t.Context(), "tenant/acme", "b"); err != nil {
		t.Fatalf("ReleaseLease by a non-holder: %v", err)
	}
	if mustTryLease(t, s, "tenant/acme", "b", ttl) {
		t.Fatal("a release by b freed a's lease")
	}
	if err := s.ReleaseLease(t.Context(), "tenant/acme", "a"); err != nil {
		t.Fatal(err)
	}
	if !mustTryLease(t, s, "tenant/acme", "b", ttl) {
		t.Fatal("b could not take a released lease")
	}
	if err := s.ReleaseLease(t.Context(), "nothing", "a"); err != nil {
		t.Fatalf("ReleaseLease of no lease: %v", err)
	}
}

func testLeaseExpiry(t *testing.T, s stamp.Store) {
	if !mustTryLease(t, s, "tenant/acme", "a", 50*time.Millisecond) {
		t.Fatal("a could not take a free lease")
	}
	deadline := time.Now().Add(10 * time.Second)
	for !mustTryLease(t, s, "tenant/acme", "b", time.Minute) {
		if time.Now().After(deadline) {
			t.Fatal("a's 50ms lease never expired")
		}
		time.Sleep(20 * time.Millisecond)
	}
	keys, err := s.RenewLeases(t.Context(), "a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("RenewLeases(a) after losing its lease = %q, want none", keys)
	}
}

func testLeaseRace(t *testing.T, s stamp.Store) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var winners []string
	for i := range 10 {
		holder := fmt.Sprintf("h%d", i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.TryLease(context.Background(), "tenant/acme", holder, time.Minute)
			if err != nil {
				t.Errorf("TryLease by %s: %v", holder, err)
				return
			}
			if ok {
				mu.Lock()
				winners = append(winners, holder)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Errorf("%d holders took the same lease (%q), want exactly 1", len(winners), winners)
	}
}

// SeedTokensBeforeRoles stores, in a store whose tokens table is about
// to be taken back to before roles, an admin token named "admin" and
// another named "ci"; CheckMigratedTokenRoles checks them after the
// migration. The stores' migration tests call both.
func SeedTokensBeforeRoles(t *testing.T, s stamp.Store) {
	t.Helper()
	for _, tok := range []*stamp.Token{
		{ID: "admin-1", Name: "admin", Role: stamp.RoleAdmin, Hash: "h1"},
		{ID: "ci", Name: "ci", Role: stamp.RoleAdmin, Hash: "h2"},
	} {
		if err := s.CreateToken(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
	}
}

// CheckMigratedTokenRoles checks the tokens of SeedTokensBeforeRoles
// after the migration that gave tokens roles: "admin" is an admin, any
// other an operator, none confined, expiring or revoked.
func CheckMigratedTokenRoles(t *testing.T, s stamp.Store) {
	t.Helper()
	toks, err := s.ListTokens(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tok := range toks {
		got[tok.ID] = fmt.Sprintf("%s %s tenant=%q expires=%t revoked=%t", tok.Name, tok.Role, tok.Tenant, !tok.ExpiresAt.IsZero(), !tok.RevokedAt.IsZero())
	}
	assertEqual(t, "tokens after migrating", got, map[string]string{
		"admin-1": `admin admin tenant="" expires=false revoked=false`,
		"ci":      `ci operator tenant="" expires=false revoked=false`,
	})
}
