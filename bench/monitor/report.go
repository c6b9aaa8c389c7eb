package main

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bench/internal/benchkit"
	"github.com/stamphq/stamp/blueprint"
)

// window is one idle window of a server.
type window struct {
	tenants    int
	wall, cpu  time.Duration // the window's length and the server's CPU time in it
	loadBefore string
	loadAfter  string
	rssKiB     int64 // the server's, at the end
	// With tenants: their processes alive across the window, their CPU
	// time in it, the requests they received on the connections to them
	// open at its end (and how many those were), and the TCP connections
	// the machine accepted.
	procs    int
	procsCPU time.Duration
	requests int64
	conns    int
	accepted int64
}

// probes is how many probes the window counted: a request on a kept
// connection, or a new connection (a probe without keep-alives opens one;
// with them, a dial in the window counts once more than it probed).
func (w window) probes() int64 { return w.requests + w.accepted }

// share is the server's CPU time over the window, as a share of one core.
func (w window) share() float64 { return ratio(w.cpu, w.wall) }

// ratio returns a/b, or 0 when b is 0.
func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// result is everything one run measured.
type result struct {
	machine machine
	asked   int    // -tenants
	tenants int    // the fleet that ran
	scaled  string // why fewer than asked ran, or ""
	// blueprint is the ledger's name@version and probe its health probe.
	blueprint string
	probe     blueprint.Health
	ports     string // the fleet server's --ports
	setup     time.Duration
	floor     window
	fleet     window
	memory    benchkit.Memory // after the fleet's window
	profile   *profile        // nil without -perf
	// The kill phase: load before and after, each kill, and what the
	// checks found.
	killLoadBefore string
	killLoadAfter  string
	kills          []*kill
	spurious       []string // incidents no kill explains
	openAtEnd      []string
	leaks          []string
}

// pct formats a share of one core as a percentage.
func pct(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) }

