package main

import (
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// TestWakeEvents picks the wake that followed a request out of a
// tenant's log: not the earlier one, nor a failed step.
func TestWakeEvents(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	step := func(name, status string, start, end int) *stamp.Event {
		return &stamp.Event{Type: stamp.EventStep, Step: name, Status: status, StartedAt: at(start), FinishedAt: at(end), Time: at(end)}
	}
	events := []*stamp.Event{
		{Type: stamp.EventTenantWaking, Time: at(-100)},
		step(stamp.StepStart, stamp.StatusOK, -90, -80), // the earlier wake
		{Type: stamp.EventTenantWaking, Time: at(2)},
		step(stamp.StepSecrets, stamp.StatusOK, 3, 4),
		step(stamp.StepDatabase, stamp.StatusOK, 4, 5),
		step(stamp.StepStart, stamp.StatusFailed, 5, 6),
		step(stamp.StepStart, stamp.StatusOK, 7, 9),
		step(stamp.StepHealth, stamp.StatusOK, 9, 20),
		step(stamp.StepRoute, stamp.StatusOK, 20, 22),
		step(stamp.StepSleep, stamp.StatusOK, 2000, 2010),
	}
	waking, steps := wakeEvents(events, at(0))
	if waking == nil || !waking.Time.Equal(at(2)) {
		t.Fatalf("waking: got %+v, want the event at +2ms", waking)
	}
	if len(steps) != len(wakeSteps) {
		t.Errorf("got %d steps, want the %d wake steps: %v", len(steps), len(wakeSteps), steps)
	}
	if s := steps[stamp.StepStart]; s == nil || !s.StartedAt.Equal(at(7)) {
		t.Errorf("start: got %+v, want the step that succeeded at +7ms", s)
	}
	if w, _ := wakeEvents(events, at(3)); w != nil {
		t.Errorf("a request after every wake: got waking %+v, want none", w)
	}
}
