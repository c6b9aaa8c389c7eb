package main

import (
	"context"
	"fmt"
	"time"

	stamp "github.com/stamphq/stamp"
)

// stepOrder is the order the reconciler takes a new tenant's steps in.
var stepOrder = []string{
	stamp.StepAllocate, stamp.StepSecrets, stamp.StepDatabase, stamp.StepMigrate,
	stamp.StepSeed, stamp.StepStart, stamp.StepHealth, stamp.StepRoute,
}

// stepTimes is the mean wait (queued to started) and work (started to
// finished) of one step.
type stepTimes struct {
	wait, work time.Duration
}

// breakdown is where a phase's provisioning time went, averaged over its
// tenants: before the first step (the API call and the reconcile queue up
// to allocate's queued time), each step, and after the last (from route
// finished to the client's first 200 through the router).
type breakdown struct {
	before, after time.Duration
	steps         map[string]stepTimes
}

// breakdown reads the step events of every sampled tenant and averages
// them. Event times come from the server's clock, the samples' from this
// program's: both are this machine's wall clock.
func (s *server) breakdown(ctx context.Context, samples []sample) (*breakdown, error) {
	sums := map[string]stepTimes{}
	var before, after time.Duration
	for _, smp := range samples {
		steps, err := s.stepEvents(ctx, smp.name)
		if err != nil {
			return nil, err
		}
		for step, e := range steps {
			t := sums[step]
			t.wait += e.StartedAt.Sub(e.QueuedAt)
			t.work += e.FinishedAt.Sub(e.StartedAt)
			sums[step] = t
		}
		before += steps[stamp.StepAllocate].QueuedAt.Sub(smp.start)
		after += smp.end.Sub(steps[stamp.StepRoute].FinishedAt)
	}
	n := time.Duration(len(samples))
	bd := &breakdown{before: before / n, after: after / n, steps: map[string]stepTimes{}}
	for step, t := range sums {
		bd.steps[step] = stepTimes{wait: t.wait / n, work: t.work / n}
	}
	return bd, nil
}

// stepEvents returns the successful step events of tenant by step, and
// fails if any step of a new tenant is missing.
func (s *server) stepEvents(ctx context.Context, tenant string) (map[string]*stamp.Event, error) {
	events, err := s.Client.Events(ctx, stamp.EventFilter{Tenant: tenant, Limit: 1000})
	if err != nil {
		return nil, fmt.Errorf("events of %s: %w", tenant, err)
	}
	steps := map[string]*stamp.Event{}
	for _, e := range events {
		if e.Type == stamp.EventStep && e.Status == stamp.StatusOK {
			steps[e.Step] = e
		}
	}
	for _, step := range stepOrder {
		if steps[step] == nil {
			return nil, fmt.Errorf("events of %s: no %s step among %d events", tenant, step, len(events))
		}
	}
	return steps, nil
}
