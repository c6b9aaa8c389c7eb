package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// Names of the two servers compared, and of the plans measured: the
// example's starter plan (memory 128Mi, cpu 0.25) and bench, the same
// without the cpu quota.
const (
	isolated = "isolated"
	plain    = "plain"
	starter  = "starter"
	benchPl  = benchkit.BenchPlanName
)

// plans are the plans measured, in the report's order.
var plans = []string{starter, benchPl}

// cell is what a figure is of: one server, one plan.
type cell struct {
	setup string // isolated or plain
	plan  string // starter or bench
}

// order returns the cells of round i: each plan on both servers, the
// servers taking turns at going first so that neither is always the one
// after a quiet moment (or a busy one).
func order(i int) []cell {
	first, second := isolated, plain
	if i%2 == 1 {
		first, second = plain, isolated
	}
	var cells []cell
	for _, p := range plans {
		cells = append(cells, cell{first, p}, cell{second, p})
	}
	return cells
}

// sample is one tenant's create or upgrade.
type sample struct {
	tenant string
	// took is, for a create, from just before POST /v1/tenants to the
	// first 200 through the router; for an upgrade, from just before the
	// API call to the router's first answer from release 2.
	took time.Duration
	// done is, for an upgrade, from the API call to the upgrade's end
	// (its finishedAt: the old version retired after the drain); 0 for a
	// create.
	done time.Duration
	// steps is the work (started to finished) of each step the server
	// recorded for this create or upgrade, from its event log.
	steps map[string]time.Duration
}

// Loads of the router measurement.
const (
	sequential = "sequential"
	concurrent = "concurrent"
)

// routerKey is what a router figure is of.
type routerKey struct {
	cell
	load string // sequential or concurrent
}

// routerRun is what the requests of one routerKey measured.
type routerRun struct {
	latencies []time.Duration // of every request
	wall      time.Duration   // summed over the blocks, for the rate
}

// phaseLoad is the load average around one phase of the run.
type phaseLoad struct {
	phase         string
	before, after string
}

// machine is what the report says of the machine and the code measured.
type machine struct {
	nproc       int
	memTotalKiB int64
	kernel      string
	goVersion   string
	commit      string
	// check is what `stamp server --check` said of users, limits and
	// network, with the isolated server's flags.
	check []string
}

// report is everything one run prints.
type report struct {
	machine
	cfg      config
	creates  map[cell][]sample
	upgrades map[cell][]sample
	router   map[routerKey]*routerRun
	loads    []phaseLoad
}

// target is the bound on what isolation may cost: 10% over the
// plain server.
const target = 1.10

// stepOrder is the order steps are shown in: a new tenant's, with an
// upgrade's own steps where they fall.
var stepOrder = []string{
	"allocate", "check", "snapshot", "secrets", "database", "migrate", "seed",
	"start", "health", "route", "retire",
}

