package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// result is everything one run measured.
type result struct {
	cfg config
	// isolation is what the server enforces, one line a part (users,
	// limits, network).
	isolation []string
	nproc     int
	goVersion string
	commit    string
	// loadBefore and loadAfter are /proc/loadavg at the start and the end
	// of the run: on a shared machine they say how quiet it was.
	loadBefore, loadAfter string
	creates, deletes      []tenth
	// atRest, alive and after are what the server held before the first
	// create, with every tenant alive and after the deletes, settled
	// (settled after the last delete).
	atRest, alive, after held
	settled              time.Duration
}

// rate is a tenth's tenants per second.
func (t tenth) rate() float64 {
	if t.wall <= 0 {
		return 0
	}
	return float64(t.tenants) / t.wall.Seconds()
}

// perTenant is a tenth's wall time per tenant.
func (t tenth) perTenant() time.Duration {
	return t.wall / time.Duration(max(t.tenants, 1))
}

// cpuPerTenant is the server's CPU time over a tenth per tenant.
func (t tenth) cpuPerTenant() time.Duration {
	return t.cpu / time.Duration(max(t.tenants, 1))
}

// mean is the mean of a tenth's tenants' own times.
func (t tenth) mean() time.Duration {
	return benchkit.Mean(t.each, func(d time.Duration) time.Duration { return d })
}

// total is the wall time of all tenths.
func total(tenths []tenth) time.Duration {
	var sum time.Duration
	for _, t := range tenths {
		sum += t.wall
	}
	return sum
}

// seconds formats d in seconds with two decimals.
func seconds(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// markdown renders the report.
func (r *result) markdown() string {
	var b strings.Builder
	b.WriteString("## Fleet\n\n")
	fmt.Fprintf(&b, "%d tenants of the ledger created, then deleted, a tenth at a time, %d at once; `stamp server` with -isolation %s, SQLite store, local driver. What the server enforced, as `stamp server --check` says it:\n\n", r.cfg.n, r.cfg.concurrency, r.cfg.isolation)
	for _, line := range r.isolation {
		fmt.Fprintf(&b, "- %s\n", line)
	}
	b.WriteString("\n")
	c0, c9, d0, d9 := r.creates[0], r.creates[len(r.creates)-1], r.deletes[0], r.deletes[len(r.deletes)-1]
	fmt.Fprintf(&b, "Create: %.1f tenants/s in the first tenth, %.1f in the last (%s in all); server CPU %s per tenant in the first tenth, %s in the last. "+
		"Delete: %s in all; %s per tenant in the first tenth, %s in the last; server CPU %s per tenant in the first tenth, %s in the last.\n\n",
		c0.rate(), c9.rate(), seconds(total(r.creates)), benchkit.MS(c0.cpuPerTenant()), benchkit.MS(c9.cpuPerTenant()),
		seconds(total(r.deletes)), seconds(d0.perTenant()), seconds(d9.perTenant()), benchkit.MS(d0.cpuPerTenant()), benchkit.MS(d9.cpuPerTenant()))
	b.WriteString("| tenth | tenants | create tenants/s | create each, mean | server CPU per create | delete s per tenant | delete each, mean | server CPU per delete |\n|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for k := range r.creates {
		c, d := r.creates[k], r.deletes[k]
		fmt.Fprintf(&b, "| %d | %d | %.1f | %s | %s | %s | %s | %s |\n", k+1, c.tenants, c.rate(), benchkit.MS(c.mean()), benchkit.MS(c.cpuPerTenant()),
			seconds(d.perTenant()), benchkit.MS(d.mean()), benchkit.MS(d.cpuPerTenant()))
	}
	b.WriteString("\nWhat the server process held (`/proc/<pid>`: `fd`, `task`, its sockets in state CLOSE-WAIT in `net/tcp` and `tcp6`, `VmRSS`):\n\n")
	b.WriteString("| when | open files | threads | CLOSE-WAIT | RSS |\n|---|--:|--:|--:|--:|\n")
	for _, row := range []struct {
		when string
		h    held
	}{
		{"at rest, before the creates", r.atRest},
		{fmt.Sprintf("%d tenants alive", r.cfg.n), r.alive},
		{fmt.Sprintf("after the deletes (%.0f s on)", r.settled.Seconds()), r.after},
	} {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %s |\n", row.when, row.h.fds, row.h.threads, row.h.closeWait, benchkit.MiB(row.h.rssKiB))
	}
	verdict := "yes"
	if over := excess(r.atRest, r.after, r.cfg.max); len(over) > 0 {
		verdict = "no: " + strings.Join(over, "; ")
	}
	fmt.Fprintf(&b, "\nBack within its margins of at rest after the deletes (open files +%d, threads +%d, CLOSE-WAIT +%d, within %s): %s.\n\n",
		r.cfg.max.fds, r.cfg.max.threads, r.cfg.max.closeWait, r.cfg.settle, verdict)
	b.WriteString("| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| commit | %s |\n", r.commit)
	fmt.Fprintf(&b, "| CPUs (`nproc`) | %d |\n", r.nproc)
	fmt.Fprintf(&b, "| load average (1, 5, 15 min) before, after | %s; %s |\n", r.loadBefore, r.loadAfter)
	fmt.Fprintf(&b, "| Go | %s |\n", r.goVersion)
	return b.String()
}
