package storetest

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// activityEpoch is a last-activity time in a zone that is not UTC and
// with nanoseconds, to catch lossy storage.
var activityEpoch = time.Date(2025, 6, 7, 8, 9, 10, 123456789, time.FixedZone("UTC-5", -5*60*60))

// activityTenant returns a tenant with only what a store needs: the
// activity tests create thousands.
func activityTenant(name string) *stamp.Tenant {
	return &stamp.Tenant{Name: name, Spec: stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0"}}
}

func mustCreateTenants(t *testing.T, s stamp.Store, names ...string) {
	t.Helper()
	for _, name := range names {
		if err := s.CreateTenant(t.Context(), activityTenant(name)); err != nil {
			t.Fatalf("create tenant %q: %v", name, err)
		}
	}
}

func mustRecordActivity(t *testing.T, s stamp.Store, seen map[string]time.Time) {
	t.Helper()
	if err := s.RecordActivity(t.Context(), seen); err != nil {
		t.Fatalf("RecordActivity of %d tenants: %v", len(seen), err)
	}
}

// mustLastActivity returns LastActivity, checking that every time is in
// UTC, with the times to the suite's precision.
func mustLastActivity(t *testing.T, s stamp.Store) map[string]time.Time {
	t.Helper()
	last, err := s.LastActivity(t.Context())
	if err != nil {
		t.Fatalf("LastActivity: %v", err)
	}
	norm := make(map[string]time.Time, len(last))
	for tenant, at := range last {
		if at.Location() != time.UTC {
			t.Errorf("last activity of %q is in %v, want UTC", tenant, at.Location())
		}
		norm[tenant] = normTime(at)
	}
	return norm
}

// assertActivity checks that LastActivity is want, to the suite's
// precision, naming only the tenants that differ: the tests record
// hundreds.
func assertActivity(t *testing.T, s stamp.Store, what string, want map[string]time.Time) {
	t.Helper()
	got := mustLastActivity(t, s)
	tenants := slices.AppendSeq(slices.Collect(maps.Keys(got)), maps.Keys(want))
	slices.Sort(tenants)
	var diffs []string
	for _, tenant := range slices.Compact(tenants) {
		g, inGot := got[tenant]
		w, inWant := want[tenant]
		if w = normTime(w); inGot != inWant || !g.Equal(w) {
			diffs = append(diffs, fmt.Sprintf("%s: got %v (recorded %t), want %v (recorded %t)", tenant, g, inGot, w, inWant))
		}
	}
	if len(diffs) > 0 {
		t.Errorf("%s: %d tenants differ, the first: %q", what, len(diffs), diffs[:min(len(diffs), 5)])
	}
}

func testActivityRecord(t *testing.T, s stamp.Store) {
	mustCreateTenants(t, s, "acme", "globex", "initech")
	assertActivity(t, s, "LastActivity before any", map[string]time.Time{})
	if err := s.RecordActivity(t.Context(), nil); err != nil {
		t.Fatalf("RecordActivity of nothing: %v", err)
	}

	t0 := activityEpoch
	want := map[string]time.Time{"acme": t0, "globex": t0.Add(time.Second)}
	mustRecordActivity(t, s, want)
	assertActivity(t, s, "LastActivity after the first record", want)

	// In one call: a newer time raises acme, an older one leaves globex, a
	// zero one records nothing for initech.
	mustRecordActivity(t, s, map[string]time.Time{
		"acme":    t0.Add(time.Minute),
		"globex":  t0.Add(-time.Minute),
		"initech": {},
	})
	want["acme"] = t0.Add(time.Minute)
	assertActivity(t, s, "LastActivity after a newer, an older and a zero time", want)

	// The same time again, and a time a microsecond older, leave it too.
	mustRecordActivity(t, s, map[string]time.Time{"acme": t0.Add(time.Minute), "globex": t0.Add(time.Second - time.Microsecond)})
	assertActivity(t, s, "LastActivity after the same and a slightly older time", want)
}

func testActivityUnknownTenant(t *testing.T, s stamp.Store) {
	mustCreateTenants(t, s, "acme")
	mustRecordActivity(t, s, map[string]time.Time{"acme": activityEpoch, "ghost": activityEpoch})
	assertActivity(t, s, "LastActivity", map[string]time.Time{"acme": activityEpoch})
	mustRecordActivity(t, s, map[string]time.Time{"ghost": activityEpoch})
	assertActivity(t, s, "LastActivity after recording only a missing tenant", map[string]time.Time{"acme": activityEpoch})
}

func testActivityDelete(t *testing.T, s stamp.Store) {
	acme := activityTenant("acme")
	tenantKind.mustCreate(t, s, acme)
	mustCreateTenants(t, s, "globex")
	mustRecordActivity(t, s, map[string]time.Time{"acme": activityEpoch, "globex": activityEpoch})

	if err := s.DeleteTenant(t.Context(), "acme", acme.ResourceVersion); err != nil {
		t.Fatalf("DeleteTenant: %v", err)
	}
	want := map[string]time.Time{"globex": activityEpoch}
	assertActivity(t, s, "LastActivity after deleting acme", want)

	// A new tenant of the same name starts with no activity, and then
	// records from scratch: an older time than the deleted tenant's counts.
	mustCreateTenants(t, s, "acme")
	assertActivity(t, s, "LastActivity of the new acme", want)
	mustRecordActivity(t, s, map[string]time.Time{"acme": activityEpoch.Add(-time.Hour)})
	want["acme"] = activityEpoch.Add(-time.Hour)
	assertActivity(t, s, "LastActivity after the new acme's first request", want)
}

// testActivityMany records 2,000 tenants in one call, first inserting
// their rows, then raising them all; the times go to the test log only.
// (A call for 10,000 takes 20-65 ms on SQLite and 60-160 ms on
// PostgreSQL; creating that many tenants under -race took 16 s per run,
// too long for a conformance case the statement's shape does not need.)
func testActivityMany(t *testing.T, s stamp.Store) {
	const n = 2_000
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("t%05d", i)
	}
	start := time.Now()
	mustCreateTenants(t, s, names...)
	t.Logf("created %d tenants in %v", n, time.Since(start))

	for round, base := range []time.Time{activityEpoch, activityEpoch.Add(time.Hour)} {
		seen := make(map[string]time.Time, n)
		for i, name := range names {
			seen[name] = base.Add(time.Duration(i) * time.Millisecond)
		}
		start := time.Now()
		mustRecordActivity(t, s, seen)
		t.Logf("round %d: recorded the activity of %d tenants in one call in %v", round+1, n, time.Since(start))
		start = time.Now()
		if _, err := s.LastActivity(t.Context()); err != nil {
			t.Fatalf("LastActivity: %v", err)
		}
		t.Logf("round %d: read the activity of %d tenants in %v", round+1, n, time.Since(start))
		assertActivity(t, s, fmt.Sprintf("round %d: LastActivity", round+1), seen)
	}
}

