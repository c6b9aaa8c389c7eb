package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
	"github.com/stamphq/stamp/rollout"
)

// report is everything one run prints.
type report struct {
	cfg   config
	sizes []*sizeResult
}

// perSlot is a release's wall time per tenant-slot: wall / (tenants /
// parallel). A release whose time grows linearly with tenants / parallel
// keeps it constant across sizes.
func perSlot(wall time.Duration, tenants, parallel int) time.Duration {
	if tenants == 0 {
		return 0
	}
	return time.Duration(float64(wall) * float64(parallel) / float64(tenants))
}

// inFlight is the mean number of tenants the release had upgrading: the
// sum of their slots over the wall time.
func inFlight(ups []upgrade, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	var sum time.Duration
	for _, u := range ups {
		sum += u.slot()
	}
	return float64(sum) / float64(wall)
}

// markdown renders the report.
func (r *report) markdown() string {
	var b strings.Builder
	c := r.cfg
	fmt.Fprintf(&b, "Release of ledger %s to %s, waves 1, 10%%, 100%%, soak 0s, max parallel %d; `stamp server` with `--workers %d --drain %s`, SQLite store, local driver. %d lone tenants per size, upgraded one after another before the release, with the fleet alive.\n\n",
		from, to, c.maxParallel, c.workers, c.drain, c.singles)
	b.WriteString("Wall: the release's `createdAt` to its `finishedAt` (server clock). Per tenant-slot: wall / (tenants / max parallel), constant if the release's time grows linearly with tenants / parallelism. Slot: how long a tenant held one of the parallel slots, from the controller round that started it to the round that saw it upgraded. Mean in flight: the slots' sum over the wall time.\n\n")
	b.WriteString("| tenants | wall | tenants / parallel | per tenant-slot | slot p50 | slot p99 | mean in flight | server CPU per tenant |\n")
	b.WriteString("|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, s := range r.sizes {
		fmt.Fprintf(&b, "| %d | %.1f s | %.1f | %s | %s | %s | %.2f of %d | %s |\n",
			s.tenants, s.wall.Seconds(), float64(s.tenants)/float64(c.maxParallel), benchkit.MS(perSlot(s.wall, s.tenants, c.maxParallel)),
			benchkit.MS(benchkit.Percentile(s.fleet, upgrade.slot, 50)), benchkit.MS(benchkit.Percentile(s.fleet, upgrade.slot, 99)),
			inFlight(s.fleet, s.wall), c.maxParallel, benchkit.MS(s.serverCPU/time.Duration(s.tenants)))
	}
	b.WriteString("\nPer tenant, in the release (fleet) and alone (lone), by three definitions: the reconciler's `tenant.upgrading` to `tenant.upgraded` events (the old version retired, after the drain); from the request (the bench's API call for a lone tenant, the controller round that started it for the fleet) to `tenant.upgraded`; and from the request to the route serving the new version (the route step's end), what a customer sees.\n\n")
	b.WriteString("| tenants | figure | fleet p50 | fleet p99 | lone p50 | lone p99 | ratio p50 | ratio p99 |\n|--:|---|--:|--:|--:|--:|--:|--:|\n")
	for _, s := range r.sizes {
		for _, fig := range []struct {
			name string
			of   func(upgrade) time.Duration
		}{{"upgrading to upgraded", upgrade.reconciled}, {"request to upgraded", upgrade.took}, {"request to serving", upgrade.serving}} {
			f50, f99 := benchkit.Percentile(s.fleet, fig.of, 50), benchkit.Percentile(s.fleet, fig.of, 99)
			l50, l99 := benchkit.Percentile(s.lone, fig.of, 50), benchkit.Percentile(s.lone, fig.of, 99)
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %s |\n", s.tenants, fig.name, benchkit.MS(f50), benchkit.MS(f99), benchkit.MS(l50), benchkit.MS(l99), benchkit.Ratio(f50, l50), benchkit.Ratio(f99, l99))
		}
	}
	b.WriteString("\nBy wave (first tenant started to last seen upgraded; the gap before is from the release's creation or the wave before's end: the controller's pickup or the gate):\n\n")
	b.WriteString("| tenants | wave | its tenants | time | per tenant-slot | gap before |\n|--:|---|--:|--:|--:|--:|\n")
	for _, s := range r.sizes {
		prevEnd := s.release.CreatedAt
		for i, w := range s.waves {
			if w.tenants == 0 {
				fmt.Fprintf(&b, "| %d | %d (%s) | 0 | - | - | - |\n", s.tenants, i+1, rollout.FormatWave(s.release.Spec.Waves[i]))
				continue
			}
			took := w.end.Sub(w.start)
			fmt.Fprintf(&b, "| %d | %d (%s) | %d | %.1f s | %s | %s |\n", s.tenants, i+1, rollout.FormatWave(s.release.Spec.Waves[i]),
				w.tenants, took.Seconds(), benchkit.MS(perSlot(took, w.tenants, min(c.maxParallel, max(w.tenants, 1)))), benchkit.MS(w.start.Sub(prevEnd)))
			prevEnd = w.end
		}
	}
	r.writeBreakdown(&b)
	b.WriteString("\nSetup and machine, per size:\n\n")
	b.WriteString("| tenants | tenant ports | setup (create all, wait ready) | load before lone upgrades | load after release | server RSS | tenant processes | their RSS |\n|--:|---|--:|---|---|--:|--:|--:|\n")
	for _, s := range r.sizes {
		m := s.memBefore
		fmt.Fprintf(&b, "| %d | %s | %.1f s | %s | %s | %s | %d | %s (%s each) |\n", s.tenants, s.ports, s.setup.Seconds(),
			s.loadBefore, s.loadAfter, benchkit.MiB(m.ServerKiB), m.Procs, benchkit.MiB(m.ProcsKiB), benchkit.MiB(m.ProcsKiB/int64(max(m.Procs, 1))))
	}
	b.WriteString("\nChecks:\n\n")
	for _, s := range r.sizes {
		fmt.Fprintf(&b, "- %d tenants: release %s; %s\n", s.tenants, s.release.Status.State, strings.Join(s.checks(), "; "))
	}
	return b.String()
}

