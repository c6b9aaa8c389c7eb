package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// The targets.
const (
	targetFleet  = 10000            // tenants the create target is for
	targetCreate = 10 * time.Minute // to create targetFleet of them on 2 cores
	targetRSSKiB = 1 << 20          // the server's resident memory: 1 GiB
	targetRouter = 1.10             // router latency with every route against with one
	targetCold   = 1.5              // cold start against the app's own start
)

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
	atRest                held    // the server before any tenant
	oneRoute, allRoutes   latency // the warm tenant with 1 route and with n+1
	fleet                 *fleet
	fellAsleep            time.Duration // from the last create to every starter tenant asleep
	quiet                 quiet
	cold                  []coldSample
	wake                  *wakeBreakdown // where the cold starts' time went
	wakes                 histogram      // stamp_router_wake_seconds{outcome="woke"} at the end
	failedWakes           int64          // stamp_router_wake_seconds{outcome="failed"} observations
	end                   held           // the server at the end of the run
}

func same(d time.Duration) time.Duration { return d }

// p returns the p-th percentile of ds.
func p(ds []time.Duration, pct float64) time.Duration { return benchkit.Percentile(ds, same, pct) }

// ratio is a/b, or 0 when b is 0.
func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// verdict says "yes" if ok, else "**no**".
func verdict(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// us formats d in microseconds, such as "412 µs": the router adds
// well under a millisecond.
func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond)) }