// testActivityRacingRecorders has several callers, as several servers
// would, record the same tenants at once, each with its own times: none
// fails (no deadlock between them) and every tenant ends at the newest
// time any of them recorded for it.
func testActivityRacingRecorders(t *testing.T, s stamp.Store) {
	const tenants, racers, rounds = 500, 4, 5
	names := make([]string, tenants)
	for i := range names {
		names[i] = fmt.Sprintf("t%03d", i)
	}
	mustCreateTenants(t, s, names...)
	// at is what racer r records for tenant i in round: racers disagree on
	// which of them saw a tenant last, and rounds do not only rise.
	at := func(r, round, i int) time.Time {
		return activityEpoch.Add(time.Duration((i*(r+1)+round*7)%97) * time.Millisecond)
	}
	want := map[string]time.Time{}
	for r := range racers {
		for round := range rounds {
			for i, name := range names {
				if a := at(r, round, i); a.After(want[name]) {
					want[name] = a
				}
			}
		}
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for r := range racers {
		wg.Go(func() {
			<-start
			for round := range rounds {
				seen := make(map[string]time.Time, tenants)
				for i, name := range names {
					seen[name] = at(r, round, i)
				}
				if err := s.RecordActivity(t.Context(), seen); err != nil {
					t.Errorf("racer %d round %d: RecordActivity: %v", r, round, err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	assertActivity(t, s, "LastActivity after the race", want)
}

// testActivityRacingDelete records the activity of tenants from two
// callers while the tenants are deleted: a record never fails for a
// tenant deleted under it, and a deleted tenant is left with no activity.
func testActivityRacingDelete(t *testing.T, s stamp.Store) {
	const victims, recorders = 20, 2
	mustCreateTenants(t, s, "keeper")
	var tenants []*stamp.Tenant
	for i := range victims {
		v := activityTenant(fmt.Sprintf("v%02d", i))
		tenantKind.mustCreate(t, s, v)
		tenants = append(tenants, v)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	// stop ends the recorders, also when the test fails midway.
	stop := sync.OnceFunc(func() { close(done); wg.Wait() })
	defer stop()
	for r := range recorders {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-done:
					return
				default:
				}
				at := activityEpoch.Add(time.Duration(n*recorders+r) * time.Millisecond)
				seen := map[string]time.Time{"keeper": at}
				for _, v := range tenants {
					seen[v.Name] = at
				}
				if err := s.RecordActivity(t.Context(), seen); err != nil {
					t.Errorf("recorder %d: RecordActivity racing deletes: %v", r, err)
					return
				}
			}
		})
	}
	for _, v := range tenants {
		// Let a recorder write this tenant's row before it goes, so that
		// the delete has a row to take with it.
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, ok := mustLastActivity(t, s)[v.Name]; ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the activity of %s was never recorded", v.Name)
			}
			time.Sleep(time.Millisecond)
		}
		if err := s.DeleteTenant(t.Context(), v.Name, v.ResourceVersion); err != nil {
			t.Fatalf("DeleteTenant %s: %v", v.Name, err)
		}
	}
	stop()
	got := mustLastActivity(t, s)
	if _, ok := got["keeper"]; !ok || len(got) != 1 {
		t.Errorf("LastActivity after deleting every tenant but keeper: got tenants %q, want only keeper", slices.Sorted(maps.Keys(got)))
	}
}

// CheckMigratedActivity checks a store just migrated to the activity
// table, holding tenant and no activity: it records some, reads it back,
// and loses it with the tenant. The stores' migration tests call it.
func CheckMigratedActivity(t *testing.T, s stamp.Store, tenant *stamp.Tenant) {
	t.Helper()
	if last, err := s.LastActivity(t.Context()); err != nil || len(last) != 0 {
		t.Fatalf("LastActivity after migrating: got %v, %v; want none", last, err)
	}
	at := time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC)
	if err := s.RecordActivity(t.Context(), map[string]time.Time{tenant.Name: at}); err != nil {
		t.Fatal(err)
	}
	if last, err := s.LastActivity(t.Context()); err != nil || !last[tenant.Name].Equal(at) {
		t.Fatalf("LastActivity after recording: got %v, %v; want %s at %v", last, err, tenant.Name, at)
	}
	if err := s.DeleteTenant(t.Context(), tenant.Name, tenant.ResourceVersion); err != nil {
		t.Fatal(err)
	}
	if last, err := s.LastActivity(t.Context()); err != nil || len(last) != 0 {
		t.Errorf("LastActivity after deleting %s: got %v, %v; want none", tenant.Name, last, err)
	}
}
