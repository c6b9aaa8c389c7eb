package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stamphq/stamp/blueprint"
)

// TestPoolBlueprint edits the ledger's own blueprint and parses the
// result: plan pooled keeps the stamps asked, plain none, both of one
// size and neither asleep ever.
func TestPoolBlueprint(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "examples", "ledger", "stamp.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := poolBlueprint(src, 3)
	if err != nil {
		t.Fatal(err)
	}
	bp, err := blueprint.Parse("stamp.yaml", out)
	if err != nil {
		t.Fatalf("parse the edited blueprint: %v\n%s", err, out)
	}
	_, pooled, err := bp.ResolvePlan(pooledPlan)
	if err != nil {
		t.Fatal(err)
	}
	_, plain, err := bp.ResolvePlan(plainPlan)
	if err != nil {
		t.Fatal(err)
	}
	if pooled.Pool != 3 || plain.Pool != 0 {
		t.Errorf("pools: %s %d, %s %d; want 3 and 0", pooledPlan, pooled.Pool, plainPlan, plain.Pool)
	}
	if pooled.Idle != 0 || plain.Idle != 0 {
		t.Errorf("idle times: %s %s, %s %s; want none", pooledPlan, pooled.Idle, plainPlan, plain.Idle)
	}
	withoutPool := *pooled
	withoutPool.Pool = 0
	if withoutPool != *plain {
		t.Errorf("plans differ beyond the pool: %+v and %+v", *pooled, *plain)
	}
	if _, err := poolBlueprint([]byte("name: x\n"), 3); err == nil {
		t.Error("a blueprint without plans: got no error")
	}
}
