package rollout

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/sqlite"
)

// These tests run the controller against a real SQLite store. No
// reconciler runs: the tests stand in for it by writing the tenant status
// an upgrade or a rollback ends with (finishUpgrade, failUpgrade), which
// is all the controller reads of tenants.

type fixture struct {
	t        *testing.T
	ctx      context.Context
	st       stamp.Store
	c        *Controller
	now      time.Time
	counters map[string][2]uint64
	woken    []string
}

func (f *fixture) Now() time.Time { return f.now }

func newFixture(t *testing.T, names ...string) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "stamp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, ctx: ctx, st: st, now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), counters: map[string][2]uint64{}}
	f.c = NewController(Config{Store: st, Holder: "test", Clock: f,
		Enqueue:  func(name string) { f.woken = append(f.woken, name) },
		Counters: func(tenant string) (uint64, uint64) { c := f.counters[tenant]; return c[0], c[1] },
	})
	for _, v := range []string{"1.0.0", "2.0.0", "3.0.0"} {
		b := &stamp.Bundle{Name: "ledger", Version: v, Digest: "sha256:" + v, Size: 1, Content: []byte(v)}
		if err := st.CreateBundle(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range names {
		tn := serving(name, "1.0.0")
		tn.Generation, tn.Status.ObservedGeneration = 1, 1
		if err := st.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// release creates a release of ledger@2.0.0 over every tenant.
func (f *fixture) release(spec stamp.ReleaseSpec) *stamp.Release {
	f.t.Helper()
	spec.Blueprint, spec.Version = "ledger", "2.0.0"
	if spec.OnFailure == "" {
		spec.OnFailure = stamp.OnFailureRollback
	}
	tenants, err := f.st.ListTenants(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	r := &stamp.Release{ID: "rel-test", Spec: spec, Status: stamp.ReleaseStatus{State: stamp.ReleaseRunning}}
	r.Status.Tenants = Target(tenants, &r.Spec, nil)
	if err := f.st.CreateRelease(f.ctx, r); err != nil {
		f.t.Fatal(err)
	}
	return r
}

// advance runs one round of the controller and returns the release.
func (f *fixture) advance() *stamp.Release {
	f.t.Helper()
	if err := f.c.advance(f.ctx, "rel-test"); err != nil {
		f.t.Fatalf("advance: %v", err)
	}
	r, err := f.st.GetRelease(f.ctx, "rel-test")
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *fixture) tenant(name string) *stamp.Tenant {
	f.t.Helper()
	tn, err := f.st.GetTenant(f.ctx, name)
	if err != nil {
		f.t.Fatal(err)
	}
	return tn
}

// finishUpgrade writes what the reconciler leaves when tenant name's
// upgrade to its spec's version succeeded.
func (f *fixture) finishUpgrade(name string) {
	f.t.Helper()
	tn := f.tenant(name)
	from := tn.Status.Version
	tn.Status.Version, tn.Status.Phase, tn.Status.ObservedGeneration = tn.Spec.Version, stamp.PhaseReady, tn.Generation
	tn.Status.Upgrade = &stamp.Upgrade{From: from, To: tn.Spec.Version, Snapshot: "pre-upgrade", Result: stamp.UpgradeSucceeded}
	if err := f.st.UpdateTenant(f.ctx, tn); err != nil {
		f.t.Fatal(err)
	}
}

// failUpgrade writes what the reconciler leaves when tenant name's
// upgrade failed at step and was rolled back: the spec names the old
// version again, at a new generation.
func (f *fixture) failUpgrade(name, step string) {
	f.t.Helper()
	tn := f.tenant(name)
	to := tn.Spec.Version
	tn.Spec.Version = tn.Status.Version
	tn.Generation++
	tn.Status.ObservedGeneration = tn.Generation
	tn.Status.Upgrade = &stamp.Upgrade{From: tn.Status.Version, To: to, FailedStep: step, Message: "it broke", Result: stamp.UpgradeRolledBack}
	if err := f.st.UpdateTenant(f.ctx, tn); err != nil {
		f.t.Fatal(err)
	}
}

// states lists each tenant's state in r, "name=state".
func states(r *stamp.Release) []string {
	var out []string
	for _, rt := range r.Status.Tenants {
		out = append(out, rt.Name+"="+rt.State)
	}
	return out
}

func inState(r *stamp.Release, state string) []string {
	var out []string
	for _, rt := range r.Status.Tenants {
		if rt.State == state {
			out = append(out, rt.Name)
		}
	}
	return out
}

func TestWavesRollWithinMaxParallel(t *testing.T) {
	f := newFixture(t, "a", "b", "c", "d", "e")
	f.release(stamp.ReleaseSpec{Waves: []stamp.Wave{{Count: 1}, {Percent: 100}}, MaxParallel: 2})

	r := f.advance()
	if got := inState(r, stamp.ReleaseTenantUpgrading); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("first wave: upgrading %v, want [a]; %v", got, states(r))
	}
	if a := f.tenant("a"); a.Spec.Version != "2.0.0" || a.Generation != 2 {
		t.Errorf("a after the first round: version %s generation %d, want 2.0.0 at 2", a.Spec.Version, a.Generation)
	}
	if !slices.Equal(f.woken, []string{"a"}) {
		t.Errorf("reconciler woken for %v, want [a]", f.woken)
	}
	f.advance() // nothing changed: nothing moves twice
	if a := f.tenant("a"); a.Generation != 2 {
		t.Errorf("a after a second round: generation %d, want it moved once (2)", a.Generation)
	}

	f.finishUpgrade("a")
	r = f.advance()
	if r.Status.Wave != 1 {
		t.Fatalf("after a is upgraded (soak 0): wave %d, want 1; %v", r.Status.Wave, states(r))
	}
	if got := inState(r, stamp.ReleaseTenantUpgrading); len(got) != 2 {
		t.Errorf("second wave: upgrading %v, want two (max parallel)", got)
	}
	for range 10 {
		for _, name := range inState(r, stamp.ReleaseTenantUpgrading) {
			f.finishUpgrade(name)
		}
		if r = f.advance(); r.Finished() {
			break
		}
	}
	if r.Status.State != stamp.ReleaseSucceeded {
		t.Fatalf("release: %s %q; %v", r.Status.State, r.Status.Message, states(r))
	}
	if got := inState(r, stamp.ReleaseTenantUpgraded); len(got) != 5 {
		t.Errorf("upgraded: %v, want all five", got)
	}
	events, err := f.st.ListEvents(f.ctx, stamp.EventFilter{Release: "rel-test"})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range events {
		if e.Type != stamp.EventReleaseTenant && e.Type != stamp.EventTenantUpgradeRequested {
			types = append(types, e.Type)
		}
	}
	want := []string{stamp.EventReleaseGate, stamp.EventReleaseWave, stamp.EventReleaseGate, stamp.EventReleaseSucceeded}
	if !slices.Equal(types, want) {
		t.Errorf("release events: %v, want %v", types, want)
	}
}

func TestFailedTenantRollsBackTheUpgradedOnes(t *testing.T) {
	f := newFixture(t, "a", "b", "c")
	f.release(stamp.ReleaseSpec{Waves: []stamp.Wave{{Count: 1}, {Count: 1}, {Percent: 100}}, MaxParallel: 4})
	f.advance()
	f.finishUpgrade("a")
	r := f.advance()
	if !slices.Equal(inState(r, stamp.ReleaseTenantUpgrading), []string{"b"}) {
		t.Fatalf("second wave: %v", states(r))
	}
	f.failUpgrade("b", stamp.StepHealth)
	r = f.advance()
	if r.Status.State != stamp.ReleaseRollingBack || !strings.Contains(r.Status.Message, "wave 2") {
		t.Fatalf("after b failed: %s %q", r.Status.State, r.Status.Message)
	}
	if got := states(r); !slices.Equal(got, []string{"a=rolling-back", "b=failed", "c=skipped"}) {
		t.Errorf("states: %v", got)
	}
	if a := f.tenant("a"); a.Spec.Version != "1.0.0" {
		t.Errorf("a's spec while rolling back: %s, want 1.0.0", a.Spec.Version)
	}
	f.finishUpgrade("a") // the reconciler's move back (a restore) succeeded
	r = f.advance()
	if r.Status.State != stamp.ReleaseFailed || !slices.Equal(states(r), []string{"a=rolled-back", "b=failed", "c=skipped"}) {
		t.Errorf("release: %s %q %v", r.Status.State, r.Status.Message, states(r))
	}
	if c := f.tenant("c"); c.Generation != 1 || c.Spec.Version != "1.0.0" {
		t.Errorf("c was touched: generation %d version %s", c.Generation, c.Spec.Version)
	}
}

func TestDownTenantIsSkippedAndTheReleaseGoesOn(t *testing.T) {
	f := newFixture(t, "a", "b")
	f.release(stamp.ReleaseSpec{Waves: []stamp.Wave{{Percent: 100}}, MaxParallel: 4})
	f.advance()
	f.failUpgrade("a", stamp.StepCheck)
	f.finishUpgrade("b")
	r := f.advance()
	if r.Status.State != stamp.ReleaseSucceeded {
		t.Fatalf("release: %s %q %v", r.Status.State, r.Status.Message, states(r))
	}
	a := r.Status.Tenants[0]
	if a.State != stamp.ReleaseTenantSkipped || !strings.Contains(a.Message, "not healthy before the upgrade") {
		t.Errorf("a: %+v", a)
	}
}

func TestGateFailsOnTheRouters5xxRateAndPauses(t *testing.T) {
	f := newFixture(t, "a", "b")
	f.release(stamp.ReleaseSpec{Waves: []stamp.Wave{{Count: 1}, {Percent: 100}}, MaxParallel: 4,
		Soak: stamp.Duration(time.Minute), MaxErrorRate: 0.05, OnFailure: stamp.OnFailurePause})
	f.advance()
	f.finishUpgrade("a")
	r := f.advance()
	if r.Status.GateSince.IsZero() || r.Status.Wave != 0 {
		t.Fatalf("soak should have started: %+v", r.Status)
	}
	f.counters["a"] = [2]uint64{100, 10} // 10% 5xx while soaking
	f.now = f.now.Add(10 * time.Second)
	r = f.advance()
	if r.Status.State != stamp.ReleasePaused || !r.Spec.Paused || !strings.Contains(r.Status.Message, "10 of 100 requests") {
		t.Fatalf("after 10%% 5xx: %s paused=%v %q", r.Status.State, r.Spec.Paused, r.Status.Message)
	}
	if b := f.tenant("b"); b.Generation != 1 {
		t.Errorf("b was moved by a paused release: generation %d", b.Generation)
	}

	// An operator resumes; the soak starts again from the counters then.
	r.Spec.Paused = false
	if err := f.st.UpdateRelease(f.ctx, r); err != nil {
		t.Fatal(err)
	}
	r = f.advance()
	if r.Status.State != stamp.ReleaseRunning || r.Status.Wave != 0 {
		t.Fatalf("after resume: %s wave %d", r.Status.State, r.Status.Wave)
	}
	f.counters["a"] = [2]uint64{200, 10} // no new 5xx
	f.now = f.now.Add(time.Minute)
	r = f.advance()
	if r.Status.Wave != 1 || !slices.Equal(inState(r, stamp.ReleaseTenantUpgrading), []string{"b"}) {
		t.Errorf("after a clean soak: wave %d, %v", r.Status.Wave, states(r))
	}
}

// TestGateFailsOnAnIncidentOpenedDuringTheSoak: the monitor's incidents
// are the gate's live health. One opened before the move is the tenant's
// own and does not fail it; one opened since does, naming it, even once
// resolved (a crash the driver restarted from).
func TestGateFailsOnAnIncidentOpenedDuringTheSoak(t *testing.T) {
	f := newFixture(t, "a", "b")
	incident := func(id string, at time.Time, state string) {
		t.Helper()
		inc := &stamp.Incident{ID: id, Tenant: "a", Service: "web", Cause: stamp.CauseExit, State: state,
			Message: "1 of 1 instances running; restarted 1 times, last exit: signal: killed", OpenedAt: at}
		if state == stamp.IncidentResolved {
			inc.ResolvedAt, inc.ResolvedBy = at.Add(time.Second), "monitor"
		}
		if err := f.st.CreateIncident(f.ctx, inc); err != nil {
			t.Fatal(err)
		}
	}
	incident("inc-before", f.now.Add(-time.Minute), stamp.IncidentOpen)
	f.release(stamp.ReleaseSpec{Waves: []stamp.Wave{{Count: 1}, {Percent: 100}}, MaxParallel: 4, Soak: stamp.Duration(time.Minute)})
	f.advance()
	f.finishUpgrade("a")
	r := f.advance()
	if r.Status.GateSince.IsZero() || r.Status.State != stamp.ReleaseRunning {
		t.Fatalf("an incident from before the move failed the gate: %s %q", r.Status.State, r.Status.Message)
	}
	f.now = f.now.Add(10 * time.Second)
	incident("inc-during", f.now, stamp.IncidentResolved)
	r = f.advance()
	want := "1 incident(s) on the wave's tenants since their upgrade: [a: inc-during resolved (web, exit: 1 of 1 instances running"
	if r.Status.State != stamp.ReleaseRollingBack || !strings.Contains(r.Status.Message, want) {
		t.Fatalf("after an incident in the soak: %s %q", r.Status.State, r.Status.Message)
	}
	if b := f.tenant("b"); b.Generation != 1 {
		t.Errorf("b was moved by a failed release: generation %d", b.Generation)
	}
}

// TestGateSeesTheWavesIncidentsInABusyFleet opens more incidents on
// tenants outside the release, after the wave's own, than the gate reads
// at once: the gate still finds the wave's incident (reading the newest
// of the whole fleet, it missed it).
func TestGateSeesTheWavesIncidentsInABusyFleet(t *testing.T) {
	f := newFixture(t, "a", "b")
	f.release(stamp.ReleaseSpec{Waves: []stamp.Wave{{Count: 1}, {Percent: 100}}, MaxParallel: 4, Soak: stamp.Duration(time.Minute)})
	f.advance()
	f.finishUpgrade("a")
	f.advance()
	f.now = f.now.Add(time.Second)
	own := &stamp.Incident{ID: "inc-a", Tenant: "a", Service: "web", Cause: stamp.CauseExit, State: stamp.IncidentOpen, Message: "exited", OpenedAt: f.now}
	if err := f.st.CreateIncident(f.ctx, own); err != nil {
		t.Fatal(err)
	}
	for n := range maxIncidents + 1 {
		other := &stamp.Incident{ID: fmt.Sprintf("inc-noise-%d", n), Tenant: "noise", Cause: stamp.CauseProbe, State: stamp.IncidentOpen,
			Message: "down", OpenedAt: f.now.Add(time.Duration(n+1) * time.Millisecond)}
		if err := f.st.CreateIncident(f.ctx, other); err != nil {
			t.Fatal(err)
		}
	}
	r := f.advance()
	if r.Status.State != stamp.ReleaseRollingBack || !strings.Contains(r.Status.Message, "a: inc-a open") {
		t.Fatalf("gate beside %d newer incidents of other tenants: %s %q; want it failed on inc-a", maxIncidents+1, r.Status.State, r.Status.Message)
	}
}

// TestEmptyWaveDoesNotSoak: a wave that moved no tenant (50% of two
// tenants is the one the first wave took already) passes at once; the
// next wave starts without a soak of nothing.
func TestEmptyWaveDoesNotSoak(t *testing.T) {
	f := newFixture(t, "a", "b")
	r := f.release(stamp.ReleaseSpec{Waves: []stamp.Wave{{Count: 1}, {Percent: 50}, {Percent: 100}}, MaxParallel: 4, Soak: stamp.Duration(time.Minute)})
	for _, rt := range r.Status.Tenants {
		if rt.Wave == 1 {
			t.Fatalf("wave 2 holds %s; the test needs it empty", rt.Name)
		}
	}
	f.advance()
	f.finishUpgrade("a")
	f.advance()
	f.now = f.now.Add(time.Minute)
	r = f.advance() // wave 1 soaked: its gate passes
	for i := 0; i < 3 && r.Status.Wave < 2; i++ {
		r = f.advance() // the clock stands still: no soak can pass
	}
	if r.Status.Wave != 2 {
		t.Fatalf("release at wave %d (%s %q) with the clock still; want wave 3 reached past the empty wave 2", r.Status.Wave+1, r.Status.State, r.Status.Message)
	}
	if b := f.tenant("b"); b.Spec.Version != "2.0.0" {
		t.Errorf("b is on %s; want wave 3 to have moved it", b.Spec.Version)
	}
}

// TestMoveRecordedButNotWritten is a crash between writing the release
// (tenant upgrading at generation 2) and writing the tenant: the next
// round writes the tenant's move, once.
func TestMoveRecordedButNotWritten(t *testing.T) {
	f := newFixture(t, "a")
	r := f.release(stamp.ReleaseSpec{Waves: []stamp.Wave{{Percent: 100}}, MaxParallel: 1})
	r.Status.Tenants[0].State, r.Status.Tenants[0].Generation = stamp.ReleaseTenantUpgrading, 2
	if err := f.st.UpdateRelease(f.ctx, r); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		f.advance()
	}
	if a := f.tenant("a"); a.Spec.Version != "2.0.0" || a.Generation != 2 {
		t.Errorf("a: version %s generation %d, want 2.0.0 at 2 (moved once)", a.Spec.Version, a.Generation)
	}
}

func TestAbortSkipsWhatIsPending(t *testing.T) {
	f := newFixture(t, "a", "b")
	r := f.release(stamp.ReleaseSpec{Waves: []stamp.Wave{{Count: 1}, {Percent: 100}}, MaxParallel: 1})
	r.Spec.Aborted = true
	if err := f.st.UpdateRelease(f.ctx, r); err != nil {
		t.Fatal(err)
	}
	r = f.advance()
	if r.Status.State != stamp.ReleaseAborted || fmt.Sprint(states(r)) != "[a=skipped b=skipped]" {
		t.Errorf("aborted release: %s %v", r.Status.State, states(r))
	}
	if a := f.tenant("a"); a.Generation != 1 {
		t.Errorf("a moved by an aborted release")
	}
}

func TestAbortWaitsForMovesUnderWay(t *testing.T) {
	f := newFixture(t, "a", "b")
	f.release(stamp.ReleaseSpec{Waves: []stamp.Wave{{Count: 1}, {Percent: 100}}, MaxParallel: 1})
	r := f.advance() // a is upgrading
	r.Spec.Aborted = true
	if err := f.st.UpdateRelease(f.ctx, r); err != nil {
		t.Fatal(err)
	}
	r = f.advance()
	if r.Finished() || fmt.Sprint(states(r)) != "[a=upgrading b=skipped]" {
		t.Fatalf("aborted with a move under way: %s %v", r.Status.State, states(r))
	}
	f.finishUpgrade("a")
	r = f.advance()
	if r.Status.State != stamp.ReleaseAborted || fmt.Sprint(states(r)) != "[a=upgraded b=skipped]" {
		t.Errorf("after a's move ended: %s %v", r.Status.State, states(r))
	}
}

// TestSwitchedTenantFreesItsSlot: once a tenant's route serves the new
// version, the release counts it upgraded while its old version drains.
func TestSwitchedTenantFreesItsSlot(t *testing.T) {
	f := newFixture(t, "a", "b")
	f.release(stamp.ReleaseSpec{Waves: []stamp.Wave{{Percent: 100}}, MaxParallel: 1})
	f.advance()
	a := f.tenant("a")
	a.Status.Phase, a.Status.Version = stamp.PhaseUpgrading, "2.0.0"
	a.Status.Upgrade = &stamp.Upgrade{From: "1.0.0", To: "2.0.0", Snapshot: "pre-upgrade", SwitchedAt: f.now}
	if err := f.st.UpdateTenant(f.ctx, a); err != nil {
		t.Fatal(err)
	}
	r := f.advance()
	if fmt.Sprint(states(r)) != "[a=upgraded b=upgrading]" {
		t.Errorf("after a's route switched: %v; want a upgraded and b started", states(r))
	}
}

// TestWakeAdvancesWithoutATick runs the controller with a tick it never
// reaches: only Wake makes it take a round.
func TestWakeAdvancesWithoutATick(t *testing.T) {
	f := newFixture(t, "a")
	f.release(stamp.ReleaseSpec{Waves: []stamp.Wave{{Percent: 100}}, MaxParallel: 1})
	f.c.cfg.Interval = time.Hour
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan struct{})
	go func() { f.c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	f.c.Wake()
	deadline := time.Now().Add(10 * time.Second)
	for f.tenant("a").Generation != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the release did not move a after Wake")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// failingTenantReads is a fake above the store whose tenant reads fail,
// as a database that went away would.
type failingTenantReads struct{ stamp.Store }

func (failingTenantReads) GetTenant(context.Context, string) (*stamp.Tenant, error) {
	return nil, stamp.Errorf(stamp.EUNAVAILABLE, "the database went away")
}

// TestStoreErrorWritesNothing: a round that cannot read a tenant must not
// take it for deleted; it writes nothing and reports the error.
func TestStoreErrorWritesNothing(t *testing.T) {
	f := newFixture(t, "a")
	before := f.release(stamp.ReleaseSpec{Waves: []stamp.Wave{{Percent: 100}}, MaxParallel: 1})
	f.c.cfg.Store = failingTenantReads{f.st}
	if err := f.c.advance(f.ctx, "rel-test"); err == nil || !strings.Contains(err.Error(), "the database went away") {
		t.Errorf("advance with failing tenant reads: %v", err)
	}
	after, err := f.st.GetRelease(f.ctx, "rel-test")
	if err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != before.ResourceVersion {
		t.Errorf("the release was written: %v", states(after))
	}
}
