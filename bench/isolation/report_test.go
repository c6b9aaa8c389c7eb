package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stamphq/stamp/bench/internal/golden"
)

// ramp returns n durations: each, 2*each, ... n*each.
func ramp(n int, each time.Duration) []time.Duration {
	var ds []time.Duration
	for i := 1; i <= n; i++ {
		ds = append(ds, time.Duration(i)*each)
	}
	return ds
}

// samplesOf returns a sample per duration of took, done twice its took,
// with an allocate and a start step of a tenth of it each.
func samplesOf(took []time.Duration) []sample {
	var s []sample
	for i, d := range took {
		s = append(s, sample{tenant: fmt.Sprintf("t%d", i), took: d, done: 2 * d,
			steps: map[string]time.Duration{"allocate": d / 10, "start": d / 10}})
	}
	return s
}

// TestMarkdown renders a report and compares it with testdata/report.md,
// so that any change to the report's format shows as a change of that
// file (rewrite it with -update).
func TestMarkdown(t *testing.T) {
	r := &report{
		machine: machine{nproc: 2, memTotalKiB: 24 << 20, kernel: "6.18.0", goVersion: "go1.26.0", commit: "abc1234",
			check: []string{"users: one per tenant", "limits: cgroup v1 (memory, cpu, pids), one group per tenant", "network: a namespace per tenant"}},
		cfg:      config{concurrency: 8, blocks: 2},
		creates:  map[cell][]sample{},
		upgrades: map[cell][]sample{},
		router:   map[routerKey]*routerRun{},
		loads:    []phaseLoad{{"create", "0.50 0.60 0.70", "1.00 0.70 0.70"}, {"router", "1.00 0.70 0.70", "1.20 0.75 0.71"}},
	}
	for _, p := range plans {
		// Isolated takes 5% longer on bench, 50% on starter; the plain
		// server's two plans are alike.
		slow := map[string]time.Duration{starter: 150, benchPl: 105}[p]
		r.creates[cell{isolated, p}] = samplesOf(ramp(10, slow*time.Millisecond))
		r.creates[cell{plain, p}] = samplesOf(ramp(10, 100*time.Millisecond))
		r.upgrades[cell{isolated, p}] = samplesOf(ramp(4, slow*time.Millisecond))
		r.upgrades[cell{plain, p}] = samplesOf(ramp(4, 100*time.Millisecond))
		for _, l := range []string{sequential, concurrent} {
			r.router[routerKey{cell{isolated, p}, l}] = &routerRun{latencies: ramp(100, slow*time.Microsecond/10), wall: 100 * time.Millisecond}
			r.router[routerKey{cell{plain, p}, l}] = &routerRun{latencies: ramp(100, 10*time.Microsecond), wall: 80 * time.Millisecond}
		}
	}
	path := filepath.Join("testdata", "report.md")
	got := r.markdown()
	golden.Check(t, path, got)
}

func TestBootstrap(t *testing.T) {
	base := ramp(30, time.Millisecond)
	double := ramp(30, 2*time.Millisecond)
	tests := []struct {
		name   string
		a, b   []time.Duration
		lo, hi float64 // the interval must lie within [lo, hi] and hold want
		want   float64
	}{
		{"a set against itself", base, base, 0.5, 2, 1},
		{"twice as slow, value for value", double, base, 1, 4, 2},
		{"one value each", []time.Duration{3}, []time.Duration{2}, 1.5, 1.5, 1.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lo, hi := bootstrap(tt.a, tt.b, 50)
			if lo > hi || lo < tt.lo || hi > tt.hi || tt.want < lo || tt.want > hi {
				t.Errorf("got (%.3f, %.3f), want an interval within [%v, %v] holding %v", lo, hi, tt.lo, tt.hi, tt.want)
			}
			if lo2, hi2 := bootstrap(tt.a, tt.b, 50); lo2 != lo || hi2 != hi {
				t.Errorf("second call: got (%v, %v), want the first's (%v, %v)", lo2, hi2, lo, hi)
			}
		})
	}
	if lo, hi := bootstrap(nil, base, 50); lo != 0 || hi != 0 {
		t.Errorf("no samples: got (%v, %v), want (0, 0)", lo, hi)
	}
}

func TestVerdict(t *testing.T) {
	tests := []struct {
		a, b []time.Duration
		want string
	}{
		{ramp(10, 110*time.Millisecond), ramp(10, 100*time.Millisecond), "1.10x, met"},
		{ramp(10, 125*time.Millisecond), ramp(10, 100*time.Millisecond), "1.25x, missed: isolation adds 25% (125.0 ms), the target allows 10%"},
		{ramp(10, time.Millisecond), nil, "no figures"},
	}
	for _, tt := range tests {
		if got := verdict(tt.a, tt.b, 50); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

// TestOrder checks that every round has each cell once and that the
// servers take turns at going first.
func TestOrder(t *testing.T) {
	for i := range 4 {
		got := order(i)
		if len(got) != 4 || slices.ContainsFunc(got, func(c cell) bool {
			return strings.Count(fmt.Sprint(got), fmt.Sprint(c)) != 1
		}) {
			t.Errorf("round %d: got %v, want each of the 4 cells once", i, got)
		}
		if first := map[bool]string{true: isolated, false: plain}[i%2 == 0]; got[0].setup != first || got[2].setup != first {
			t.Errorf("round %d: got %v, want %s first for each plan", i, got, first)
		}
	}
}