// markdown renders the report.
func (r *report) markdown() string {
	var b strings.Builder
	r.writeMachine(&b)

	b.WriteString("\n**Create**: POST /v1/tenants to the first 200 through the router, one at a time.\n\n")
	b.WriteString("| plan | n | isolated p50 | isolated p90 | isolated p99 | plain p50 | plain p90 | plain p99 | ratio p50 (90% interval) | ratio p90 | ratio p99 |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, p := range plans {
		iso, pl := tookOf(r.creates[cell{isolated, p}]), tookOf(r.creates[cell{plain, p}])
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", p, len(iso),
			ms(iso, 50), ms(iso, 90), ms(iso, 99), ms(pl, 50), ms(pl, 90), ms(pl, 99),
			ratioWithInterval(iso, pl, 50), ratio(iso, pl, 90), ratio(iso, pl, 99))
	}

	b.WriteString("\n**Upgrade** 1.0.0 -> 2.0.0 of one tenant, one at a time: to the router serving release 2, and to the upgrade's end (the old version retired after the server's 1s drain).\n\n")
	b.WriteString("| plan | to | n | isolated p50 | isolated p90 | isolated p99 | plain p50 | plain p90 | plain p99 | ratio p50 (90% interval) | ratio p90 |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, p := range plans {
		for _, to := range []struct {
			name string
			of   func([]sample) []time.Duration
		}{{"serving", tookOf}, {"end", doneOf}} {
			iso, pl := to.of(r.upgrades[cell{isolated, p}]), to.of(r.upgrades[cell{plain, p}])
			fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", p, to.name, len(iso),
				ms(iso, 50), ms(iso, 90), ms(iso, 99), ms(pl, 50), ms(pl, 90), ms(pl, 99),
				ratioWithInterval(iso, pl, 50), ratio(iso, pl, 90))
		}
	}

	fmt.Fprintf(&b, "\n**Router**: GET /healthz through the router to one tenant's instance, one at a time (sequential) and %d at once (concurrent), in %d blocks alternating between the servers.\n\n", r.cfg.concurrency, r.cfg.blocks)
	b.WriteString("| plan | load | n | isolated p50 | isolated p99 | plain p50 | plain p99 | ratio p50 | ratio p99 (90% interval) | isolated req/s | plain req/s |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, p := range plans {
		for _, l := range []string{sequential, concurrent} {
			iso, pl := r.router[routerKey{cell{isolated, p}, l}], r.router[routerKey{cell{plain, p}, l}]
			fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", p, l, len(iso.latencies),
				ms(iso.latencies, 50), ms(iso.latencies, 99), ms(pl.latencies, 50), ms(pl.latencies, 99),
				ratio(iso.latencies, pl.latencies, 50), ratioWithInterval(iso.latencies, pl.latencies, 99),
				iso.rate(), pl.rate())
		}
	}

	b.WriteString("\n**Targets** (isolated / plain at most 1.10x):\n\n")
	for _, p := range plans {
		fmt.Fprintf(&b, "- create p50, plan %s: %s\n", p, verdict(tookOf(r.creates[cell{isolated, p}]), tookOf(r.creates[cell{plain, p}]), 50))
	}
	for _, p := range plans {
		for _, l := range []string{sequential, concurrent} {
			fmt.Fprintf(&b, "- router p99, plan %s, %s: %s\n", p, l,
				verdict(r.router[routerKey{cell{isolated, p}, l}].latencies, r.router[routerKey{cell{plain, p}, l}].latencies, 99))
		}
	}

	b.WriteString("\n**Where the time goes**: mean work (started to finished) per step, from each server's event log. A create's seed runs beside start and health, off the path.\n")
	for _, ph := range []struct {
		name    string
		samples map[cell][]sample
	}{{"create", r.creates}, {"upgrade", r.upgrades}} {
		fmt.Fprintf(&b, "\n| %s step | isolated starter | plain starter | isolated bench | plain bench |\n", ph.name)
		b.WriteString("|---|--:|--:|--:|--:|\n")
		cells := []cell{{isolated, starter}, {plain, starter}, {isolated, benchPl}, {plain, benchPl}}
		for _, step := range stepOrder {
			if !slices.ContainsFunc(cells, func(c cell) bool { return hasStep(ph.samples[c], step) }) {
				continue
			}
			fmt.Fprintf(&b, "| %s |", step)
			for _, c := range cells {
				fmt.Fprintf(&b, " %s |", benchkit.MS(meanStep(ph.samples[c], step)))
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// writeMachine writes the machine, the commit and the load averages.
func (r *report) writeMachine(b *strings.Builder) {
	fmt.Fprintf(b, "Machine: %d CPUs, %s memory, kernel %s, %s; commit %s.\n\n", r.nproc,
		fmt.Sprintf("%.1f GiB", float64(r.memTotalKiB)/(1<<20)), r.kernel, r.goVersion, r.commit)
	b.WriteString("`stamp server --check` with the isolated server's flags:\n\n```\n")
	for _, l := range r.check {
		b.WriteString(l + "\n")
	}
	b.WriteString("```\n\nLoad average (1, 5, 15 min):")
	for i, l := range r.loads {
		if i > 0 {
			b.WriteString(";")
		}
		fmt.Fprintf(b, " %s %s before, %s after", l.phase, l.before, l.after)
	}
	b.WriteString(".\n")
}

// rate formats the requests per second of a run.
func (run *routerRun) rate() string {
	if run.wall <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", float64(len(run.latencies))/run.wall.Seconds())
}

// tookOf returns the took of every sample.
func tookOf(s []sample) []time.Duration {
	ds := make([]time.Duration, len(s))
	for i, smp := range s {
		ds[i] = smp.took
	}
	return ds
}

// doneOf returns the done of every sample.
func doneOf(s []sample) []time.Duration {
	ds := make([]time.Duration, len(s))
	for i, smp := range s {
		ds[i] = smp.done
	}
	return ds
}

// hasStep reports whether any sample recorded step.
func hasStep(s []sample, step string) bool {
	return slices.ContainsFunc(s, func(smp sample) bool { _, ok := smp.steps[step]; return ok })
}

// meanStep is the mean work of step over the samples, a sample without
// it counting as 0.
func meanStep(s []sample, step string) time.Duration {
	return benchkit.Mean(s, func(smp sample) time.Duration { return smp.steps[step] })
}

// same is the identity, for percentiles of durations.
func same(d time.Duration) time.Duration { return d }

// pct is the nearest-rank p-th percentile of ds.
func pct(ds []time.Duration, p float64) time.Duration { return benchkit.Percentile(ds, same, p) }

// ms formats the p-th percentile of ds.
func ms(ds []time.Duration, p float64) string { return benchkit.MS(pct(ds, p)) }

// ratio formats the ratio of the p-th percentiles of a and b.
func ratio(a, b []time.Duration, p float64) string { return benchkit.Ratio(pct(a, p), pct(b, p)) }

// ratioWithInterval formats the ratio of the p-th percentiles of a and b
// with its bootstrap 90% interval, such as "1.05x (0.98-1.12)".
func ratioWithInterval(a, b []time.Duration, p float64) string {
	lo, hi := bootstrap(a, b, p)
	return fmt.Sprintf("%s (%.2f-%.2f)", ratio(a, b, p), lo, hi)
}

// verdict says whether the ratio of the p-th percentiles of a (isolated)
// and b (plain) is within target, and by how much it misses.
func verdict(a, b []time.Duration, p float64) string {
	pa, pb := pct(a, p), pct(b, p)
	if pb == 0 {
		return "no figures"
	}
	r := float64(pa) / float64(pb)
	if r <= target {
		return fmt.Sprintf("%.2fx, met", r)
	}
	return fmt.Sprintf("%.2fx, missed: isolation adds %.0f%% (%s), the target allows 10%%", r, 100*(r-1), benchkit.MS(pa-pb))
}

// resamples is how many bootstrap resamples an interval is drawn from.
const resamples = 2000

// bootstrap returns the 5th and 95th percentiles, over resamples of a and
// of b drawn with replacement, of the ratio of their p-th percentiles: an
// interval a run's ratio would likely fall in if the machine behaved as
// it did in this one. Its randomness is seeded, so a report renders the
// same every time.
func bootstrap(a, b []time.Duration, p float64) (lo, hi float64) {
	if len(a) == 0 || len(b) == 0 {
		return 0, 0
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ra, rb := make([]time.Duration, len(a)), make([]time.Duration, len(b))
	ratios := make([]float64, resamples)
	for i := range ratios {
		for j := range ra {
			ra[j] = a[rng.IntN(len(a))]
		}
		for j := range rb {
			rb[j] = b[rng.IntN(len(b))]
		}
		pb := pct(rb, p)
		if pb == 0 {
			return 0, 0
		}
		ratios[i] = float64(pct(ra, p)) / float64(pb)
	}
	slices.Sort(ratios)
	return ratios[resamples*5/100], ratios[resamples*95/100-1]
}
