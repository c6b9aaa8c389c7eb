package flow

import (
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// t0 is when the fixture's log begins.
var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// at is t0 plus ms milliseconds.
func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// step is a tenant.step event of tenant: queued, started and finished at
// those milliseconds.
func step(tenant, name string, q, s, f int) *stamp.Event {
	return &stamp.Event{Type: stamp.EventStep, Tenant: tenant, Step: name, Status: stamp.StatusOK, Time: at(f), QueuedAt: at(q), StartedAt: at(s), FinishedAt: at(f)}
}

func ev(typ, tenant string, ms int) *stamp.Event {
	return &stamp.Event{Type: typ, Tenant: tenant, Time: at(ms)}
}

// fixture is a log of three creates (two done, one under way), a failed
// one, one before the window, and an upgrade, with times chosen so the
// figures can be worked out by hand.
func fixture() []*stamp.Event {
	return []*stamp.Event{
		ev(stamp.EventTenantCreated, "old", -5000), step("old", stamp.StepAllocate, -5000, -5000, -4000), ev(stamp.EventTenantReady, "old", -4000),

		// acme: lead 1000 ms; queued 100; allocate wait 0 work 100; database wait 50 work 250; start wait 0 work 400; route wait 100 work 0.
		ev(stamp.EventTenantCreated, "acme", 0),
		step("acme", stamp.StepAllocate, 100, 100, 200),
		step("acme", stamp.StepDatabase, 200, 250, 500),
		step("acme", stamp.StepStart, 500, 500, 900),
		step("acme", stamp.StepRoute, 900, 1000, 1000),
		ev(stamp.EventTenantReady, "acme", 1000),

		// globex: lead 3000 ms; queued 300; allocate wait 100 work 200; database wait 0 work 1400; start wait 0 work 600; route wait 0 work 400.
		ev(stamp.EventTenantCreated, "globex", 2000),
		step("globex", stamp.StepAllocate, 2300, 2400, 2600),
		step("globex", stamp.StepDatabase, 2600, 2600, 4000),
		step("globex", stamp.StepStart, 4000, 4000, 4600),
		step("globex", stamp.StepRoute, 4600, 4600, 5000),
		ev(stamp.EventTenantReady, "globex", 5000),

		// initech fails; umbrella is under way; a step with a clock that went back is left out.
		ev(stamp.EventTenantCreated, "initech", 6000), step("initech", stamp.StepAllocate, 6000, 6000, 6100), ev(stamp.EventTenantFailed, "initech", 6200),
		ev(stamp.EventTenantCreated, "umbrella", 7000), step("umbrella", stamp.StepAllocate, 7000, 7000, 7100),

		// acme upgrades: lead 2000; queued 0; check 0+100; migrate 100+900; route 0+0.
		ev(stamp.EventTenantUpgradeRequested, "acme", 8000),
		step("acme", stamp.StepCheck, 8000, 8000, 8100),
		step("acme", stamp.StepMigrate, 8100, 8200, 9100),
		step("acme", stamp.StepRoute, 9100, 9100, 9100),
		{Type: stamp.EventStep, Tenant: "acme", Step: stamp.StepRetire, Status: stamp.StatusOK, QueuedAt: at(9500), StartedAt: at(9400), FinishedAt: at(9600)},
		ev(stamp.EventTenantUpgraded, "acme", 10000),
	}
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestComputeCreates(t *testing.T) {
	r := Compute(fixture(), Filter{Since: t0})
	c := r.Create
	if c.Completed != 2 || c.InProgress != 1 || c.Failed != 1 {
		t.Fatalf("completed, in progress, failed: %d %d %d; want 2 1 1", c.Completed, c.InProgress, c.Failed)
	}
	if want := (Durations{Count: 2, Total: ms(4000), P50: ms(1000), P90: ms(3000), Max: ms(3000)}); c.Lead != want {
		t.Errorf("lead %+v, want %+v", c.Lead, want)
	}
	// Work: acme 100+250+400+0 = 750, globex 200+1400+600+400 = 2600; over 4000.
	if want := 3350.0 / 4000; c.Efficiency != want {
		t.Errorf("efficiency %v, want %v", c.Efficiency, want)
	}
	want := []Step{
		{StepQueued, Durations{}, Durations{Count: 2, Total: ms(400), P50: ms(100), P90: ms(300), Max: ms(300)}},
		{stamp.StepAllocate, Durations{Count: 2, Total: ms(300), P50: ms(100), P90: ms(200), Max: ms(200)}, Durations{Count: 2, Total: ms(100), P50: 0, P90: ms(100), Max: ms(100)}},
		{stamp.StepDatabase, Durations{Count: 2, Total: ms(1650), P50: ms(250), P90: ms(1400), Max: ms(1400)}, Durations{Count: 2, Total: ms(50), P50: 0, P90: ms(50), Max: ms(50)}},
		{stamp.StepStart, Durations{Count: 2, Total: ms(1000), P50: ms(400), P90: ms(600), Max: ms(600)}, Durations{Count: 2}},
		{stamp.StepRoute, Durations{Count: 2, Total: ms(400), P50: 0, P90: ms(400), Max: ms(400)}, Durations{Count: 2, Total: ms(100), P50: 0, P90: ms(100), Max: ms(100)}},
	}
	checkSteps(t, c.Steps, want)
	if c.Bottleneck != stamp.StepDatabase {
		t.Errorf("bottleneck %q, want database (1700 ms)", c.Bottleneck)
	}
}

func TestComputeUpgradesAndClockSkew(t *testing.T) {
	u := Compute(fixture(), Filter{Since: t0}).Upgrade
	if u.Completed != 1 || u.Lead.Total != ms(2000) {
		t.Fatalf("upgrades: %+v", u)
	}
	var names []string
	for _, s := range u.Steps {
		names = append(names, s.Name)
	}
	// retire was recorded started before it was queued: left out.
	if got := names; len(got) != 4 || got[0] != StepQueued || got[1] != stamp.StepCheck || got[2] != stamp.StepMigrate || got[3] != stamp.StepRoute {
		t.Errorf("upgrade steps %v", got)
	}
	if u.Bottleneck != stamp.StepMigrate || u.Efficiency != 1000.0/2000 {
		t.Errorf("bottleneck %q efficiency %v; want migrate, 0.5", u.Bottleneck, u.Efficiency)
	}
}

func TestComputeFilters(t *testing.T) {
	r := Compute(fixture(), Filter{Since: t0, Until: at(1500), Tenants: map[string]bool{"acme": true, "globex": true}})
	if c := r.Create; c.Completed != 1 || c.Lead.Total != ms(1000) || c.InProgress != 0 || c.Failed != 0 {
		t.Errorf("acme's create alone: %+v", c)
	}
	if u := r.Upgrade; u.Completed != 0 {
		t.Errorf("an upgrade after the window: %+v", u)
	}
	if c := Compute(fixture(), Filter{}).Create; c.Completed != 3 {
		t.Errorf("without a window, every create: %d", c.Completed)
	}
	if c := Compute(nil, Filter{}).Create; c.Completed != 0 || c.Efficiency != 0 || len(c.Steps) != 0 {
		t.Errorf("an empty log: %+v", c)
	}
}

// checkSteps checks a stream's steps against want, one by one.
func checkSteps(t *testing.T, got, want []Step) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("steps %+v\nwant %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("step %d:\ngot  %+v\nwant %+v", i, got[i], want[i])
		}
	}
}
