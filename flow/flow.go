// Package flow turns the event log into the value stream of provisioning
// and upgrades: for the tenant creates and the moves between versions of
// a window, each step's work time (started to finished) and wait time
// (queued to started), the lead time end to end, and the flow efficiency
// (work over lead). It reads events only; it keeps no state.
package flow

import (
	"slices"
	"time"

	"github.com/stamphq/stamp"
)

// StepQueued is the wait before a run's first step is queued: from the
// request (tenant.created, tenant.upgrade-requested, tenant.changed) to
// the reconciler taking it up. It has no work time.
const StepQueued = "queued"

// Filter selects the runs a report covers: those that began in [Since,
// Until), of the tenants Tenants names (all when nil).
type Filter struct {
	Since, Until time.Time
	Tenants      map[string]bool
}

// Report is the value stream of the creates and the upgrades a filter
// selects, of the changes from commit to fleet, and the DORA figures.
type Report struct {
	Since   time.Time `json:"since"`
	Until   time.Time `json:"until"`
	Create  Stream    `json:"create"`
	Upgrade Stream    `json:"upgrade"`
	// Delivery is the stream from commit to fleet (see Delivery).
	Delivery Stream `json:"delivery"`
	DORA     DORA   `json:"dora"`
	// Notes say where the report read less than it should have.
	Notes []string `json:"notes,omitempty"`
}

// Stream is the value stream of one kind of run (creates or upgrades).
// Figures are of the runs that ended well (Completed); runs still going,
// and those that ended otherwise (failed, rolled back, or deleted
// before the end: Failed), are counted apart.
type Stream struct {
	Completed  int `json:"completed"`
	InProgress int `json:"inProgress"`
	Failed     int `json:"failed"`
	// Steps are in the order a run takes them, StepQueued first.
	Steps []Step `json:"steps"`
	// Lead is the time from the request to the run's end: tenant.ready,
	// or tenant.upgraded, once the old version is retired.
	Lead Durations `json:"lead"`
	// Efficiency is the completed runs' work time over their lead time.
	// Steps that run side by side (a seed beside the start) both count,
	// so it can pass 1.
	Efficiency float64 `json:"efficiency"`
	// Bottleneck is the step that took the most time, work and wait
	// together, over the completed runs.
	Bottleneck string `json:"bottleneck,omitempty"`
}

// Step is one step's times over the completed runs that took it.
type Step struct {
	Name string    `json:"name"`
	Work Durations `json:"work"`
	Wait Durations `json:"wait"`
}

// Durations sums up a set of durations: how many, their total, and the
// 50th and 90th percentile (nearest rank) and the most.
type Durations struct {
	Count int           `json:"count"`
	Total time.Duration `json:"total"`
	P50   time.Duration `json:"p50"`
	P90   time.Duration `json:"p90"`
	Max   time.Duration `json:"max"`
}

// Compute reads events, in the log's order, into the report of the runs
// f selects, as an Index would (see builder for what a run is). It
// serves tests and small logs; a server reads its Index.
func Compute(events []*stamp.Event, f Filter) *Report {
	b := newBuilder()
	for _, e := range events {
		b.apply(e)
	}
	create, upgrade := newTallier(), newTallier()
	for _, r := range b.flush() {
		if f.holds(r.Start) && (f.Tenants == nil || f.Tenants[r.Tenant]) {
			if err := tallierOf(r.Kind, create, upgrade).addRun(r); err != nil {
				panic(err) // encoded just above
			}
		}
	}
	return &Report{Since: f.Since, Until: f.Until, Create: create.stream(rankOf), Upgrade: upgrade.stream(rankOf)}
}

// tallierOf returns create for a create run, upgrade for an upgrade.
func tallierOf(kind string, create, upgrade *tallier) *tallier {
	if kind == kindCreate {
		return create
	}
	return upgrade
}

// stepOrder is the order steps are shown in: the order a create takes
// them, with an upgrade's own among them; steps not listed go last, by
// name.
var stepOrder = []string{
	StepQueued, stamp.StepCheck, stamp.StepAllocate, stamp.StepSecrets, stamp.StepDatabase, stamp.StepStop,
	stamp.StepSnapshot, stamp.StepRestore, stamp.StepLoad, stamp.StepMigrate, stamp.StepSeed, stamp.StepStart,
	stamp.StepHealth, stamp.StepRoute, stamp.StepRetire,
}

func rankOf(step string) int {
	if i := slices.Index(stepOrder, step); i >= 0 {
		return i
	}
	return len(stepOrder)
}
