package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// targetPooled is the target for a pooled create's p50.
const targetPooled = 50 * time.Millisecond

// result is everything one run measured.
type result struct {
	cfg         config
	serverFlags []string // beyond the data dir and addresses
	nproc       int
	cpuModel    string
	goVersion   string
	commit      string
	// loadBefore and loadAfter are /proc/loadavg at the start and the end
	// of the run: on a shared machine they say how quiet it was.
	loadBefore, loadAfter string
	pooled                []create // creates of plan pooled that claimed a stamp
	unclaimed             []create // creates of plan pooled that did not
	plain                 []create
	floor                 []benchkit.FloorSample
}

func took(c create) time.Duration   { return c.took }
func refill(c create) time.Duration { return c.refill }

// figures is the p50, p90 and max of of over items.
func figures[T any](items []T, of func(T) time.Duration) (p50, p90, most time.Duration) {
	return benchkit.Percentile(items, of, 50), benchkit.Percentile(items, of, 90), benchkit.Percentile(items, of, 100)
}

// verdict says "yes" if ok, else "**no**".
func verdict(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// markdown renders the report.
func (r *result) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Warm pool: create with %d stamps made ahead\n\n", r.cfg.pool)
	fmt.Fprintf(&b, "%d rounds, each of three samples, the kind going first changing every round: a create of plan %s (`pool: %d`) once the pool is full, a create of plan %s (no pool), and the app's own start by hand. "+
		"Both plans are the example's starter plan without its cpu quota and idle time. "+
		"A create is timed from just before `POST /v1/tenants` to the first 200 of `GET /healthz` through the router (Host `NAME.localhost`, polled every %s); "+
		"the app by hand from its start to `/healthz` answering 200 and its seed done (`ledger migrate`, then `ledger seed` beside `ledger serve` on a SQLite file of its own). "+
		"Each tenant is deleted, and gone, before the next sample. ledger@2.0.0, SQLite, local driver, `stamp server %s`. ",
		r.cfg.n, pooledPlan, r.cfg.pool, plainPlan, benchkit.PollEvery, strings.Join(r.serverFlags, " "))
	if r.cfg.isolated {
		b.WriteString("Isolation: the server's defaults (a user, a cgroup and a network namespace per tenant, where the host allows).\n\n")
	} else {
		b.WriteString("Isolation off (no user, cgroup or network namespace per tenant).\n\n")
	}

	p50, p90, most := figures(r.pooled, took)
	c50, c90, cmost := figures(r.plain, took)
	f50, f90, fmost := figures(r.floor, benchkit.FloorSample.Took)
	r50, r90, rmost := figures(r.pooled, refill)
	b.WriteString("| | p50 | p90 | max | samples |\n|---|--:|--:|--:|--:|\n")
	fmt.Fprintf(&b, "| create, plan %s (claimed a stamp) | %s | %s | %s | %d |\n", pooledPlan, benchkit.MS(p50), benchkit.MS(p90), benchkit.MS(most), len(r.pooled))
	fmt.Fprintf(&b, "| create, plan %s | %s | %s | %s | %d |\n", plainPlan, benchkit.MS(c50), benchkit.MS(c90), benchkit.MS(cmost), len(r.plain))
	fmt.Fprintf(&b, "| the app's own start, by hand | %s | %s | %s | %d |\n", benchkit.MS(f50), benchkit.MS(f90), benchkit.MS(fmost), len(r.floor))
	fmt.Fprintf(&b, "| the pool full again, from a claim's answer | %s | %s | %s | %d |\n\n", benchkit.MS(r50), benchkit.MS(r90), benchkit.MS(rmost), len(r.pooled))
	fmt.Fprintf(&b, "At p50: pooled / plain **%s**, pooled / the app's own start **%s**, plain / the app's own start %s. ",
		benchkit.Ratio(p50, c50), benchkit.Ratio(p50, f50), benchkit.Ratio(c50, f50))
	fmt.Fprintf(&b, "Target, a pooled create's p50 under %s: %s, met: %s.\n\n", benchkit.MS(targetPooled), benchkit.MS(p50), verdict(len(r.pooled) > 0 && p50 < targetPooled))
	if len(r.unclaimed) > 0 {
		var each []string
		for _, c := range r.unclaimed {
			each = append(each, c.name+" "+benchkit.MS(c.took))
		}
		fmt.Fprintf(&b, "**Creates of plan %s that claimed no stamp**, left out above: %d, %s.\n\n", pooledPlan, len(r.unclaimed), strings.Join(each, ", "))
	}

	b.WriteString("### Where a create's time goes\n\n")
	b.WriteString("Mean per create, from its step events (wait: queued to started; work: started to finished; done: its end, from the POST). " +
		"Steps overlap: allocate goes on beside secrets and database, the seed beside start and health, and route waits for the seed. " +
		"A step's mean is over the creates that ran it; `-`: none did (a pooled create's stamp migrated ahead).\n\n")
	fmt.Fprintf(&b, "| part | %[1]s wait | %[1]s work | %[1]s done | %[2]s wait | %[2]s work | %[2]s done |\n|---|--:|--:|--:|--:|--:|--:|\n", pooledPlan, plainPlan)
	pb, cb := breakdownOf(r.pooled), breakdownOf(r.plain)
	for i, p := range pb.parts {
		pwait, pwork, pdone := p.cells()
		cwait, cwork, cdone := cb.parts[i].cells()
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", p.label, pwait, pwork, pdone, cwait, cwork, cdone)
	}
	b.WriteString("\n")
	if p, ok := pb.largestStep(); ok {
		fmt.Fprintf(&b, "The largest step of a pooled create: %s, %s of work, done %s after the POST, of a mean create of %s.\n\n",
			strings.TrimPrefix(p.label, "step "), benchkit.MS(p.work), benchkit.MS(p.done), benchkit.MS(pb.mean))
	}
	mean := func(of func(s benchkit.FloorSample) time.Duration) string {
		return benchkit.MS(benchkit.Mean(r.floor, of))
	}
	fmt.Fprintf(&b, "By hand, mean: `ledger migrate` %s, then side by side `ledger serve` to its first 200 %s and `ledger seed` %s.\n\n",
		mean(func(s benchkit.FloorSample) time.Duration { return s.Migrated.Sub(s.Created) }),
		mean(func(s benchkit.FloorSample) time.Duration { return s.Healthy.Sub(s.Migrated) }),
		mean(func(s benchkit.FloorSample) time.Duration { return s.Seeded.Sub(s.Migrated) }))

	b.WriteString("| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| command | `%s` |\n", strings.Join(append([]string{"go", "run", "./bench/pool"}, r.cfg.args...), " "))
	fmt.Fprintf(&b, "| commit | %s |\n", r.commit)
	fmt.Fprintf(&b, "| CPUs (`nproc`), model | %d, %s |\n", r.nproc, r.cpuModel)
	fmt.Fprintf(&b, "| load average (1, 5, 15 min) before, after | %s; %s |\n", r.loadBefore, r.loadAfter)
	fmt.Fprintf(&b, "| Go | %s |\n", r.goVersion)
	return b.String()
}
