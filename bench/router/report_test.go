package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stamphq/stamp/bench/internal/golden"
)

// resultOf returns a load result of n answers in window, every one
// taking each.
func resultOf(n int, each, window time.Duration) *loadResult {
	r := &loadResult{ok: uint64(n), window: window}
	for range n {
		r.hist.record(each)
	}
	return r
}

// TestMarkdown renders reports with and without nginx and compares them
// with testdata/report-*.md, so that any change to the report's format
// shows as a change of those files (rewrite them with -update).
func TestMarkdown(t *testing.T) {
	cfg := config{window: 10 * time.Second, warmup: 2 * time.Second, blocks: 5, conns: []int{1, 16}, routes: 10000, routesConns: 16, routesWindow: 30 * time.Second}
	m := machine{nproc: 2, cpu: "AMD EPYC", memTotalKiB: 24683620, kernel: "6.18.44", goVersion: "go1.26.8", commit: "abc1234"}
	grid := []cell{
		{front: direct, conns: 1, res: resultOf(100, 100*time.Microsecond, cfg.window)},
		{front: viaNginx, conns: 1, res: resultOf(80, 200*time.Microsecond, cfg.window), cpu: 2 * time.Millisecond},
		{front: viaRouter, conns: 1, res: resultOf(60, 300*time.Microsecond, cfg.window), cpu: 6 * time.Millisecond},
		{front: viaRouter, conns: 16, res: resultOf(300, 2*time.Millisecond, cfg.window), cpu: 15 * time.Millisecond},
		{front: direct, conns: 16, res: resultOf(500, time.Millisecond, cfg.window)},
		{front: viaNginx, conns: 16, res: resultOf(400, 1500*time.Microsecond, cfg.window), cpu: 8 * time.Millisecond},
		{front: viaStampRouter, conns: 1, res: resultOf(65, 280*time.Microsecond, cfg.window), cpu: 5 * time.Millisecond},
		{front: viaBare, conns: 1, res: resultOf(70, 250*time.Microsecond, cfg.window), cpu: 4 * time.Millisecond},
		{front: viaBareFlush, conns: 1, res: resultOf(62, 290*time.Microsecond, cfg.window), cpu: 5 * time.Millisecond},
		{front: viaStampRouter, conns: 16, res: resultOf(320, 1900*time.Microsecond, cfg.window), cpu: 14 * time.Millisecond},
		{front: viaBare, conns: 16, res: resultOf(340, 1800*time.Microsecond, cfg.window), cpu: 12 * time.Millisecond},
		{front: viaBareFlush, conns: 16, res: resultOf(290, 2200*time.Microsecond, cfg.window), cpu: 16 * time.Millisecond},
		{front: viaFast, conns: 1, res: resultOf(78, 210*time.Microsecond, cfg.window), cpu: 3 * time.Millisecond},
		{front: viaFast, conns: 16, res: resultOf(380, 1600*time.Microsecond, cfg.window), cpu: 9 * time.Millisecond},
	}
	grid[3].res.failed, grid[3].res.firstFailure = 2, "status 502"
	routes := []cell{
		{front: routesFront(1), conns: 16, routes: 1, res: resultOf(310, 2*time.Millisecond, cfg.routesWindow), cpu: 15 * time.Millisecond},
		{front: routesFront(10000), conns: 16, routes: 10000, res: resultOf(300, 2100*time.Microsecond, cfg.routesWindow), cpu: 16 * time.Millisecond},
	}
	routes[1].res.failed, routes[1].res.firstFailure = 1200, "read status line: EOF"
	tests := []struct {
		name string
		r    *report
	}{
		{name: "nginx", r: &report{cfg: cfg, machine: m, nginx: "nginx/1.22.1 with 2 workers", cells: grid, routes: routes,
			loadBefore: "0.50 0.60 0.70", loadAfter: "1.25 0.80 0.72"}},
		{name: "no-nginx", r: &report{cfg: cfg, machine: m, noNginx: "scripts/nginx: exit status 1: nginx is missing: run as root",
			cells: []cell{grid[0], grid[2], grid[3], grid[4], grid[6], grid[7], grid[9], grid[10], grid[12], grid[13]}, loadBefore: "0.50 0.60 0.70", loadAfter: "1.25 0.80 0.72"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			golden.Check(t, filepath.Join("testdata", "report-"+tt.name+".md"), tt.r.markdown())
		})
	}
}

func TestModelName(t *testing.T) {
	for _, tt := range []struct{ cpuinfo, want string }{
		{"processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\nflags\t: fpu\n\nprocessor\t: 1\nmodel name\t: AMD EPYC\n", "AMD EPYC"},
		{"processor\t: 0\nCPU implementer\t: 0x41\n", "unknown"},
	} {
		if got := modelName(tt.cpuinfo); got != tt.want {
			t.Errorf("modelName(%q): got %q, want %q", tt.cpuinfo, got, tt.want)
		}
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 12992: "12,992", 1234567: "1,234,567", -1500: "-1,500"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d): got %q, want %q", n, got, want)
		}
	}
}

func TestParseConns(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{in: "1,16,64", want: []int{1, 16, 64}},
		{in: " 8 ", want: []int{8}},
		{in: "1,,2", wantErr: true},
		{in: "0", wantErr: true},
		{in: "x", wantErr: true},
	} {
		got, err := parseConns(tt.in)
		if (err != nil) != tt.wantErr || len(got) != len(tt.want) {
			t.Errorf("parseConns(%q): got %v, %v; want %v (error: %v)", tt.in, got, err, tt.want, tt.wantErr)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("parseConns(%q): got %v, want %v", tt.in, got, tt.want)
			}
		}
	}
}
