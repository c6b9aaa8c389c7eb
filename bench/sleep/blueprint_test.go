package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stamphq/stamp/blueprint"
)

// TestSleepyBlueprint edits the ledger's own blueprint and parses the
// result: starter sleeps after the idle time asked, warm never does.
func TestSleepyBlueprint(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "examples", "ledger", "stamp.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := sleepyBlueprint(src, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	bp, err := blueprint.Parse("stamp.yaml", out)
	if err != nil {
		t.Fatalf("parse the edited blueprint: %v\n%s", err, out)
	}
	for plan, want := range map[string]time.Duration{"starter": 2 * time.Second, "warm": 0} {
		_, p, err := bp.ResolvePlan(plan)
		if err != nil {
			t.Fatalf("plan %s: %v", plan, err)
		}
		if p.Idle != want {
			t.Errorf("plan %s: idle %s, want %s", plan, p.Idle, want)
		}
	}
	if _, err := sleepyBlueprint([]byte(strings.ReplaceAll(string(src), "idle: 15m", "")), time.Second); err == nil {
		t.Error("a blueprint whose starter has no idle: got no error")
	}
}
