package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// phase is one measured phase: n samples of each kind, concurrency at once.
type phase struct {
	name        string
	n           int
	concurrency int
	// seedByHand times `ledger seed` after each floor sample. Only where
	// nothing else runs: it would slow concurrent floor samples.
	seedByHand bool
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
	engine string // of the tenant databases
	phases []*phaseResult
	memory memoryUse
	// loadBefore and loadAfter are /proc/loadavg at the start and end of
	// the measurement: on a shared machine they say how quiet it was.
	loadBefore, loadAfter string
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// the samples' durations: the smallest one that at least p% of them do
// not exceed. With 50 samples p99 is the slowest.
func percentile(samples []sample, p float64) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	ds := make([]time.Duration, len(samples))
	for i, s := range samples {
		ds[i] = s.took()
	}
	slices.Sort(ds)
	rank := int(math.Ceil(float64(len(ds)) * p / 100))
	return ds[min(max(rank, 1), len(ds))-1]
}

// mean returns the mean of f over the samples.
func mean(samples []sample, f func(sample) time.Duration) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	var sum time.Duration
	for _, s := range samples {
		sum += f(s)
	}
	return sum / time.Duration(len(samples))
}

// ms formats d in milliseconds with one decimal.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

// ratio formats a/b as "1.23x".
func ratio(a, b time.Duration) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", float64(a)/float64(b))
}

// mib formats KiB as MiB with one decimal.
func mib(kib int64) string {
	return fmt.Sprintf("%.1f MiB", float64(kib)/1024)
}

// markdown renders the report.
func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Engine %s. Load average (1, 5, 15 min) before: %s; after: %s.\n\n", r.engine, r.loadBefore, r.loadAfter)
	b.WriteString("| phase | n | concurrency | stamp p50 | stamp p99 | floor p50 | floor p99 | ratio p50 | ratio p99 |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, ph := range r.phases {
		s50, s99 := percentile(ph.stamp, 50), percentile(ph.stamp, 99)
		f50, f99 := percentile(ph.floor, 50), percentile(ph.floor, 99)
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %s | %s | %s | %s | %s |\n",
			ph.name, ph.n, ph.concurrency, ms(s50), ms(s99), ms(f50), ms(f99), ratio(s50, f50), ratio(s99, f99))
	}
	b.WriteString("\nWhere a tenant's time goes, mean per tenant from the event log (wait: queued to started; work: started to finished):\n\n")
	b.WriteString("| step |")
	for _, ph := range r.phases {
		fmt.Fprintf(&b, " %s wait | %s work |", ph.name, ph.name)
	}
	b.WriteString("\n|---|" + strings.Repeat("--:|--:|", len(r.phases)) + "\n")
	b.WriteString("| API call to allocate queued |")
	for _, ph := range r.phases {
		fmt.Fprintf(&b, " | %s |", ms(ph.steps.before))
	}
	b.WriteString("\n")
	for _, step := range stepOrder {
		fmt.Fprintf(&b, "| %s |", step)
		for _, ph := range r.phases {
			t := ph.steps.steps[step]
			fmt.Fprintf(&b, " %s | %s |", ms(t.wait), ms(t.work))
		}
		b.WriteString("\n")
	}
	b.WriteString("| route done to first 200 via router |")
	for _, ph := range r.phases {
		fmt.Fprintf(&b, " | %s |", ms(ph.steps.after))
	}
	b.WriteString("\n")
	b.WriteString("\nBy hand, mean of the floor samples:")
	for _, ph := range r.phases {
		fmt.Fprintf(&b, " %s:", ph.name)
		if r.engine == "postgres" {
			fmt.Fprintf(&b, " role, database and schema (SQL) %s,",
				ms(mean(ph.floor, func(s sample) time.Duration { return s.created.Sub(s.start) })))
		}
		fmt.Fprintf(&b, " `ledger migrate` %s, `ledger serve` to first 200 %s",
			ms(mean(ph.floor, func(s sample) time.Duration { return s.migrated.Sub(s.created) })),
			ms(mean(ph.floor, func(s sample) time.Duration { return s.end.Sub(s.migrated) })))
		if ph.seedByHand {
			fmt.Fprintf(&b, ", `ledger seed` (run after the sample, not part of it) %s",
				ms(mean(ph.floor, func(s sample) time.Duration { return s.seed })))
		}
		b.WriteString(";")
	}
	b.WriteString("\n\nServer CPU (user+system) over each phase, per tenant created:")
	for _, ph := range r.phases {
		fmt.Fprintf(&b, " %s %s;", ph.name, ms(ph.serverCPU/time.Duration(ph.n)))
	}
	b.WriteString("\n")
	m := r.memory
	fmt.Fprintf(&b, "\nMemory with every tenant alive: stamp server RSS %s; %d tenant processes, RSS %s in all (%s each on average).\n",
		mib(m.serverKiB), m.tenants, mib(m.tenantsKiB), mib(m.tenantsKiB/int64(max(m.tenants, 1))))
	if r.engine == "postgres" {
		fmt.Fprintf(&b, "\nClient connections on the cluster then (of max_connections 800): %d.\n", m.pgBackends)
	}
	return b.String()
}
