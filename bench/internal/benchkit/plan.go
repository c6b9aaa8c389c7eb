package benchkit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
)

// BenchPlanName names the plan AddBenchPlan adds.
const BenchPlanName = "bench"

// benchPlan is the plan added to the example's: its starter plan
// without the cpu quota (nor its idle scale-down), so that what Stamp
// costs is not hidden behind the quota throttling the app's own start.
const benchPlan = "  bench:    { memory: 128Mi, pids: 256, replicas: 1 }\n"

// AddBenchPlan adds the bench plan to the plans of the stamp.yaml at
// path.
func AddBenchPlan(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read blueprint: %w", err)
	}
	out, err := withBenchPlan(src)
	if err != nil {
		return fmt.Errorf("blueprint %s: %w", path, err)
	}
	return os.WriteFile(path, out, 0o644)
}

// withBenchPlan returns the stamp.yaml src with benchPlan first among its
// plans.
func withBenchPlan(src []byte) ([]byte, error) {
	before, after, ok := bytes.Cut(src, []byte("\nplans:\n"))
	if !ok {
		return nil, errors.New("no plans: section")
	}
	return bytes.Join([][]byte{before, []byte("\nplans:\n" + benchPlan), after}, nil), nil
}