// markdown renders the report.
func (r *result) markdown() string {
	var b strings.Builder
	interval := r.probe.Interval
	fmt.Fprintf(&b, "Health monitor with %d tenants of %s under watch (probe `GET %s` every %s, timeout %s); `stamp server` with its defaults (`--workers 8`, `--incident-grace 3s`), SQLite store, local driver, its own block of tenant ports (%s).\n\n",
		r.tenants, r.blueprint, r.probe.HTTP, interval, r.probe.Timeout, r.ports)
	if r.scaled != "" {
		fmt.Fprintf(&b, "**Scaled down:** %s.\n\n", r.scaled)
	}

	b.WriteString("### CPU\n\n")
	fmt.Fprintf(&b, "The server process's utime+stime (`/proc/<pid>/stat`) over an idle window in which the bench sends it nothing, as a share of one core. The floor is a second server, on its own data dir, with no tenant.\n\n")
	b.WriteString("| server | tenants | window | server CPU | share of one core | server RSS | load before | load after |\n|---|--:|--:|--:|--:|--:|---|---|\n")
	for _, w := range []struct {
		name string
		w    window
	}{{"floor", r.floor}, {"fleet", r.fleet}} {
		fmt.Fprintf(&b, "| %s | %d | %.1f s | %s | %s | %s | %s | %s |\n", w.name, w.w.tenants, w.w.wall.Seconds(), benchkit.MS(w.w.cpu),
			pct(w.w.share()), benchkit.MiB(w.w.rssKiB), w.w.loadBefore, w.w.loadAfter)
	}
	diff := r.fleet.share() - r.floor.share()
	fmt.Fprintf(&b, "| fleet less floor | | | | %s | | | |\n\n", pct(diff))
	fmt.Fprintf(&b, "Upper bound of the monitor's CPU: %s of one core (the fleet's server), %s above the empty server; %.1f µs of server CPU per tenant per second. Target: under 5%% of one core. The server has no switch to turn the probes off, and besides the monitor it renews every tenant's lease (every 1.7 s, a third of the 5 s lease) and resyncs every tenant (every 30 s), so this bounds the monitor's share from above.\n\n",
		pct(r.fleet.share()), pct(diff), 1e6*diff/float64(max(r.tenants, 1)))
	if w := r.fleet; w.procs > 0 {
		scheduled := float64(w.tenants) / interval.Seconds()
		perSec := float64(w.probes()) / w.wall.Seconds()
		fmt.Fprintf(&b, "The %d tenant processes alive across the fleet's window used %s of CPU in it: %s of one core in all. In the window the tenants received %d requests on the %d connections to them open at its end (`data_segs_in` of each, `ss -ti`: a probe's request is one segment; what connections closed before the end received is not counted), and the machine accepted %d TCP connections (`PassiveOpens`, machine-wide; a probe without keep-alives opens one). Together: %d probes, %.0f/s, %.0f%% of one probe of each tenant every %s (%.0f/s); %.1f µs of tenant CPU per probe.\n\n",
			w.procs, benchkit.MS(w.procsCPU), pct(w.procsCPU.Seconds()/w.wall.Seconds()), w.requests, w.conns, w.accepted,
			w.probes(), perSec, 100*perSec/max(scheduled, 1e-9), interval, scheduled, 1e6*w.procsCPU.Seconds()/float64(max(w.probes(), 1)))
	}
	r.writeProfile(&b)

	b.WriteString("### Detection\n\n")
	opened, resolved := withIncident(r.kills)
	fmt.Fprintf(&b, "%d kills, one at a time, each of another tenant picked at random: SIGKILL to the tenant's `%s` process (found by its `STAMP_INSTANCE` marker), then wait for the tenant's `incident.opened` and `incident.resolved` events and a random pause of up to one interval. Times are from just before the kill, on the machine's one clock. %d of %d kills opened an incident, %d resolved.\n\n",
		len(r.kills), service, len(opened), len(r.kills), len(resolved))
	b.WriteString("| from the kill to | n | p50 | p99 | max | p99 / interval |\n|---|--:|--:|--:|--:|--:|\n")
	for _, f := range []struct {
		name  string
		kills []*kill
		of    func(*kill) time.Duration
	}{
		{"the check that saw it (the incident's `openedAt`)", opened, (*kill).seen},
		{"`incident.opened` (detection)", opened, (*kill).detected},
		{"`incident.resolved`", resolved, (*kill).recovered},
	} {
		p99 := benchkit.Percentile(f.kills, f.of, 99)
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %.2f |\n", f.name, len(f.kills), benchkit.MS(benchkit.Percentile(f.kills, f.of, 50)),
			benchkit.MS(p99), benchkit.MS(benchkit.Percentile(f.kills, f.of, 100)), ratio(p99, interval))
	}
	p99 := benchkit.Percentile(opened, (*kill).detected, 99)
	verdict := "met"
	if p99 >= 2*interval || len(opened) < len(r.kills) {
		verdict = "missed"
	}
	fmt.Fprintf(&b, "\nTarget: detection p99 under 2 probe intervals (%s): %s (%.2f intervals).", 2*interval, verdict, ratio(p99, interval))
	if len(opened) > 0 {
		fmt.Fprintf(&b, " Mean time an incident stayed open: %s.", benchkit.MS(benchkit.Mean(resolved, (*kill).open)))
	}
	b.WriteString("\n\n")

	b.WriteString("### Checks\n\n")
	checks := r.problems()
	if len(checks) == 0 {
		fmt.Fprintf(&b, "- every kill opened exactly one incident, of cause `exit`, and it resolved\n- no incident opened for any other reason after the first kill\n- no incident open at the end\n- every tenant runs exactly one `%s` process, a new one for each tenant killed\n", service)
	}
	for _, c := range checks {
		fmt.Fprintf(&b, "- %s\n", c)
	}

	m := r.machine
	b.WriteString("\n### Setup and machine\n\n")
	b.WriteString("| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| commit | %s |\n", m.commit)
	fmt.Fprintf(&b, "| tenants | %d (asked %d) |\n", r.tenants, r.asked)
	fmt.Fprintf(&b, "| setup (create all, wait ready; not measured) | %.1f s |\n", r.setup.Seconds())
	fmt.Fprintf(&b, "| CPUs (`nproc`) | %d |\n", m.nproc)
	fmt.Fprintf(&b, "| memory | %s total, %s available before the run |\n", benchkit.MiB(m.memTotalKiB), benchkit.MiB(m.memAvailKiB))
	fmt.Fprintf(&b, "| with the fleet | server RSS %s; %d tenant processes, RSS %s (%s each) |\n", benchkit.MiB(r.memory.ServerKiB),
		r.memory.Procs, benchkit.MiB(r.memory.ProcsKiB), benchkit.MiB(r.memory.ProcsKiB/int64(max(r.memory.Procs, 1))))
	fmt.Fprintf(&b, "| load average (1, 5, 15 min) | %s before the run; %s before the kills, %s after |\n", m.load, r.killLoadBefore, r.killLoadAfter)
	fmt.Fprintf(&b, "| kernel, Go | %s, %s |\n", m.kernel, m.goVersion)
	return b.String()
}

