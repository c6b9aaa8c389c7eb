package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bench/internal/golden"
)

// ms returns n milliseconds.
func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

// latencies returns 1, 2, ... 100 times base.
func latencies(base time.Duration) []time.Duration {
	var out []time.Duration
	for i := 1; i <= 100; i++ {
		out = append(out, time.Duration(i)*base)
	}
	return out
}

// TestMarkdown renders a report and compares it with testdata/report.md,
// so that any change to the report's format shows as a change of that
// file (rewrite it with -update).
func TestMarkdown(t *testing.T) {
	f := &fleet{wall: 4 * time.Second, cpu: time.Second}
	for i := range 20 { // one create started every 200ms, each taking 300ms, the last tenth 500ms
		start := time.Duration(i) * 200 * time.Millisecond
		took := ms(300)
		if i >= 18 {
			took = ms(500)
		}
		f.each = append(f.each, span{start: start, end: start + took})
	}
	for k := 10; k >= 1; k-- { // appended as they finish, not in order
		f.snapshots = append(f.snapshots, snapshot{
			tenth: k, created: 2 * k, at: time.Duration(k) * 400 * time.Millisecond, cpu: time.Second + time.Duration(k*k)*50*time.Millisecond,
			held:   held{rssKiB: 80000 + int64(k)*1024, fds: 20 + k, threads: 9, goroutines: 40 + k},
			phases: map[string]int{stamp.PhaseSleeping: 2*k - 2, stamp.PhaseReady: 2, stamp.PhaseProvisioning: 1},
			procs:  3,
		})
	}
	r := &result{
		cfg:         config{n: 20, concurrency: 8, idle: 2 * time.Second, requests: 100, quiet: time.Minute},
		serverFlags: []string{"--idle-check", "200ms", "--ports", "31000-31119", "--tenant-uids", "none", "--tenant-cgroups", "none", "--tenant-net", "none"},
		nproc:       2,
		cpuModel:    "AMD EPYC",
		goVersion:   "go1.26.8",
		commit:      "abc1234",
		loadBefore:  "0.50 0.60 0.70",
		loadAfter:   "1.25 0.80 0.72",
		atRest:      held{rssKiB: 76800, fds: 19, threads: 8, goroutines: 30},
		oneRoute:    latency{router: latencies(10 * time.Microsecond), direct: latencies(6 * time.Microsecond)},
		allRoutes:   latency{router: latencies(11 * time.Microsecond), direct: latencies(6 * time.Microsecond)},
		fleet:       f,
		fellAsleep:  3 * time.Second,
		quiet:       quiet{window: time.Minute, cpu: 600 * time.Millisecond, held: held{rssKiB: 81920, fds: 22, threads: 9, goroutines: 35}, procs: 1},
		cold: []coldSample{
			{tenant: "s-1", cold: ms(120), floor: ms(80)},
			{tenant: "s-11", cold: ms(150), floor: ms(90)},
		},
		wake: &wakeBreakdown{samples: 2, toWaking: ms(1.5), toFirstStep: ms(0.8), between: ms(0.4), after: ms(0.6),
			steps: map[string]time.Duration{"secrets": ms(1), "database": ms(0.5), "start": ms(3), "health": ms(9), "route": ms(2)}},
		wakes:       histogram{buckets: []bucket{{"0.1", 0}, {"0.25", 2}, {"+Inf", 2}}, count: 2, sum: 0.26},
		failedWakes: 0,
		end:         held{rssKiB: 83000, fds: 23, threads: 9, goroutines: 36},
	}
	golden.Check(t, filepath.Join("testdata", "report.md"), r.markdown())
}
