package main

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bench/internal/benchkit"
	"github.com/stamphq/stamp/bench/internal/golden"
	"github.com/stamphq/stamp/blueprint"
)

// resultOf is a run of three tenants: two kills, one of whose incident
// opened twice and never resolved, and an incident of a tenant not killed.
func resultOf(t *testing.T) *result {
	t.Helper()
	kills := []*kill{
		{tenant: "t-0002", pid: 101, at: at(0), checked: at(640), cause: stamp.CauseExit},
		{tenant: "t-0003", pid: 102, at: at(3000), checked: at(4180), cause: stamp.CauseProbe},
	}
	events := []*stamp.Event{
		ev("t-0002", stamp.EventIncidentOpened, "inc-1", 650), ev("t-0002", stamp.EventIncidentResolved, "inc-1", 1700),
		ev("t-0001", stamp.EventIncidentOpened, "inc-9", 2000),
		ev("t-0003", stamp.EventIncidentOpened, "inc-2", 4200), ev("t-0003", stamp.EventIncidentOpened, "inc-3", 5200),
	}
	res := &result{
		machine: machine{nproc: 2, memTotalKiB: 24 << 20, memAvailKiB: 23 << 20, kernel: "6.1.0", goVersion: "go1.26.8",
			commit: "abc1234", load: "0.10 0.20 0.30"},
		asked: 5, tenants: 3, scaled: "-tenants 5 need more than there is: running 3 tenants instead",
		blueprint: "ledger@2.0.0", probe: blueprint.Health{HTTP: "/healthz", Interval: time.Second, Timeout: 2 * time.Second},
		ports: "25000-25102", setup: 2500 * time.Millisecond,
		floor: window{wall: 60 * time.Second, cpu: 300 * time.Millisecond, loadBefore: "0.10 0.20 0.30", loadAfter: "0.11 0.20 0.30", rssKiB: 40 << 10},
		fleet: window{tenants: 3, wall: 60 * time.Second, cpu: 900 * time.Millisecond, loadBefore: "0.20 0.20 0.30", loadAfter: "0.30 0.20 0.30",
			rssKiB: 60 << 10, procs: 3, procsCPU: 360 * time.Millisecond, requests: 170, conns: 3, accepted: 10},
		memory: benchkit.Memory{ServerKiB: 60 << 10, Procs: 3, ProcsKiB: 45 << 10},
		profile: &profile{wall: 20 * time.Second, cpu: 400 * time.Millisecond, total: 8, samples: map[string]int{
			parts[0].name: 2, parts[1].name: 2, "reconciler (lease renewals, resyncs, passes)": 2, runtimePart.name: 2},
			monitor: map[string]int{"monitor.(*Monitor).tick → store/sqlite.(*Store).ListTenants": 1, "monitor.(*Monitor).observe → health.Probe": 1,
				"net/http.(*persistConn).readLoop": 2}},
		killLoadBefore: "0.40 0.20 0.30", killLoadAfter: "0.50 0.20 0.30",
		kills: kills, openAtEnd: []string{"inc-3 of t-0003 (exit, opened 12:00:05.200): 0 of 1 instances running"},
		leaks: []string{"t-0001 runs 0 processes [], want one web"},
	}
	res.spurious = analyze(kills, events, at(0))
	return res
}

// TestMarkdown renders a report and compares it with testdata/report.md,
// so that any change to the report's format shows as a change of that
// file (rewrite it with -update).
func TestMarkdown(t *testing.T) {
	path := filepath.Join("testdata", "report.md")
	got := resultOf(t).markdown()
	golden.Check(t, path, got)
}

func TestProblems(t *testing.T) {
	got := resultOf(t).problems()
	want := []string{
		"kill of t-0003 (pid 102) at 12:00:03.000: 2 incidents opened, want one",
		`incident inc-2 of t-0003 (killed at 12:00:03.000) has cause "probe", want "exit"`,
		"incident inc-2 of t-0003 (killed at 12:00:03.000) never resolved",
		"incident no kill explains: t-0001: incident inc-9 opened at 12:00:02.000: ",
		"incident open at the end: inc-3 of t-0003 (exit, opened 12:00:05.200): 0 of 1 instances running",
		"t-0001 runs 0 processes [], want one web",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string // part of the error; "" for none
	}{
		{nil, ""},
		{[]string{"-tenants", "10", "-kills", "10", "-perf", "0"}, ""},
		{[]string{"-tenants", "10", "-kills", "11"}, "-kills 11"},
		{[]string{"-tenants", "0"}, "-tenants 0"},
		{[]string{"-window", "10ms"}, "-window 10ms"},
		{[]string{"-kill-wait", "0s"}, "-kill-wait 0s"},
		{[]string{"extra"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := parseFlags(tt.args, io.Discard)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("got %v, want an error saying %q", err, tt.wantErr)
			}
		})
	}
}
