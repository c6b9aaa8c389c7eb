package flow

import (
	"fmt"
	"slices"
	"time"

	"github.com/stamphq/stamp"
)

// Kinds of run.
const (
	kindCreate  = "create"
	kindUpgrade = "upgrade"
)

// kinds of run: the events that begin one, those that end one well and
// those that end one badly.
var kinds = []struct {
	name            string
	begin, ok, fail []string
}{
	{kindCreate, []string{stamp.EventTenantCreated}, []string{stamp.EventTenantReady}, []string{stamp.EventTenantFailed, stamp.EventTenantDeleting}},
	// A move is asked for (a version, or a plan or parameters changed)
	// and ends once the old version is retired.
	{kindUpgrade, []string{stamp.EventTenantUpgradeRequested, stamp.EventTenantChanged}, []string{stamp.EventTenantUpgraded},
		[]string{stamp.EventTenantRolledBack, stamp.EventTenantFailed, stamp.EventTenantDeleting}},
}

// builder reads events, in the log's order, into runs. A run begins with
// its kind's request event and ends with the first event that ends its
// kind, well or badly; its steps are the tenant.step events of its
// tenant that succeeded in between. A step recorded with its times out of
// order (a clock that stepped back) is left out rather than counted
// negative. A request while a run of the same kind is under way begins
// a new run and leaves the first superseded.
type builder struct {
	open    map[openKey]*pending
	changed []*pending // since the last flush, each once
}

// openKey names a run under way: one per kind and tenant.
type openKey struct{ kind, tenant string }

// pending is a run being built, with its steps decoded.
type pending struct {
	run     stamp.FlowRun
	steps   []sample
	changed bool
}

func newBuilder() *builder { return &builder{open: map[openKey]*pending{}} }

// resume takes up r, a run under way read back from the index.
func (b *builder) resume(r *stamp.FlowRun) error {
	p := &pending{run: *r}
	p.run.Steps = nil
	err := eachStep(r.Steps, func(step []byte, work, wait time.Duration, waitOnly bool) {
		p.steps = append(p.steps, sample{step: string(step), work: work, wait: wait, waitOnly: waitOnly})
	})
	if err != nil {
		return fmt.Errorf("resume the %s of tenant %s (event %d): %w", r.Kind, r.Tenant, r.BeginSeq, err)
	}
	b.open[openKey{r.Kind, r.Tenant}] = p
	return nil
}

// apply reads e into the runs.
func (b *builder) apply(e *stamp.Event) {
	if e.Tenant == "" {
		return
	}
	for _, k := range kinds {
		key := openKey{k.name, e.Tenant}
		p := b.open[key]
		switch {
		case slices.Contains(k.begin, e.Type):
			if p != nil {
				p.run.State = stamp.FlowSuperseded
				b.touch(p)
			}
			p = &pending{run: stamp.FlowRun{Kind: k.name, Tenant: e.Tenant, BeginSeq: e.Seq, Start: e.Time, State: stamp.FlowInProgress}}
			b.open[key] = p
			b.touch(p)
		case p == nil:
		case e.Type == stamp.EventStep && e.Status == stamp.StatusOK:
			if e.StartedAt.Before(e.QueuedAt) || e.FinishedAt.Before(e.StartedAt) {
				continue // a clock that stepped back: no negative time
			}
			if len(p.steps) == 0 {
				p.steps = append(p.steps, sample{step: StepQueued, wait: max(0, e.QueuedAt.Sub(p.run.Start)), waitOnly: true})
			}
			p.steps = append(p.steps, sample{step: e.Step, work: e.FinishedAt.Sub(e.StartedAt), wait: e.StartedAt.Sub(e.QueuedAt)})
			b.touch(p)
		case slices.Contains(k.ok, e.Type):
			p.run.State, p.run.Lead = stamp.FlowCompleted, max(0, e.Time.Sub(p.run.Start))
			delete(b.open, key)
			b.touch(p)
		case slices.Contains(k.fail, e.Type):
			p.run.State = stamp.FlowFailed
			delete(b.open, key)
			b.touch(p)
		}
	}
}

// touch marks p as changed since the last flush.
func (b *builder) touch(p *pending) {
	if !p.changed {
		p.changed = true
		b.changed = append(b.changed, p)
	}
}

// flush returns the runs changed since the last flush, their steps
// encoded.
func (b *builder) flush() []*stamp.FlowRun {
	out := make([]*stamp.FlowRun, 0, len(b.changed))
	for _, p := range b.changed {
		r := p.run
		r.Steps = encodeSteps(p.steps)
		out = append(out, &r)
		p.changed = false
	}
	b.changed = b.changed[:0]
	return out
}
