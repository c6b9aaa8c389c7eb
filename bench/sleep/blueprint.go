package main

import (
	"fmt"
	"os"
	"regexp"
	"time"
)

// starterIdle matches the idle time of the ledger's plan starter.
var starterIdle = regexp.MustCompile(`(?m)^(  starter: *\{[^}\n]*idle: *)[0-9a-z]+`)

// plansLine matches the line that opens the plans.
var plansLine = regexp.MustCompile(`(?m)^plans:\n`)

// warmPlan is the plan of the tenant whose latency is measured: the
// starter's limits, and it never sleeps.
const warmPlan = "  warm: { memory: 128Mi, cpu: 0.25, replicas: 1 }\n"

// sleepyBlueprint returns the ledger's stamp.yaml src with plan starter
// sleeping after idle and a plan warm that never sleeps.
func sleepyBlueprint(src []byte, idle time.Duration) ([]byte, error) {
	if !starterIdle.Match(src) {
		return nil, fmt.Errorf("the blueprint has no plan starter with an idle time (%s)", starterIdle)
	}
	if !plansLine.Match(src) {
		return nil, fmt.Errorf("the blueprint has no line %q", "plans:")
	}
	out := starterIdle.ReplaceAll(src, []byte("${1}"+idle.String()))
	return plansLine.ReplaceAll(out, []byte("plans:\n"+warmPlan)), nil
}

// writeSleepyBlueprint rewrites the stamp.yaml at path as sleepyBlueprint.
func writeSleepyBlueprint(path string, idle time.Duration) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read blueprint: %w", err)
	}
	out, err := sleepyBlueprint(src, idle)
	if err != nil {
		return fmt.Errorf("blueprint %s: %w", path, err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return fmt.Errorf("write blueprint: %w", err)
	}
	return nil
}