// writeBreakdown writes where an upgrade's time goes, mean per tenant.
func (r *report) writeBreakdown(b *strings.Builder) {
	var groups [][]upgrade
	for _, s := range r.sizes {
		groups = append(groups, s.lone, s.fleet)
	}
	b.WriteString("\nWhere an upgrade's time goes, mean per tenant from the event log. Lone: the bench's API call to `tenant.upgraded`; fleet: the tenant's slot in the release, from the controller round that started it to the round that saw it upgraded. Steps are work (started to finished); the other rows are waits.\n\n")
	b.WriteString("| segment |")
	for _, s := range r.sizes {
		fmt.Fprintf(b, " lone (%d alive) | fleet of %d |", s.tenants+s.singles, s.tenants)
	}
	b.WriteString("\n|---|" + strings.Repeat("--:|--:|", len(r.sizes)) + "\n")
	segs := segments(middleSteps(groups...))
	for _, seg := range segs {
		b.WriteString("| " + seg.name + " |")
		for _, s := range r.sizes {
			lone := "|"
			if !seg.release {
				lone = benchkit.MS(benchkit.Mean(s.lone, seg.of)) + " |"
			}
			fmt.Fprintf(b, " %s %s |", lone, benchkit.MS(benchkit.Mean(s.fleet, seg.of)))
		}
		b.WriteString("\n")
	}
	for _, kind := range []struct {
		name string
		wait bool
	}{{"of which work (steps)", false}, {"of which waiting", true}} {
		b.WriteString("| " + kind.name + " |")
		for _, s := range r.sizes {
			var lone, fleet time.Duration
			for _, seg := range segs {
				if seg.wait != kind.wait {
					continue
				}
				if !seg.release {
					lone += benchkit.Mean(s.lone, seg.of)
				}
				fleet += benchkit.Mean(s.fleet, seg.of)
			}
			fmt.Fprintf(b, " %s | %s |", benchkit.MS(lone), benchkit.MS(fleet))
		}
		b.WriteString("\n")
	}
	b.WriteString("| **total** |")
	for _, s := range r.sizes {
		fmt.Fprintf(b, " %s | %s |", benchkit.MS(benchkit.Mean(s.lone, upgrade.took)), benchkit.MS(benchkit.Mean(s.fleet, upgrade.slot)))
	}
	b.WriteString("\n")
}

// checks says what the size's checks found, clean or not.
func (s *sizeResult) checks() []string {
	o := s.odd
	list := func(what string, items []string) string {
		if len(items) == 0 {
			return "no " + what
		}
		return fmt.Sprintf("%d %s: %s", len(items), what, joinShort(items))
	}
	return []string{
		list("tenant upgraded twice", o.upgradedTwice),
		list("rollbacks", o.rolledBack),
		list("failed steps", o.failedSteps),
		list("transient retries", o.retries),
		list("tenants whose tenant.upgrade-requested event comes after their tenant.upgrading in the log", o.requestedLate),
		list("tenants not on exactly one 2.0.0 process a drain and a second after the release finished", s.leaksAfter),
	}
}

// problems lists what the checks found that should not happen: a bug in
// Stamp, or a machine too loaded to run the bench.
func (r *report) problems() []string {
	var out []string
	for _, s := range r.sizes {
		o := s.odd
		for _, items := range [][]string{o.upgradedTwice, o.rolledBack, o.failedSteps, s.leaksAfter} {
			for _, item := range items {
				out = append(out, fmt.Sprintf("fleet of %d: %s", s.tenants, item))
			}
		}
	}
	return out
}

// joinShort lists up to three items and how many more.
func joinShort(items []string) string {
	if len(items) <= 3 {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:3], ", "), len(items)-3)
}
