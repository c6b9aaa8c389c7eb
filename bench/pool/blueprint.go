package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
)

// The plans the bench adds to the ledger's blueprint.
const (
	pooledPlan = "pooled"
	plainPlan  = "plain"
)

// planSize is the size of both plans: the example's starter plan without
// its cpu quota, which would throttle the app's start under Stamp and not
// by hand, and without its idle time, so that no tenant sleeps.
const planSize = "memory: 128Mi, pids: 256, replicas: 1"

// poolBlueprint returns the ledger's stamp.yaml src with the plans pooled,
// keeping pool stamps made ahead, and plain, first among its plans.
func poolBlueprint(src []byte, pool int) ([]byte, error) {
	before, after, ok := bytes.Cut(src, []byte("\nplans:\n"))
	if !ok {
		return nil, errors.New("no plans: section")
	}
	plans := fmt.Sprintf("\nplans:\n  %s: { %s, pool: %d }\n  %s: { %s }\n", pooledPlan, planSize, pool, plainPlan, planSize)
	return bytes.Join([][]byte{before, []byte(plans), after}, nil), nil
}

// writePoolBlueprint rewrites the stamp.yaml at path as poolBlueprint.
func writePoolBlueprint(path string, pool int) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read blueprint: %w", err)
	}
	out, err := poolBlueprint(src, pool)
	if err != nil {
		return fmt.Errorf("blueprint %s: %w", path, err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return fmt.Errorf("write blueprint: %w", err)
	}
	return nil
}
