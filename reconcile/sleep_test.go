package reconcile

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	stamp "github.com/stamphq/stamp"
)

// pushIdle stores version v of shop whose default plan sleeps after idle.
func (f *fixture) pushIdle(v string, idle time.Duration) {
	f.t.Helper()
	f.pushYAML(v, strings.Replace(fmt.Sprintf(shopBlueprint, v), "databases:", fmt.Sprintf("plans:\n  default: { replicas: 1, idle: %s }\ndatabases:", idle), 1))
}

// asleepNow reports whether t is done going to sleep.
func asleepNow(t *stamp.Tenant) bool {
	return t.Status.Phase == stamp.PhaseSleeping && !t.Status.SleptAt.IsZero()
}

// TestSleepCutShortIsTakenAgain fails the driver's stop of an idle
// tenant once, after it was recorded sleeping: the next pass stops it,
// and only then is it done going to sleep and let go.
func TestSleepCutShortIsTakenAgain(t *testing.T) {
	f := newFixture(t)
	f.r.cfg.IdleCheck = 20 * time.Millisecond
	f.pushIdle("3.0.0", 200*time.Millisecond)
	f.d.failNext("Stop", errors.New("the stop failed"))
	f.create("acme", "3.0.0")
	f.start()
	f.waitTenant("acme", "asleep", asleepNow)
	if !f.d.isStopped("acme") {
		t.Errorf("the tenant is asleep but its instances were not stopped")
	}
	eventually(t, waitLimit, "the lease of the sleeping tenant to be given back", func() bool {
		return !slices.Contains(f.r.Held(), "acme")
	})
	if n := len(f.events("acme", stamp.EventTenantAsleep)); n != 1 {
		t.Errorf("%d tenant.asleep events, want 1 (the retry only finishes the stop)", n)
	}
}

// TestMovedWhileAsleepSleepsAgain moves a sleeping tenant to another
// version (it goes back to sleep), wakes it, and lets it idle: it sleeps
// again, the move's record notwithstanding.
func TestMovedWhileAsleepSleepsAgain(t *testing.T) {
	f := newFixture(t)
	f.r.cfg.IdleCheck = 20 * time.Millisecond
	f.pushIdle("3.0.0", 300*time.Millisecond)
	f.pushIdle("4.0.0", 300*time.Millisecond)
	f.create("acme", "3.0.0")
	f.start()
	f.waitTenant("acme", "asleep", asleepNow)

	f.change("acme", stamp.EventTenantUpgradeRequested, func(tn *stamp.Tenant) { tn.Spec.Version = "4.0.0" })
	f.waitTenant("acme", "asleep on 4.0.0", func(tn *stamp.Tenant) bool { return asleepNow(tn) && tn.Status.Version == "4.0.0" })

	if err := f.r.Wake(f.ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	f.waitTenant("acme", "awake", func(tn *stamp.Tenant) bool { return tn.Status.Phase == stamp.PhaseReady })
	f.waitTenant("acme", "asleep again", asleepNow)
}

// TestWakeRecordsItsSteps: a wake's step events wait for the pass's
// next write and reach the log in order, those of a wake that failed
// before its retry event, those of one that worked before tenant.ready.
func TestWakeRecordsItsSteps(t *testing.T) {
	f := newFixture(t)
	f.r.cfg.IdleCheck = 20 * time.Millisecond
	f.pushIdle("3.0.0", 200*time.Millisecond)
	f.create("acme", "3.0.0")
	f.start()
	f.waitTenant("acme", "asleep", asleepNow)
	f.d.failNext("Apply", errors.New("the start failed"))
	if err := f.r.Wake(f.ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	f.waitTenant("acme", "awake", func(tn *stamp.Tenant) bool { return tn.Status.Phase == stamp.PhaseReady })

	all := f.events("acme", "")
	woke := slices.IndexFunc(all, func(e *stamp.Event) bool { return e.Type == stamp.EventTenantWaking })
	if woke < 0 {
		t.Fatalf("no %s event", stamp.EventTenantWaking)
	}
	var got []string
	for _, e := range all[woke+1:] {
		switch e.Type {
		case stamp.EventStep, stamp.EventRetry:
			got = append(got, e.Type+" "+e.Step)
		case stamp.EventTenantReady:
			got = append(got, e.Type)
		}
	}
	want := []string{
		"tenant.step secrets", "tenant.step database", "tenant.retry start",
		"tenant.step secrets", "tenant.step database", "tenant.step start", "tenant.step health", "tenant.step route", "tenant.ready",
	}
	if !slices.Equal(got, want) {
		t.Errorf("events after tenant.waking:\n got %q\nwant %q", got, want)
	}
}
