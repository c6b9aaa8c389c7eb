package flow

import (
	"slices"
	"time"

	"github.com/stamphq/stamp"
)

// StepRelease is the delivery stream's last step: the release of the
// version to the fleet, from its start to the last tenant upgraded (see
// fleetWide). Its wait is the time from the pipeline's last stage to
// the release's start.
const StepRelease = "release"

// change is one blueprint version on its way from commit to fleet: its
// pipeline stages (times corrected for the CI system's clock) and its
// releases, oldest first.
type change struct {
	stages   []*stamp.PipelineEvent
	releases []*stamp.Release
}

// committed is when the change's first stage started: the time its
// lead is measured from.
func (c *change) committed() time.Time { return c.stages[0].StartedAt }

// delivered returns the release that brought the change to every
// tenant it targeted, nil if none did.
func (c *change) delivered() *stamp.Release {
	for _, r := range c.releases {
		if r.Status.State == stamp.ReleaseSucceeded {
			return r
		}
	}
	return nil
}

// changesOf groups pipeline events and releases by blueprint version,
// keeping the versions with at least one pipeline event.
func changesOf(pipeline []*stamp.PipelineEvent, releases []*stamp.Release) map[string]*change {
	changes := map[string]*change{}
	for _, e := range pipeline {
		key := e.Blueprint + "@" + e.Version
		c := changes[key]
		if c == nil {
			c = &change{}
			changes[key] = c
		}
		c.stages = append(c.stages, corrected(e))
	}
	for _, c := range changes {
		slices.SortStableFunc(c.stages, func(a, b *stamp.PipelineEvent) int { return a.StartedAt.Compare(b.StartedAt) })
	}
	for _, r := range releases {
		if c := changes[r.Spec.Blueprint+"@"+r.Spec.Version]; c != nil {
			c.releases = append(c.releases, r)
		}
	}
	return changes
}

// corrected returns e with its times moved back by as much as it
// finished after the server recorded it: the CI system's clock ran
// ahead of the server's. A clock behind cannot be told from a late
// report and is left as it is.
func corrected(e *stamp.PipelineEvent) *stamp.PipelineEvent {
	ahead := e.FinishedAt.Sub(e.RecordedAt)
	if ahead <= 0 {
		return e
	}
	c := *e
	c.StartedAt, c.FinishedAt = e.StartedAt.Add(-ahead), e.FinishedAt.Add(-ahead)
	return &c
}

// Delivery computes the delivery stream of the changes committed (their
// first stage started) in [f.Since, f.Until): each pipeline stage, then
// the release. A change completes when a release of its version
// succeeds; it has failed when a stage failed or its releases ended
// without one succeeding, and is in progress otherwise. f.Tenants is
// not used: a change is the fleet's.
func Delivery(pipeline []*stamp.PipelineEvent, releases []*stamp.Release, f Filter) Stream {
	t := newTallier()
	position := map[string][]int{} // each stage's places in its changes
	for _, c := range changesOf(pipeline, releases) {
		if start := c.committed(); start.Before(f.Since) || (!f.Until.IsZero() && !start.Before(f.Until)) {
			continue
		}
		for i, e := range c.stages {
			position[e.Stage] = append(position[e.Stage], i)
		}
		t.add(c.outcome())
	}
	// Stages are shown in the order changes take them: by their median
	// place, the release last.
	rank := func(stage string) int {
		if stage == StepRelease {
			return 1 << 30
		}
		p := position[stage]
		slices.Sort(p)
		return p[len(p)/2]
	}
	return t.stream(rank)
}

// outcome sums c up as a run: each stage waits from the end of the ones
// before it (the first does not wait) and works from its start to its
// end; the release waits from the last stage's end to its start. The
// lead runs from the commit to the last tenant upgraded.
func (c *change) outcome() outcome {
	r := c.delivered()
	switch {
	case r == nil && c.failedStage():
		return outcome{state: stamp.FlowFailed}
	case r == nil && len(c.releases) > 0 && c.releases[len(c.releases)-1].Finished():
		return outcome{state: stamp.FlowFailed}
	case r == nil:
		return outcome{state: stamp.FlowInProgress}
	}
	end := fleetWide(r)
	o := outcome{state: stamp.FlowCompleted, lead: max(0, end.Sub(c.committed()))}
	ready := c.committed()
	for _, e := range c.stages {
		o.samples = append(o.samples, sample{step: e.Stage, work: e.FinishedAt.Sub(e.StartedAt), wait: max(0, e.StartedAt.Sub(ready))})
		ready = later(ready, e.FinishedAt)
	}
	begun := r.Status.StartedAt
	if begun.IsZero() {
		begun = r.CreatedAt
	}
	o.samples = append(o.samples, sample{step: StepRelease, work: max(0, end.Sub(begun)), wait: max(0, begun.Sub(ready))})
	return o
}

// failedStage reports whether the change's last report of some stage
// says it failed (a stage run again and passed is no failure).
func (c *change) failedStage() bool {
	last := map[string]string{}
	for _, e := range c.stages {
		last[e.Stage] = e.Status
	}
	for _, status := range last {
		if status == stamp.StatusFailed {
			return true
		}
	}
	return false
}

// fleetWide is when release r had brought its version to the fleet:
// when the last of its tenants was seen upgraded (the soak after it is
// no customer's wait), or when it ended if it upgraded none.
func fleetWide(r *stamp.Release) time.Time {
	var last time.Time
	for _, t := range r.Status.Tenants {
		if t.State == stamp.ReleaseTenantUpgraded {
			last = later(last, t.FinishedAt)
		}
	}
	if last.IsZero() {
		return r.Status.FinishedAt
	}
	return last
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