// writeProfile writes the profile's table, if there is one.
func (r *result) writeProfile(b *strings.Builder) {
	p := r.profile
	if p == nil {
		return
	}
	if p.skipped != "" {
		fmt.Fprintf(b, "No profile: %s.\n\n", p.skipped)
		return
	}
	share := ratio(p.cpu, p.wall)
	fmt.Fprintf(b, "A profile of the fleet's server right after its window (`perf record -e cpu-clock -F %d -g`, %.1f s, in which the server used %s of one core) sorts its %d samples by the goroutine they ran on (its outermost frame of one of these parts):\n\n",
		perfHz, p.wall.Seconds(), pct(share), p.total)
	b.WriteString("| part | samples | share of samples | of one core |\n|---|--:|--:|--:|\n")
	for _, pt := range allParts() {
		n := p.samples[pt.name]
		if n == 0 {
			continue
		}
		f := float64(n) / float64(max(p.total, 1))
		fmt.Fprintf(b, "| %s | %d | %.1f%% | %s |\n", pt.name, n, 100*f, pct(f*share))
	}
	if len(p.monitor) > 0 {
		fmt.Fprintf(b, "\nWhere the monitor's %d samples are (the innermost monitor function and what it called; for a probe connection, the goroutine), the %d largest:\n\n", sum(p.monitor), min(len(p.monitor), topWhere))
		b.WriteString("| where | samples | of one core |\n|---|--:|--:|\n")
		for _, w := range largest(p.monitor, topWhere) {
			f := float64(p.monitor[w]) / float64(max(p.total, 1))
			fmt.Fprintf(b, "| `%s` | %d | %s |\n", w, p.monitor[w], pct(f*share))
		}
	}
	direct, est := p.monitorShare()
	fmt.Fprintf(b, "\nThe monitor's part: %.1f%% of the samples, %s of one core; with the Go runtime's shared work (garbage collector, scheduler) split in proportion, %.1f%%, %s of one core.\n\n",
		100*direct, pct(direct*share), 100*est, pct(est*share))
}

// problems lists what the checks found wrong: kills without one incident
// of cause exit or without its resolution, incidents no kill explains or left open, and
// tenants not running exactly one new process.
func (r *result) problems() []string {
	var out []string
	for _, k := range r.kills {
		switch {
		case k.openings == 0:
			out = append(out, fmt.Sprintf("kill of %s (pid %d) at %s: no incident.opened", k.tenant, k.pid, k.at.Format("15:04:05.000")))
		case k.openings > 1:
			out = append(out, fmt.Sprintf("kill of %s (pid %d) at %s: %d incidents opened, want one", k.tenant, k.pid, k.at.Format("15:04:05.000"), k.openings))
		}
		if k.cause != "" && k.cause != stamp.CauseExit {
			out = append(out, fmt.Sprintf("incident %s of %s (killed at %s) has cause %q, want %q", k.incident, k.tenant, k.at.Format("15:04:05.000"), k.cause, stamp.CauseExit))
		}
		if k.openings > 0 && k.resolved.IsZero() {
			out = append(out, fmt.Sprintf("incident %s of %s (killed at %s) never resolved", k.incident, k.tenant, k.at.Format("15:04:05.000")))
		}
	}
	for _, s := range r.spurious {
		out = append(out, "incident no kill explains: "+s)
	}
	for _, s := range r.openAtEnd {
		out = append(out, "incident open at the end: "+s)
	}
	return append(out, r.leaks...)
}

// topWhere is how many of the monitor's places the report lists.
const topWhere = 12

// sum adds up counts.
func sum(counts map[string]int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

// largest returns the n keys of counts with the largest counts, largest
// first, ties in name order.
func largest(counts map[string]int, n int) []string {
	keys := slices.Collect(maps.Keys(counts))
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(counts[b], counts[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return keys[:min(n, len(keys))]
}
