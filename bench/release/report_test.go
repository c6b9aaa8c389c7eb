package main

import (
	"path/filepath"
	"testing"
	"time"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bench/internal/benchkit"
	"github.com/stamphq/stamp/bench/internal/golden"
)

// sizeOf measures, from synthetic event logs, a fleet of two tenants in
// waves 1, 10% (left empty) and 100%, and one lone tenant.
func sizeOf(t *testing.T) *sizeResult {
	t.Helper()
	log := append(cleanUpgrade("s-0001", ""), "s-0001 tenant.retry @40 gen=2")
	log = append(log, cleanUpgrade("f-0001", "r1")...)
	log = append(log, cleanUpgrade("f-0002", "r1")...)
	events := logOf(t, log...)
	lone, oddLone, err := upgradesOf(events, []string{"s-0001"}, "")
	if err != nil {
		t.Fatal(err)
	}
	lone[0].asked = at(-2)
	fleet, odd, err := upgradesOf(events, []string{"f-0001", "f-0002"}, "r1")
	if err != nil {
		t.Fatal(err)
	}
	odd.add(oddLone)
	rel := &stamp.Release{
		ID: "r1", CreatedAt: at(-100),
		Spec: stamp.ReleaseSpec{Waves: []stamp.Wave{{Count: 1}, {Percent: 10}, {Percent: 100}}},
		Status: stamp.ReleaseStatus{State: stamp.ReleaseSucceeded, FinishedAt: at(2500), Tenants: []stamp.ReleaseTenant{
			{Name: "f-0001", Wave: 0, State: stamp.ReleaseTenantUpgraded, StartedAt: at(-3), FinishedAt: at(1200)},
			{Name: "f-0002", Wave: 2, State: stamp.ReleaseTenantUpgraded, StartedAt: at(-1), FinishedAt: at(1250)},
		}},
	}
	if err := withSlots(fleet, rel); err != nil {
		t.Fatal(err)
	}
	return &sizeResult{
		tenants: 2, singles: 1, ports: "25000-25117", setup: 1500 * time.Millisecond,
		loadBefore: "0.50 0.60 0.70", loadAfter: "1.25 0.80 0.72",
		memBefore: benchkit.Memory{ServerKiB: 51200, Procs: 3, ProcsKiB: 46080},
		lone:      lone, fleet: fleet, release: rel, wall: rel.Status.FinishedAt.Sub(rel.CreatedAt),
		serverCPU: 300 * time.Millisecond, waves: wavesOf(rel), odd: odd,
		leaksAfter: []string{"f-0002 runs []"},
	}
}

// TestMarkdown renders a report of one size and compares it with
// testdata/report.md, so that any change to the report's format shows as
// a change of that file (rewrite it with -update).
func TestMarkdown(t *testing.T) {
	r := &report{
		cfg:   config{sizes: []int{2}, maxParallel: 8, singles: 1, drain: time.Second, workers: 8},
		sizes: []*sizeResult{sizeOf(t)},
	}
	path := filepath.Join("testdata", "report.md")
	got := r.markdown()
	golden.Check(t, path, got)
}
