// Package flow turns the event log into the value stream of provisioning
// and upgrades: for the tenant creates and the moves between versions of
// a window, each step's work time (started to finished) and wait time
// (queued to started), the lead time end to end, and the flow efficiency
// (work over lead). It reads events only; it keeps no state.
package flow

import (
	"cmp"
	"maps"
	"slices"
	"strings"
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

// summarize returns the Durations of ds, which it sorts.
func summarize(ds []time.Duration) Durations {
	if len(ds) == 0 {
		return Durations{}
	}
	slices.Sort(ds)
	var total time.Duration
	for _, d := range ds {
		total += d
	}
	rank := func(p int) time.Duration { return ds[(len(ds)*p+99)/100-1] }
	return Durations{Count: len(ds), Total: total, P50: rank(50), P90: rank(90), Max: ds[len(ds)-1]}
}

// run is one create or upgrade of one tenant, as the log tells it.
type run struct {
	start time.Time
	end   time.Time // zero while it goes on
	ok    bool      // ended well
	steps []*stamp.Event
}

// kinds of run: the event that begins one, those that end one well and
// those that end one badly.
var kinds = map[string]struct {
	begin, ok, fail []string
}{
	"create": {[]string{stamp.EventTenantCreated}, []string{stamp.EventTenantReady}, []string{stamp.EventTenantFailed, stamp.EventTenantDeleting}},
	// A move is asked for (a version, or a plan or parameters changed)
	// and ends once the old version is retired.
	"upgrade": {[]string{stamp.EventTenantUpgradeRequested, stamp.EventTenantChanged}, []string{stamp.EventTenantUpgraded},
		[]string{stamp.EventTenantRolledBack, stamp.EventTenantFailed, stamp.EventTenantDeleting}},
}

// Compute reads events, in the log's order, into the report of the runs
// f selects. A run's steps are the tenant.step events of its tenant and
// generation between its beginning and its end, successful or not; a
// step recorded with times out of order (a clock that stepped back) is
// left out rather than counted negative.
func Compute(events []*stamp.Event, f Filter) *Report {
	return &Report{Since: f.Since, Until: f.Until,
		Create:  summarizeRuns(runsOf(events, f, "create"), rankOf),
		Upgrade: summarizeRuns(runsOf(events, f, "upgrade"), rankOf)}
}

// runsOf reads the runs of one kind out of events.
func runsOf(events []*stamp.Event, f Filter, kind string) []outcome {
	k := kinds[kind]
	open := map[string]*run{} // by tenant: its run under way
	var runs []*run
	for _, e := range events {
		if e.Tenant == "" || (f.Tenants != nil && !f.Tenants[e.Tenant]) {
			continue
		}
		r := open[e.Tenant]
		switch {
		case slices.Contains(k.begin, e.Type):
			if e.Time.Before(f.Since) || (!f.Until.IsZero() && !e.Time.Before(f.Until)) {
				delete(open, e.Tenant)
				continue
			}
			r = &run{start: e.Time}
			open[e.Tenant] = r
			runs = append(runs, r)
		case r == nil:
		case e.Type == stamp.EventStep && e.Status == stamp.StatusOK:
			r.steps = append(r.steps, e)
		case slices.Contains(k.ok, e.Type), slices.Contains(k.fail, e.Type):
			r.end, r.ok = e.Time, slices.Contains(k.ok, e.Type)
			delete(open, e.Tenant)
		}
	}
	out := make([]outcome, 0, len(runs))
	for _, r := range runs {
		out = append(out, r.outcome())
	}
	return out
}

// outcome sums r up.
func (r *run) outcome() outcome {
	switch {
	case r.end.IsZero():
		return outcome{state: inProgress}
	case !r.ok:
		return outcome{state: failed}
	}
	o := outcome{state: completed, lead: max(0, r.end.Sub(r.start))}
	if len(r.steps) > 0 {
		o.samples = append(o.samples, sample{step: StepQueued, wait: max(0, r.steps[0].QueuedAt.Sub(r.start)), waitOnly: true})
	}
	for _, e := range r.steps {
		if e.StartedAt.Before(e.QueuedAt) || e.FinishedAt.Before(e.StartedAt) {
			continue // a clock that stepped back: no negative time
		}
		o.samples = append(o.samples, sample{step: e.Step, work: e.FinishedAt.Sub(e.StartedAt), wait: e.StartedAt.Sub(e.QueuedAt)})
	}
	return o
}

// States of a run.
const (
	completed = iota
	inProgress
	failed
)

// outcome is what the figures take of a run: how it ended, and if it
// completed, its lead time and its steps' times.
type outcome struct {
	state   int
	lead    time.Duration
	samples []sample
}

// sample is one step of a run: its work and its wait, or only its wait
// (StepQueued).
type sample struct {
	step       string
	work, wait time.Duration
	waitOnly   bool
}

// summarizeRuns computes the Stream of runs, its steps in the order rank
// gives (then by name).
func summarizeRuns(runs []outcome, rank func(string) int) Stream {
	var s Stream
	work, wait := map[string][]time.Duration{}, map[string][]time.Duration{}
	var leads []time.Duration
	var totalWork time.Duration
	for _, r := range runs {
		switch r.state {
		case inProgress:
			s.InProgress++
			continue
		case failed:
			s.Failed++
			continue
		}
		s.Completed++
		leads = append(leads, r.lead)
		for _, x := range r.samples {
			wait[x.step] = append(wait[x.step], x.wait)
			if !x.waitOnly {
				work[x.step] = append(work[x.step], x.work)
				totalWork += x.work
			}
		}
	}
	s.Lead = summarize(leads)
	if s.Lead.Total > 0 {
		s.Efficiency = float64(totalWork) / float64(s.Lead.Total)
	}
	// Every step taken has a wait, StepQueued included.
	names := slices.SortedFunc(maps.Keys(wait), func(a, b string) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), strings.Compare(a, b))
	})
	var most time.Duration
	for _, name := range names {
		st := Step{Name: name, Work: summarize(work[name]), Wait: summarize(wait[name])}
		s.Steps = append(s.Steps, st)
		if t := st.Work.Total + st.Wait.Total; t > most {
			most, s.Bottleneck = t, name
		}
	}
	return s
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
