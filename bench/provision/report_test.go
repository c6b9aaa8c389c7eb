package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
	"github.com/stamphq/stamp/bench/internal/golden"
)

// samplesOf returns n samples, the i-th (from 1) taking i*each, each step
// of the floor's a third of it, its seed ending a sixth before its end.
func samplesOf(n int, each time.Duration) []sample {
	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var s []sample
	for i := 1; i <= n; i++ {
		took := time.Duration(i) * each
		s = append(s, sample{
			name: "b-" + string(rune('0'+i)), start: start, end: start.Add(took),
			created: start.Add(took / 3), migrated: start.Add(2 * took / 3),
			healthy: start.Add(took), seeded: start.Add(5 * took / 6),
		})
	}
	return s
}

// breakdownOf gives every step a wait of 1 ms and a work of i ms, i its
// place in stepOrder (from 1).
func breakdownOf() *breakdown {
	bd := &breakdown{before: 4 * time.Millisecond, after: 7 * time.Millisecond, steps: map[string]stepTimes{}}
	for i, step := range stepOrder {
		bd.steps[step] = stepTimes{wait: time.Millisecond, work: time.Duration(i+1) * time.Millisecond}
	}
	return bd
}

// TestMarkdown renders a report of both phases and compares it with
// testdata/report-<engine>.md, so that any change to the report's format
// shows as a change of those files (rewrite them with -update).
func TestMarkdown(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			r := &report{
				engine:    engine,
				isolation: "host",
				plan:      "bench",
				phases: []*phaseResult{
					{phase: phase{name: "sequential", n: 3, concurrency: 1},
						floor: samplesOf(3, 20*time.Millisecond), stamp: samplesOf(3, 45*time.Millisecond),
						steps: breakdownOf(), serverCPU: 90 * time.Millisecond},
					{phase: phase{name: "parallel", n: 5, concurrency: 2},
						floor: samplesOf(5, 30*time.Millisecond), stamp: samplesOf(5, 70*time.Millisecond),
						steps: breakdownOf(), serverCPU: 250 * time.Millisecond},
				},
				memory:     memoryUse{Memory: benchkit.Memory{ServerKiB: 51200, Procs: 8, ProcsKiB: 122880}, pgBackends: 17},
				loadBefore: "0.50 0.60 0.70",
				loadAfter:  "1.25 0.80 0.72",
			}
			path := filepath.Join("testdata", "report-"+engine+".md")
			got := r.markdown()
			golden.Check(t, path, got)
		})
	}
}
