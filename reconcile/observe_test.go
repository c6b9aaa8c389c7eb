package reconcile

import (
	"errors"
	"fmt"
	"testing"

	stamp "github.com/stamphq/stamp"
)

func TestPassKindAndOutcome(t *testing.T) {
	kinds := []struct {
		upgrade bool
		steps   []string
		phase   string
		want    string
	}{
		{false, []string{stamp.StepAllocate, stamp.StepSecrets}, "", "provision"},
		{false, []string{stamp.StepStart, stamp.StepHealth, stamp.StepRoute}, stamp.PhaseReady, "provision"},
		{false, []string{stamp.StepRemove}, stamp.PhaseSleeping, "remove"},
		{true, []string{stamp.StepRetire}, stamp.PhaseUpgrading, "upgrade"},
		{true, []string{stamp.StepCheck}, stamp.PhaseSleeping, "upgrade"},
		{false, []string{stamp.StepSleep}, stamp.PhaseReady, "sleep"},
		{false, wakeSteps, stamp.PhaseSleeping, "wake"},
	}
	for _, c := range kinds {
		if got := passKind(c.upgrade, c.steps, c.phase); got != c.want {
			t.Errorf("passKind(%v, %v, %q) = %q, want %q", c.upgrade, c.steps, c.phase, got, c.want)
		}
	}
	outcomes := []struct {
		err  error
		want string
	}{
		{nil, "done"},
		{errFailed, "failed"},
		{fmt.Errorf("pass over acme: %w", errStale), "stale"},
		{errors.New("store unreachable"), "error"},
	}
	for _, c := range outcomes {
		if got := passOutcome(c.err); got != c.want {
			t.Errorf("passOutcome(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
