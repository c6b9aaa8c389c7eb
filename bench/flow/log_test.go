package flow

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// logEvents is how many events the log holds, as in the figure.
const logEvents = 1_000_000

// createSteps and upgradeSteps are the steps of a create and of an
// upgrade as the reconciler records them.
var (
	createSteps  = []string{stamp.StepAllocate, stamp.StepSecrets, stamp.StepDatabase, stamp.StepMigrate, stamp.StepSeed, stamp.StepStart, stamp.StepHealth, stamp.StepRoute}
	upgradeSteps = []string{stamp.StepSnapshot, stamp.StepMigrate, stamp.StepStart, stamp.StepHealth, stamp.StepRoute, stamp.StepRetire}
)

// fillLog appends logEvents events to s, spread over the 29 days before
// now, so the report's default window of 30 days holds them all: tenants
// created one after another, every fourth upgraded once, one create in
// fifty failing at its migrate. Times within a run are made up but in
// order, as a server records them. It returns how many tenants it
// created.
func fillLog(tb testing.TB, s stamp.EventLog, now time.Time) (creates int) {
	tb.Helper()
	ctx := context.Background()
	start := now.Add(-29 * 24 * time.Hour)
	// A tenant takes 11.9 events on average (10 a create, 6 when it
	// fails, 8 an upgrade every fourth): spread the tenants as if each
	// took 11, so the last is made a couple of days before now.
	gap := 29 * 24 * time.Hour / (logEvents / 11)
	var batch []*stamp.Event
	total := 0
	flush := func() {
		if err := s.AppendEvents(ctx, batch...); err != nil {
			tb.Fatalf("fill the event log: %v", err)
		}
		total += len(batch)
		batch = batch[:0]
	}
	for ; total+len(batch) < logEvents; creates++ {
		i := creates
		tenant := fmt.Sprintf("t%06d", i)
		at := start.Add(time.Duration(i) * gap)
		batch = appendRun(batch, tenant, 1, at, stamp.EventTenantCreated, createSteps, i%50 == 49, stamp.EventTenantReady)
		if i%4 == 0 {
			batch = appendRun(batch, tenant, 2, at.Add(gap/2), stamp.EventTenantUpgradeRequested, upgradeSteps, false, stamp.EventTenantUpgraded)
		}
		if len(batch) >= 5000 {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
	return creates
}

// appendRun appends one run of tenant: its request at at, its steps one
// after another (each queued 1 ms after the last finished and taking a
// few milliseconds), and its end; a failing run ends in tenant.failed at
// its fourth step.
func appendRun(events []*stamp.Event, tenant string, gen int64, at time.Time, begin string, steps []string, fail bool, end string) []*stamp.Event {
	events = append(events, &stamp.Event{Time: at, Type: begin, Tenant: tenant, Generation: gen})
	t := at
	for i, step := range steps {
		queued := t.Add(time.Millisecond)
		started := queued.Add(time.Duration(i%3) * time.Millisecond)
		finished := started.Add(time.Duration(2+i) * time.Millisecond)
		t = finished
		if fail && i == 3 {
			return append(events,
				&stamp.Event{Time: t, Type: stamp.EventStep, Tenant: tenant, Generation: gen, Step: step, Status: stamp.StatusFailed, Message: "exit status 1", QueuedAt: queued, StartedAt: started, FinishedAt: finished},
				&stamp.Event{Time: t, Type: stamp.EventTenantFailed, Tenant: tenant, Generation: gen, Step: step, Message: "migrate: exit status 1"})
		}
		events = append(events, &stamp.Event{Time: t, Type: stamp.EventStep, Tenant: tenant, Generation: gen, Step: step, Status: stamp.StatusOK, QueuedAt: queued, StartedAt: started, FinishedAt: finished})
	}
	return append(events, &stamp.Event{Time: t.Add(time.Millisecond), Type: end, Tenant: tenant, Generation: gen})
}
