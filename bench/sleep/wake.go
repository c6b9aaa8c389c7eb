package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/stamphq/stamp"
)

// wakeSteps are the steps of a pass that wakes a tenant, in order.
var wakeSteps = []string{stamp.StepSecrets, stamp.StepDatabase, stamp.StepStart, stamp.StepHealth, stamp.StepRoute}

// wakeBreakdown is where the cold starts' time went, averaged over the
// samples whose wake the event log shows in full: from the request to the
// tenant.waking event, from it to the wake pass's first step, each step's
// work, the gaps between steps, and from the route step's end to the
// answer. Event times come from the server's clock, the requests' from
// this program's: both are this machine's wall clock.
type wakeBreakdown struct {
	samples        int // cold starts averaged
	toWaking       time.Duration
	toFirstStep    time.Duration
	steps          map[string]time.Duration
	between, after time.Duration
}

// breakdown reads the events of each cold start's tenant and averages
// where its wake's time went.
func (b *bench) breakdown(ctx context.Context, samples []coldSample) (*wakeBreakdown, error) {
	bd := &wakeBreakdown{steps: map[string]time.Duration{}}
	for _, s := range samples {
		events, err := b.srv.Client.Events(ctx, stamp.EventFilter{Tenant: s.tenant, Limit: 1000})
		if err != nil {
			return nil, fmt.Errorf("events of %s: %w", s.tenant, err)
		}
		waking, steps := wakeEvents(events, s.sent)
		if waking == nil || len(steps) < len(wakeSteps) {
			continue // not all in the log: left out
		}
		bd.samples++
		bd.toWaking += waking.Time.Sub(s.sent)
		bd.toFirstStep += steps[wakeSteps[0]].StartedAt.Sub(waking.Time)
		for i, step := range wakeSteps {
			e := steps[step]
			bd.steps[step] += e.FinishedAt.Sub(e.StartedAt)
			if i > 0 {
				bd.between += e.StartedAt.Sub(steps[wakeSteps[i-1]].FinishedAt)
			}
		}
		bd.after += s.done.Sub(steps[stamp.StepRoute].FinishedAt)
	}
	if bd.samples == 0 {
		return bd, nil
	}
	n := time.Duration(bd.samples)
	bd.toWaking, bd.toFirstStep, bd.between, bd.after = bd.toWaking/n, bd.toFirstStep/n, bd.between/n, bd.after/n
	for step := range bd.steps {
		bd.steps[step] /= n
	}
	return bd, nil
}

// wakeEvents returns the first tenant.waking event at or after sent and
// the successful wake steps that follow it, by step.
func wakeEvents(events []*stamp.Event, sent time.Time) (*stamp.Event, map[string]*stamp.Event) {
	var waking *stamp.Event
	steps := map[string]*stamp.Event{}
	for _, e := range events {
		switch {
		case waking == nil:
			if e.Type == stamp.EventTenantWaking && !e.Time.Before(sent) {
				waking = e
			}
		case e.Type == stamp.EventStep && e.Status == stamp.StatusOK && steps[e.Step] == nil:
			steps[e.Step] = e
		}
	}
	for step := range steps {
		if !slices.Contains(wakeSteps, step) {
			delete(steps, step)
		}
	}
	return waking, steps
}
