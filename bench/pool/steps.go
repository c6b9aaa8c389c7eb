package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/stamphq/stamp"
)

// stepOrder is the order the reconciler takes a new tenant's steps in. A
// tenant that claimed a stamp has no migrate step: its stamp migrated.
var stepOrder = []string{
	stamp.StepAllocate, stamp.StepSecrets, stamp.StepDatabase, stamp.StepMigrate,
	stamp.StepSeed, stamp.StepStart, stamp.StepHealth, stamp.StepRoute,
}

// stepTime is the wait (queued to started) and the work (started to
// finished) of one step, and when it was done, from the create's POST.
type stepTime struct{ wait, work, done time.Duration }

// parts is where one create's time went, read off its step events. Steps
// overlap: allocate goes on beside secrets and database, the seed beside
// start and health, and route waits for it. Event times come from the
// server's clock, the create's from this program's: both are this
// machine's wall clock.
type parts struct {
	before time.Duration       // from the POST sent to the first step queued
	steps  map[string]stepTime // each step of stepOrder the create ran
	after  time.Duration       // from the route step's end to the first 200
}

// partsOf reads the first successful event of each step of stepOrder in
// events, the events of a tenant created at sent and first answering 200
// at done. It fails without a route step: the create is not in the log.
func partsOf(events []*stamp.Event, sent, done time.Time) (parts, error) {
	p := parts{steps: map[string]stepTime{}}
	var first, routed time.Time
	for _, e := range events {
		if e.Type != stamp.EventStep || e.Status != stamp.StatusOK || !slices.Contains(stepOrder, e.Step) {
			continue
		}
		if _, seen := p.steps[e.Step]; seen {
			continue
		}
		p.steps[e.Step] = stepTime{wait: e.StartedAt.Sub(e.QueuedAt), work: e.FinishedAt.Sub(e.StartedAt), done: e.FinishedAt.Sub(sent)}
		if first.IsZero() || e.QueuedAt.Before(first) {
			first = e.QueuedAt
		}
		if e.Step == stamp.StepRoute {
			routed = e.FinishedAt
		}
	}
	if routed.IsZero() {
		return p, fmt.Errorf("no %s step among %d events", stamp.StepRoute, len(events))
	}
	p.before, p.after = first.Sub(sent), done.Sub(routed)
	return p, nil
}
