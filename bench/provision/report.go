package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// phase is one measured phase: n samples of each kind, concurrency at once.
type phase struct {
	name        string
	n           int
	concurrency int
}

// phaseResult is what a phase measured.
type phaseResult struct {
	phase
	floor, stamp []sample
	steps        *breakdown
	serverCPU    time.Duration // the server's CPU time over the phase
}

// report is everything one run prints.
type report struct {
	engine    string // of the tenant databases
	isolation string // -isolation: host or none
	plan      string // the tenants' plan
	phases    []*phaseResult
	memory    memoryUse
	// loadBefore and loadAfter are /proc/loadavg at the start and end of
	// the measurement: on a shared machine they say how quiet it was.
	loadBefore, loadAfter string
}

// markdown renders the report.
func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Engine %s, isolation %s, plan %s. Load average (1, 5, 15 min) before: %s; after: %s.\n\n", r.engine, r.isolation, r.plan, r.loadBefore, r.loadAfter)
	b.WriteString("| phase | n | concurrency | stamp p50 | stamp p99 | floor p50 | floor p99 | ratio p50 | ratio p99 |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, ph := range r.phases {
		s50, s99 := benchkit.Percentile(ph.stamp, sample.took, 50), benchkit.Percentile(ph.stamp, sample.took, 99)
		f50, f99 := benchkit.Percentile(ph.floor, sample.took, 50), benchkit.Percentile(ph.floor, sample.took, 99)
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %s | %s | %s | %s | %s |\n",
			ph.name, ph.n, ph.concurrency, benchkit.MS(s50), benchkit.MS(s99), benchkit.MS(f50), benchkit.MS(f99), benchkit.Ratio(s50, f50), benchkit.Ratio(s99, f99))
	}
	b.WriteString("\nWhere a tenant's time goes, mean per tenant from the event log (wait: queued to started; work: started to finished):\n\n")
	b.WriteString("| step |")
	for _, ph := range r.phases {
		fmt.Fprintf(&b, " %s wait | %s work |", ph.name, ph.name)
	}
	b.WriteString("\n|---|" + strings.Repeat("--:|--:|", len(r.phases)) + "\n")
	b.WriteString("| API call to allocate queued |")
	for _, ph := range r.phases {
		fmt.Fprintf(&b, " | %s |", benchkit.MS(ph.steps.before))
	}
	b.WriteString("\n")
	for _, step := range stepOrder {
		fmt.Fprintf(&b, "| %s |", step)
		for _, ph := range r.phases {
			t := ph.steps.steps[step]
			fmt.Fprintf(&b, " %s | %s |", benchkit.MS(t.wait), benchkit.MS(t.work))
		}
		b.WriteString("\n")
	}
	b.WriteString("| route done to first 200 via router |")
	for _, ph := range r.phases {
		fmt.Fprintf(&b, " | %s |", benchkit.MS(ph.steps.after))
	}
	b.WriteString("\n")
	b.WriteString("\nBy hand, mean of the floor samples:")
	for _, ph := range r.phases {
		fmt.Fprintf(&b, " %s:", ph.name)
		if r.engine == "postgres" {
			fmt.Fprintf(&b, " role, database and schema (SQL) %s,",
				benchkit.MS(benchkit.Mean(ph.floor, func(s sample) time.Duration { return s.created.Sub(s.start) })))
		}
		fmt.Fprintf(&b, " `ledger migrate` %s, then side by side `ledger serve` to first 200 %s and `ledger seed` %s;",
			benchkit.MS(benchkit.Mean(ph.floor, func(s sample) time.Duration { return s.migrated.Sub(s.created) })),
			benchkit.MS(benchkit.Mean(ph.floor, func(s sample) time.Duration { return s.healthy.Sub(s.migrated) })),
			benchkit.MS(benchkit.Mean(ph.floor, func(s sample) time.Duration { return s.seeded.Sub(s.migrated) })))
	}
	b.WriteString("\n\nServer CPU (user+system) over each phase, per tenant created:")
	for _, ph := range r.phases {
		fmt.Fprintf(&b, " %s %s;", ph.name, benchkit.MS(ph.serverCPU/time.Duration(ph.n)))
	}
	b.WriteString("\n")
	m := r.memory
	fmt.Fprintf(&b, "\nMemory with every tenant alive: stamp server RSS %s; %d tenant processes, RSS %s in all (%s each on average).\n",
		benchkit.MiB(m.ServerKiB), m.Procs, benchkit.MiB(m.ProcsKiB), benchkit.MiB(m.ProcsKiB/int64(max(m.Procs, 1))))
	if r.engine == "postgres" {
		fmt.Fprintf(&b, "\nClient connections on the cluster then (of max_connections 800): %d.\n", m.pgBackends)
	}
	return b.String()
}