// seconds formats d in seconds with one decimal.
func seconds(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// rate is tenants per second over d.
func rate(tenants int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(tenants) / d.Seconds()
}

// tenthRates returns the creates per second of the first tenth of the
// fleet to be created (from the start to the n/10-th tenant done) and of
// the last (from the 9n/10-th done to the last).
func (f *fleet) tenthRates() (first, last float64) {
	n := len(f.each)
	ends := make([]time.Duration, n)
	for i, s := range f.each {
		ends[i] = s.end
	}
	slices.Sort(ends)
	k, nine := n/10, 9*n/10
	return rate(k, ends[k-1]), rate(n-nine, ends[n-1]-ends[nine-1])
}

// tenthTimes returns each create's time of the first and the last tenth
// of the creates, in the order they started.
func (f *fleet) tenthTimes() (first, last []time.Duration) {
	n := len(f.each)
	for i, s := range f.each {
		switch {
		case i < n/10:
			first = append(first, s.took())
		case i >= 9*n/10:
			last = append(last, s.took())
		}
	}
	return first, last
}

// maxRSS is the most the server held resident at any reading.
func (r *result) maxRSS() int64 {
	most := max(r.atRest.rssKiB, r.quiet.held.rssKiB, r.end.rssKiB)
	for _, s := range r.fleet.snapshots {
		most = max(most, s.held.rssKiB)
	}
	return most
}

// markdown renders the report.
func (r *result) markdown() string {
	var b strings.Builder
	n := r.cfg.n
	fmt.Fprintf(&b, "## Scale to zero: %d tenants\n\n", n)
	fmt.Fprintf(&b, "%d tenants of ledger@2.0.0 on plan starter (`idle: %s`), created %d at once through the API, each polled (`GET /v1/tenants/NAME`, every %s) until ready; "+
		"one more on plan warm (no idle) for the router's latency. `stamp server %s`, SQLite store, local driver. ",
		n, r.cfg.idle, r.cfg.concurrency, pollEvery, strings.Join(r.serverFlags, " "))
	if r.cfg.isolated {
		b.WriteString("Isolation: the server's defaults (a user, a cgroup and a network namespace per tenant, where the host allows).\n\n")
	} else {
		b.WriteString("Isolation off (no user, cgroup or network namespace per tenant): what 10,000 network namespaces cost is a separate question.\n\n")
	}

	first, last := r.fleet.tenthRates()
	firstT, lastT := r.fleet.tenthTimes()
	one50, one99 := p(r.oneRoute.router, 50), p(r.oneRoute.router, 99)
	all50, all99 := p(r.allRoutes.router, 50), p(r.allRoutes.router, 99)
	colds, floors := r.coldTimes()
	c50, c99, f50, f99 := p(colds, 50), p(colds, 99), p(floors, 50), p(floors, 99)

	b.WriteString("| figure | measured | target | met |\n|---|---|---|---|\n")
	createMet := r.fleet.wall <= targetCreate*time.Duration(n)/targetFleet
	if n >= targetFleet {
		fmt.Fprintf(&b, "| create %d tenants | %s, %.1f tenants/s | under %.0f min for %d on 2 cores | %s |\n",
			n, seconds(r.fleet.wall), rate(n, r.fleet.wall), targetCreate.Minutes(), targetFleet, verdict(r.fleet.wall <= targetCreate))
	} else {
		fmt.Fprintf(&b, "| create %d tenants | %s, %.1f tenants/s | under %.0f min for %d on 2 cores (%s for %d) | %s, if the rate held |\n",
			n, seconds(r.fleet.wall), rate(n, r.fleet.wall), targetCreate.Minutes(), targetFleet, seconds(targetCreate*time.Duration(n)/targetFleet), n, verdict(createMet))
	}
	fmt.Fprintf(&b, "| server RSS, most at any reading | %s | under 1 GiB | %s |\n", benchkit.MiB(r.maxRSS()), verdict(r.maxRSS() < targetRSSKiB))
	fmt.Fprintf(&b, "| router p50 / p99, warm tenant, %d routes against 1 | %s / %s against %s / %s: %.2fx / %.2fx | within %.2fx | %s |\n",
		n+1, us(all50), us(all99), us(one50), us(one99), ratio(all50, one50), ratio(all99, one99),
		targetRouter, verdict(ratio(all50, one50) <= targetRouter && ratio(all99, one99) <= targetRouter))
	fmt.Fprintf(&b, "| cold start p50 / p99 against the app's own start | %s / %s against %s / %s: %.2fx / %.2fx | at most %.1fx | %s |\n\n",
		benchkit.MS(c50), benchkit.MS(c99), benchkit.MS(f50), benchkit.MS(f99), ratio(c50, f50), ratio(c99, f99),
		targetCold, verdict(ratio(c50, f50) <= targetCold && ratio(c99, f99) <= targetCold))

	b.WriteString("### Creates\n\n")
	fmt.Fprintf(&b, "%s in all, %.1f tenants/s; the first tenth created at %.1f tenants/s, the last at %.1f. "+
		"Each create (API call to ready), p50 / p99: %s / %s in the first tenth, %s / %s in the last.\n\n",
		seconds(r.fleet.wall), rate(n, r.fleet.wall), first, last,
		benchkit.MS(p(firstT, 50)), benchkit.MS(p(firstT, 99)), benchkit.MS(p(lastT, 50)), benchkit.MS(p(lastT, 99)))
	b.WriteString("At each tenth of the fleet created (read aside, the creates going on): the server process (`VmRSS`, `/proc/<pid>/fd`, `/proc/<pid>/task`, `go_goroutines` of `/metrics`), the tenants by phase in the API's listing, and the tenant processes running; server CPU per create is the server's utime+stime since the reading before over the tenants created since (their sleeps and these readings included).\n\n")
	b.WriteString("| tenth | created | at | server CPU per create | server RSS | open files | threads | goroutines | sleeping | ready | other | tenant processes |\n|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	fmt.Fprintf(&b, "| 0 | 0 | - | - | %s | %d | %d | %d | 0 | 0 | 0 | 0 |\n", benchkit.MiB(r.atRest.rssKiB), r.atRest.fds, r.atRest.threads, r.atRest.goroutines)
	prevCPU, prevCreated := r.fleet.cpu, 0
	for _, s := range r.snapshotsInOrder() {
		sleeping, ready := s.phases[stamp.PhaseSleeping], s.phases[stamp.PhaseReady]
		other := -sleeping - ready
		for _, c := range s.phases {
			other += c
		}
		perCreate := (s.cpu - prevCPU) / time.Duration(max(s.created-prevCreated, 1))
		prevCPU, prevCreated = s.cpu, s.created
		fmt.Fprintf(&b, "| %d | %d | %s | %s | %s | %d | %d | %d | %d | %d | %d | %d |\n", s.tenth, s.created, seconds(s.at), benchkit.MS(perCreate),
			benchkit.MiB(s.held.rssKiB), s.held.fds, s.held.threads, s.held.goroutines, sleeping, ready, other, s.procs)
	}

	b.WriteString("\n### The fleet asleep\n\n")
	q := r.quiet
	fmt.Fprintf(&b, "Every starter tenant slept, with none of its processes running, %s after the last create. Over a quiet window of %s "+
		"(the bench sent nothing; tenant processes running at its end: %d, the warm tenant's) the server used %s of CPU time (%.2f%% of one core), and held: "+
		"RSS %s (%s before any tenant, %.1f KiB more per tenant), %d open files, %d threads, %d goroutines.\n\n",
		seconds(r.fellAsleep), q.window, q.procs, benchkit.MS(q.cpu), 100*ratio(q.cpu, q.window),
		benchkit.MiB(q.held.rssKiB), benchkit.MiB(r.atRest.rssKiB), float64(q.held.rssKiB-r.atRest.rssKiB)/float64(n), q.held.fds, q.held.threads, q.held.goroutines)

	b.WriteString("### Router latency\n\n")
	fmt.Fprintf(&b, "%d sequential `GET /healthz` to the warm tenant through the router, each followed by one straight to its instance (after %d of each untimed), "+
		"each way over one kept connection, from the call to the end of the body; the router's part is the difference of the p50s:\n\n", r.cfg.requests, warmUp)
	b.WriteString("| routes | router p50 | router p99 | router mean | direct p50 | direct p99 | router's part, p50 |\n|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, row := range []struct {
		routes int
		l      latency
	}{{1, r.oneRoute}, {n + 1, r.allRoutes}} {
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s |\n", row.routes, us(p(row.l.router, 50)), us(p(row.l.router, 99)), us(benchkit.Mean(row.l.router, same)),
			us(p(row.l.direct, 50)), us(p(row.l.direct, 99)), us(p(row.l.router, 50)-p(row.l.direct, 50)))
	}
	b.WriteString("\n### Cold start\n\n")
	fmt.Fprintf(&b, "%d cold starts, one at a time, each a `GET /healthz` through the router to another sleeping tenant (request to response), "+
		"alternating with as many starts of the app by hand: `ledger serve` on a copy of a migrated and seeded SQLite database, from its start to the first 200 of `/healthz` (polled every %s).\n\n",
		len(r.cold), benchkit.PollEvery)
	b.WriteString("| | p50 | p99 | mean |\n|---|--:|--:|--:|\n")
	fmt.Fprintf(&b, "| cold start through the router | %s | %s | %s |\n", benchkit.MS(c50), benchkit.MS(c99), benchkit.MS(benchkit.Mean(colds, same)))
	fmt.Fprintf(&b, "| the app's own start | %s | %s | %s |\n", benchkit.MS(f50), benchkit.MS(f99), benchkit.MS(benchkit.Mean(floors, same)))
	fmt.Fprintf(&b, "| ratio | %.2fx | %.2fx | %s |\n\n", ratio(c50, f50), ratio(c99, f99), benchkit.Ratio(benchkit.Mean(colds, same), benchkit.Mean(floors, same)))
	if bd := r.wake; bd != nil && bd.samples > 0 {
		fmt.Fprintf(&b, "Where a cold start's time went, mean of the %d whose wake the event log shows in full (the `tenant.waking` event and the wake pass's step events):\n\n", bd.samples)
		b.WriteString("| part | mean |\n|---|--:|\n")
		fmt.Fprintf(&b, "| request to `tenant.waking` recorded | %s |\n", benchkit.MS(bd.toWaking))
		fmt.Fprintf(&b, "| to the wake pass's first step | %s |\n", benchkit.MS(bd.toFirstStep))
		for _, step := range wakeSteps {
			fmt.Fprintf(&b, "| step %s | %s |\n", step, benchkit.MS(bd.steps[step]))
		}
		fmt.Fprintf(&b, "| between the steps | %s |\n", benchkit.MS(bd.between))
		fmt.Fprintf(&b, "| route step's end to the answer | %s |\n\n", benchkit.MS(bd.after))
	}
	w := r.wakes
	fmt.Fprintf(&b, "The server's `stamp_router_wake_seconds{outcome=\"woke\"}` at the end: %d wakes, mean %s; %d failed.\n\n", w.count, benchkit.MS(w.mean()), r.failedWakes)
	if len(w.buckets) > 0 {
		b.WriteString("| le (s) | wakes at or below |\n|--:|--:|\n")
		for _, bk := range w.buckets {
			fmt.Fprintf(&b, "| %s | %d |\n", bk.le, bk.count)
		}
		b.WriteString("\n")
	}

	b.WriteString("| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| commit | %s |\n", r.commit)
	fmt.Fprintf(&b, "| CPUs (`nproc`), model | %d, %s |\n", r.nproc, r.cpuModel)
	fmt.Fprintf(&b, "| load average (1, 5, 15 min) before, after | %s; %s |\n", r.loadBefore, r.loadAfter)
	fmt.Fprintf(&b, "| Go | %s |\n", r.goVersion)
	fmt.Fprintf(&b, "| server at the end | RSS %s, %d open files, %d threads, %d goroutines |\n", benchkit.MiB(r.end.rssKiB), r.end.fds, r.end.threads, r.end.goroutines)
	return b.String()
}

// coldTimes returns the cold starts' times and the floor's.
func (r *result) coldTimes() (colds, floors []time.Duration) {
	for _, s := range r.cold {
		colds = append(colds, s.cold)
		floors = append(floors, s.floor)
	}
	return colds, floors
}

// snapshotsInOrder returns the fleet's snapshots by tenth: they are
// appended as they finish.
func (r *result) snapshotsInOrder() []snapshot {
	out := slices.Clone(r.fleet.snapshots)
	slices.SortFunc(out, func(a, b snapshot) int { return a.tenth - b.tenth })
	return out
}

// mean is the mean observation of h.
func (h histogram) mean() time.Duration {
	if h.count == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.count) * float64(time.Second))
}
