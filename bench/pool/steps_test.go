package main

import (
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// TestPartsOf reads the steps of a create off its events: the first
// successful run of each create step, the time before the first and
// after the route.
func TestPartsOf(t *testing.T) {
	sent := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	at := func(msec float64) time.Time { return sent.Add(ms(msec)) }
	step := func(name, status string, queued, started, finished float64) *stamp.Event {
		return &stamp.Event{Type: stamp.EventStep, Step: name, Status: status, QueuedAt: at(queued), StartedAt: at(started), FinishedAt: at(finished)}
	}
	events := []*stamp.Event{
		{Type: stamp.EventTenantCreated, Time: at(1)},
		step(stamp.StepAllocate, stamp.StatusOK, 3, 3.5, 6),
		step(stamp.StepSeed, stamp.StatusFailed, 6, 6, 7),
		step(stamp.StepSeed, stamp.StatusOK, 8, 8, 20),
		step(stamp.StepSeed, stamp.StatusOK, 30, 30, 40), // a later run: not the create's first
		step(stamp.StepRoute, stamp.StatusOK, 21, 21, 22),
		step(stamp.StepRemove, stamp.StatusOK, 50, 50, 60),
	}
	p, err := partsOf(events, sent, at(25))
	if err != nil {
		t.Fatal(err)
	}
	if p.before != ms(3) || p.after != ms(3) {
		t.Errorf("before %s, after %s; want 3ms and 3ms", p.before, p.after)
	}
	want := map[string]stepTime{
		stamp.StepAllocate: {wait: ms(0.5), work: ms(2.5), done: ms(6)},
		stamp.StepSeed:     {wait: 0, work: ms(12), done: ms(20)},
		stamp.StepRoute:    {wait: 0, work: ms(1), done: ms(22)},
	}
	if len(p.steps) != len(want) {
		t.Errorf("steps %v, want %v", p.steps, want)
	}
	for name, w := range want {
		if got := p.steps[name]; got != w {
			t.Errorf("step %s: %+v, want %+v", name, got, w)
		}
	}
	if _, err := partsOf(events[:4], sent, at(25)); err == nil {
		t.Error("events without a route step: got no error")
	}
}
