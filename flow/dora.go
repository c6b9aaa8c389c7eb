package flow

import (
	"slices"
	"time"

	"github.com/stamphq/stamp"
)

// DORA holds the four DORA figures of a window and of the window of the
// same length before it, for the trend.
type DORA struct {
	// Days is the window's length in days.
	Days float64 `json:"days"`
	// DeployFrequency is the releases per day that reached every tenant
	// they targeted (succeeded), by the day they ended.
	DeployFrequency Figure[float64] `json:"deployFrequency"`
	// LeadTime is the median time from a change's first pipeline stage
	// (its commit) to the last tenant upgraded by the release that
	// delivered it, over the releases that succeeded in the window and
	// have pipeline events.
	LeadTime Figure[time.Duration] `json:"leadTime"`
	// ChangeFailureRate is the share of the releases that ended in the
	// window (succeeded or failed) that failed: a gate failed and the
	// release rolled its tenants back. Aborted releases are neither.
	ChangeFailureRate Figure[float64] `json:"changeFailureRate"`
	// TimeToRestore is the median time from an incident's opening to
	// its resolution, over the incidents opened in the window that were
	// resolved by recovering or by hand. OpenIncidents are those of the
	// window not resolved yet.
	TimeToRestore Figure[time.Duration] `json:"timeToRestore"`
	OpenIncidents int                   `json:"openIncidents"`
}

// Figure is a figure over the window (Current) and over the window
// before it (Previous), and how many things each was computed from (a
// figure of nothing is 0 with a count of 0).
type Figure[T float64 | time.Duration] struct {
	Current       T   `json:"current"`
	Previous      T   `json:"previous"`
	Count         int `json:"count"`
	PreviousCount int `json:"previousCount"`
}

// ComputeDORA computes the DORA figures of [f.Since, f.Until) and of
// the window of the same length before it. pipeline must reach back to
// the commits of the releases that ended in the previous window. With
// f.Tenants set, only releases that targeted one of them and their
// incidents count.
func ComputeDORA(pipeline []*stamp.PipelineEvent, releases []*stamp.Release, incidents []*stamp.Incident, f Filter) DORA {
	length := f.Until.Sub(f.Since)
	changes := changesOf(pipeline, releases)
	cur := tallyOf(f, changes, releases, incidents)
	pre := tallyOf(Filter{Since: f.Since.Add(-length), Until: f.Since, Tenants: f.Tenants}, changes, releases, incidents)
	d := DORA{Days: length.Hours() / 24, OpenIncidents: cur.open}
	d.DeployFrequency = Figure[float64]{Current: ratio(cur.deploys, d.Days), Previous: ratio(pre.deploys, d.Days), Count: cur.deploys, PreviousCount: pre.deploys}
	d.ChangeFailureRate = Figure[float64]{Current: ratio(cur.failures, float64(cur.ends())), Previous: ratio(pre.failures, float64(pre.ends())),
		Count: cur.ends(), PreviousCount: pre.ends()}
	d.LeadTime = Figure[time.Duration]{Current: median(cur.leads), Previous: median(pre.leads), Count: len(cur.leads), PreviousCount: len(pre.leads)}
	d.TimeToRestore = Figure[time.Duration]{Current: median(cur.restores), Previous: median(pre.restores), Count: len(cur.restores), PreviousCount: len(pre.restores)}
	return d
}

// tally is what one window's DORA figures are computed from.
type tally struct {
	deploys, failures int             // releases that succeeded, failed
	leads             []time.Duration // commit to fleet, of the deploys
	restores          []time.Duration // incidents opened to resolved
	open              int             // incidents still open
}

func (t tally) ends() int { return t.deploys + t.failures }

// tallyOf counts the releases that ended in w's window and the
// incidents opened in it.
func tallyOf(w Filter, changes map[string]*change, releases []*stamp.Release, incidents []*stamp.Incident) tally {
	var t tally
	for _, r := range releases {
		if !r.Finished() || !w.holds(r.Status.FinishedAt) || !targets(r, w.Tenants) {
			continue
		}
		switch r.Status.State {
		case stamp.ReleaseSucceeded:
			t.deploys++
			if c := changes[r.Spec.Blueprint+"@"+r.Spec.Version]; c != nil {
				t.leads = append(t.leads, max(0, fleetWide(r).Sub(c.committed())))
			}
		case stamp.ReleaseFailed:
			t.failures++
		}
	}
	for _, inc := range incidents {
		if !w.holds(inc.OpenedAt) || (w.Tenants != nil && !w.Tenants[inc.Tenant]) {
			continue
		}
		switch {
		case inc.ResolvedAt.IsZero():
			t.open++
		case inc.Resolution == "":
			t.restores = append(t.restores, max(0, inc.ResolvedAt.Sub(inc.OpenedAt)))
		}
	}
	return t
}

// ratio is n/d, 0 when d is.
func ratio(n int, d float64) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / d
}

// holds reports whether t is in the filter's window.
func (f Filter) holds(t time.Time) bool {
	return !t.Before(f.Since) && (f.Until.IsZero() || t.Before(f.Until))
}

// targets reports whether r took on one of tenants (any release does
// when tenants is nil).
func targets(r *stamp.Release, tenants map[string]bool) bool {
	if tenants == nil {
		return true
	}
	return slices.ContainsFunc(r.Status.Tenants, func(t stamp.ReleaseTenant) bool { return tenants[t.Name] })
}

// median is the nearest-rank median of ds, 0 for none; it sorts ds.
func median(ds []time.Duration) time.Duration {
	return summarize(ds).P50
}

// Trends says how each figure moved from the window before to this one,
// in the order deploy frequency, lead time, change failure rate, time
// to restore: "better", "worse" or "same", or "" when there is nothing
// to compare. A deploy frequency compares whenever either window had a
// deploy (none is a rate of 0); the others need a figure in both.
func (d DORA) Trends() (deploys, lead, failures, restore string) {
	f, l, c, r := d.DeployFrequency, d.LeadTime, d.ChangeFailureRate, d.TimeToRestore
	return trend(f.Current, f.Previous, f.Count+f.PreviousCount > 0, true),
		trend(float64(l.Current), float64(l.Previous), l.Count > 0 && l.PreviousCount > 0, false),
		trend(c.Current, c.Previous, c.Count > 0 && c.PreviousCount > 0, false),
		trend(float64(r.Current), float64(r.Previous), r.Count > 0 && r.PreviousCount > 0, false)
}

// trend says whether a figure got better from before to now; higher
// says whether more is better; both whether there is anything to
// compare.
func trend(now, before float64, both, higher bool) string {
	switch {
	case !both:
		return ""
	case now == before:
		return "same"
	case (now > before) == higher:
		return "better"
	default:
		return "worse"
	}
}
