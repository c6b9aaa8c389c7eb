package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stamphq/stamp/bench/internal/golden"
)

// tenthsOf returns ten tenths of two tenants each, the k-th (from 1)
// taking k*each in all and k*cpu of the server's CPU.
func tenthsOf(each, cpu time.Duration) []tenth {
	var out []tenth
	for k := 1; k <= 10; k++ {
		d := time.Duration(k) * each
		out = append(out, tenth{tenants: 2, wall: d, cpu: time.Duration(k) * cpu, each: []time.Duration{d, d / 2}})
	}
	return out
}

// TestMarkdown renders a report and compares it with testdata/report.md,
// so that any change to the report's format shows as a change of that
// file (rewrite it with -update).
func TestMarkdown(t *testing.T) {
	r := &result{
		cfg:        config{n: 20, concurrency: 8, isolation: "host", settle: 30 * time.Second, max: margins{fds: 16, threads: 16}},
		isolation:  []string{"users: one per tenant", "limits: cgroup v1 (memory, cpu, pids), one group per tenant", "network: off"},
		nproc:      2,
		goVersion:  "go1.26.8",
		commit:     "abc1234",
		loadBefore: "0.50 0.60 0.70",
		loadAfter:  "1.25 0.80 0.72",
		creates:    tenthsOf(200*time.Millisecond, 30*time.Millisecond),
		deletes:    tenthsOf(50*time.Millisecond, 10*time.Millisecond),
		atRest:     held{fds: 21, threads: 8, rssKiB: 102400},
		alive:      held{fds: 81, threads: 12, rssKiB: 133120},
		after:      held{fds: 40, threads: 12, closeWait: 19, rssKiB: 112640},
		settled:    30 * time.Second,
	}
	golden.Check(t, filepath.Join("testdata", "report.md"), r.markdown())
}
