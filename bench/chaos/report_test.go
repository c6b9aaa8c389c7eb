package main

import (
	"io"
	"testing"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bench/chaos/check"
)

func TestReport(t *testing.T) {
	calm := &roundResult{n: 0, killAt: -1, state: "succeeded", release: 9040 * time.Millisecond, seen: "40 processes", took: 61 * time.Second}
	killed := &roundResult{n: 1, killAt: 3210 * time.Millisecond, atKill: "running, wave 2/3, 5 upgraded", restart: 40 * time.Millisecond,
		state: "succeeded", release: 12 * time.Second, seen: "20 processes", took: 70 * time.Second,
		findings: []check.Finding{{Kind: check.KindInconsistent}, {Kind: check.KindOrphan}, {Kind: check.KindRestart}, {Kind: check.KindOrphan}}}
	late := &roundResult{n: 2, killAt: 9 * time.Second, state: "succeeded", release: 8 * time.Second, took: 50 * time.Second}
	for _, tc := range []struct{ got, want string }{
		{calm.line(2), "round 0/2: calm (no kill); release succeeded in 9s; at rest 40 processes; 0 inconsistent, 0 unsettled, 0 orphans, 0 failed restarts; 1m1s"},
		{killed.line(2), "round 1/2: kill at 3.21s (running, wave 2/3, 5 upgraded), ready again in 40ms; release succeeded in 12s; at rest 20 processes; 1 inconsistent, 0 unsettled, 2 orphans, 1 failed restarts; 1m10s"},
		{summaryLine([]*roundResult{calm, killed, late}, 9040*time.Millisecond, 3*time.Minute, 7),
			"summary: 3 rounds, 2 kills (1 after the release had ended; expected duration 9s), 1 inconsistent, 0 unsettled, 2 orphans, 1 failed restarts; 3m0s, seed 7"},
	} {
		if tc.got != tc.want {
			t.Errorf("got  %q\nwant %q", tc.got, tc.want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-rounds", "3", "-waves", "2,50%,100%", "-seed", "9"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.rounds != 3 || cfg.tenants != 20 || cfg.seed != 9 || formatWaves(cfg.waves) != "2,50%,100%" {
		t.Errorf("got %+v, want 3 rounds of 20 tenants, seed 9, waves 2,50%%,100%%", cfg)
	}
	for _, args := range [][]string{{"-waves", "0"}, {"-tenants", "0"}, {"-expect", "-1s"}, {"extra"}} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q): got no error", args)
		}
	}
	a, again, b := newRand(1).Int64N(1<<40), newRand(1).Int64N(1<<40), newRand(2).Int64N(1<<40)
	if a != again || a == b {
		t.Errorf("newRand: seed 1 drew %d then %d, seed 2 %d; want the same draw for the same seed, another for another", a, again, b)
	}
}

func TestDescribeRelease(t *testing.T) {
	r := &stamp.Release{Spec: stamp.ReleaseSpec{Waves: make([]stamp.Wave, 3)}, Status: stamp.ReleaseStatus{State: stamp.ReleaseRunning, Wave: 1,
		Tenants: []stamp.ReleaseTenant{{State: stamp.ReleaseTenantUpgraded}, {State: stamp.ReleaseTenantPending}, {State: stamp.ReleaseTenantUpgrading}, {State: stamp.ReleaseTenantPending}}}}
	if got, want := describeRelease(r), "running, wave 2/3, 2 pending, 1 upgrading, 1 upgraded"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
