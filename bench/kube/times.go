package main

import (
	"fmt"
	"time"

	stamp "github.com/stamphq/stamp"
)

// tenantTimes is one tenant's creation as the bench saw it.
type tenantTimes struct {
	name string
	// asked is just before the bench's create call.
	asked time.Time
	// objects are the tenant's objects at the end, with when the bench's
	// watch first saw each.
	objects []object
	// ready is the time of the tenant.ready event (the server's clock,
	// this machine's).
	ready time.Time
	// steps are the tenant's successful step events by step.
	steps map[string]*stamp.Event
}

// applied is when the watch had seen every object the tenant has at
// the end.
func (t tenantTimes) applied() time.Time {
	var last time.Time
	for _, o := range t.objects {
		if o.seen.After(last) {
			last = o.seen
		}
	}
	return last
}

// workloads is when the watch had seen every Deployment of the tenant:
// the last objects the start step writes, before the health step waits
// for their pods.
func (t tenantTimes) workloads() time.Time {
	var last time.Time
	for _, o := range t.objects {
		if o.resource == "deployments" && o.seen.After(last) {
			last = o.seen
		}
	}
	return last
}

// firstObject is when the watch saw the tenant's first object.
func (t tenantTimes) firstObject() time.Time {
	var first time.Time
	for _, o := range t.objects {
		if first.IsZero() || o.seen.Before(first) {
			first = o.seen
		}
	}
	return first
}

// toApplied is from the create call to every object applied.
func (t tenantTimes) toApplied() time.Duration { return t.applied().Sub(t.asked) }

// toWorkloads is from the create call to every Deployment applied.
func (t tenantTimes) toWorkloads() time.Duration { return t.workloads().Sub(t.asked) }

// toFirst is from the create call to the first object seen.
func (t tenantTimes) toFirst() time.Duration { return t.firstObject().Sub(t.asked) }

// toReady is from the create call to the tenant.ready event.
func (t tenantTimes) toReady() time.Duration { return t.ready.Sub(t.asked) }

// tenantTimesOf puts together the times of tenants from when each was
// asked for, the objects the watch saw and the event log. A tenant with
// no object, an object never seen being added, or no tenant.ready event
// is an error: the figures would be wrong.
func tenantTimesOf(tenants []string, asked map[string]time.Time, objects map[string][]object, events []*stamp.Event) ([]tenantTimes, error) {
	byTenant := map[string]*tenantTimes{}
	out := make([]tenantTimes, 0, len(tenants))
	for _, name := range tenants {
		byTenant[name] = &tenantTimes{name: name, asked: asked[name], objects: objects[name], steps: map[string]*stamp.Event{}}
	}
	for _, e := range events {
		t := byTenant[e.Tenant]
		switch {
		case t == nil:
		case e.Type == stamp.EventTenantReady && t.ready.IsZero():
			t.ready = e.Time
		case e.Type == stamp.EventStep && e.Status == stamp.StatusOK:
			if _, ok := t.steps[e.Step]; !ok {
				t.steps[e.Step] = e
			}
		}
	}
	for _, name := range tenants {
		t := byTenant[name]
		if len(t.objects) == 0 {
			return nil, fmt.Errorf("tenant %s: the watch saw no object of it", name)
		}
		for _, o := range t.objects {
			if o.seen.IsZero() {
				return nil, fmt.Errorf("tenant %s: %s %s is in the cluster but the watch never saw it added", name, o.resource, o.key)
			}
		}
		if t.ready.IsZero() || t.asked.IsZero() {
			return nil, fmt.Errorf("tenant %s: no tenant.ready event, or never asked for", name)
		}
		out = append(out, *t)
	}
	return out, nil
}

// retriesOf counts the tenant.retry events: steps that hit a transient
// error and ran again.
func retriesOf(events []*stamp.Event) int {
	n := 0
	for _, e := range events {
		if e.Type == stamp.EventRetry {
			n++
		}
	}
	return n
}

// lastReady is the latest tenant.ready of ts.
func lastReady(ts []tenantTimes) time.Time {
	var last time.Time
	for _, t := range ts {
		if t.ready.After(last) {
			last = t.ready
		}
	}
	return last
}

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

// stepMeans averages the steps of ts: a step's wait and work over the
// tenants that took it. The entry "" is from the create call to the
// first step's queueing.
func stepMeans(ts []tenantTimes) map[string]stepTimes {
	sums, counts := map[string]stepTimes{}, map[string]int{}
	for _, t := range ts {
		for step, e := range t.steps {
			s := sums[step]
			s.wait += e.StartedAt.Sub(e.QueuedAt)
			s.work += e.FinishedAt.Sub(e.StartedAt)
			sums[step] = s
			counts[step]++
		}
		if e := t.steps[stamp.StepAllocate]; e != nil {
			s := sums[""]
			s.wait += e.QueuedAt.Sub(t.asked)
			sums[""] = s
			counts[""]++
		}
	}
	out := map[string]stepTimes{}
	for step, s := range sums {
		n := time.Duration(counts[step])
		out[step] = stepTimes{wait: s.wait / n, work: s.work / n}
	}
	return out
}
