package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bench/internal/benchkit"
	"github.com/stamphq/stamp/bench/internal/golden"
)

// ms returns n milliseconds.
func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

// createsOf returns n creates of plan, the i-th (from 1) taking i*each,
// with every step of steps: each waits 0.1 ms, works i ms and is done i*2
// ms after the POST.
func createsOf(plan string, n int, each time.Duration, steps ...string) []create {
	var cs []create
	for i := 1; i <= n; i++ {
		c := create{name: plan + "-" + string(rune('0'+i)), plan: plan, took: time.Duration(i) * each, refill: ms(70 + float64(i)),
			parts: parts{before: ms(2), after: ms(4), steps: map[string]stepTime{}}}
		if plan == pooledPlan {
			c.runtime = stamp.PoolPrefix + "0123456789"
		}
		for _, step := range steps {
			c.parts.steps[step] = stepTime{wait: ms(0.1), work: ms(float64(i)), done: ms(2 * float64(i))}
		}
		cs = append(cs, c)
	}
	return cs
}

// floorOf returns n floor samples, the i-th (from 1) taking i*each, its
// migrate a third of it, its serve and its seed the rest.
func floorOf(n int, each time.Duration) []benchkit.FloorSample {
	start := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	var fs []benchkit.FloorSample
	for i := 1; i <= n; i++ {
		took := time.Duration(i) * each
		fs = append(fs, benchkit.FloorSample{Start: start, Created: start, Migrated: start.Add(took / 3),
			Healthy: start.Add(took), Seeded: start.Add(2 * took / 3), End: start.Add(took)})
	}
	return fs
}

// TestMarkdown renders a report and compares it with testdata/report.md,
// so that any change to the report's format shows as a change of that
// file (rewrite it with -update).
func TestMarkdown(t *testing.T) {
	pooledSteps := []string{stamp.StepAllocate, stamp.StepSecrets, stamp.StepDatabase, stamp.StepSeed, stamp.StepStart, stamp.StepHealth, stamp.StepRoute}
	unclaimed := createsOf(pooledPlan, 1, ms(90), stepOrder...)
	unclaimed[0].name, unclaimed[0].runtime = "pooled-9", ""
	r := &result{
		cfg:         config{args: []string{"-n", "5", "-pool", "3"}, n: 5, pool: 3},
		serverFlags: []string{"--tenant-uids", "none", "--tenant-cgroups", "none", "--tenant-net", "none"},
		nproc:       2,
		cpuModel:    "AMD EPYC",
		goVersion:   "go1.26.8",
		commit:      "abc1234",
		loadBefore:  "0.50 0.60 0.70",
		loadAfter:   "1.25 0.80 0.72",
		pooled:      createsOf(pooledPlan, 4, ms(10), pooledSteps...),
		unclaimed:   unclaimed,
		plain:       createsOf(plainPlan, 5, ms(20), stepOrder...),
		floor:       floorOf(5, ms(8)),
	}
	r.pooled[3].parts.steps[stamp.StepSeed] = stepTime{wait: ms(0.2), work: ms(30), done: ms(33)}
	golden.Check(t, filepath.Join("testdata", "report.md"), r.markdown())
}
