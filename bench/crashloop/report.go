package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// target is the most of one core the server may use while its tenant
// crash-loops: the bound the end-to-end test once asserted.
const target = 0.2

// window is one window of the server's CPU.
type window struct {
	wall, cpu  time.Duration // the window's length and the server's CPU time in it
	loadBefore string
	loadAfter  string
}

// share is the server's CPU time over the window, as a share of one core.
func (w window) share() float64 {
	if w.wall <= 0 {
		return 0
	}
	return float64(w.cpu) / float64(w.wall)
}

// result is everything one run measured.
type result struct {
	nproc     int
	goVersion string
	commit    string
	load      string // before the run
	serving   window
	looping   window
	starts    int    // of the service, in the looping window
	incident  string // the crash's incident
}

// pct formats a share of one core as a percentage.
func pct(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) }

// markdown renders the report.
func (r *result) markdown() string {
	var b strings.Builder
	b.WriteString("## Crash loop\n\n")
	fmt.Fprintf(&b, "One tenant of the ledger whose `%s` service serves on its first start and exits 4 at once on every later one; `stamp server` with its defaults and `--incident-grace 1s`, SQLite store, local driver. The server process's utime+stime (`/proc/<pid>/stat`) over a window in which the bench sends it nothing, as a share of one core: first while the tenant serves, then from the moment its incident (%s) showed the crash, after the bench killed the serving process.\n\n", service, r.incident)
	b.WriteString("| window | length | server CPU | share of one core | starts | load before | load after |\n|---|--:|--:|--:|--:|---|---|\n")
	fmt.Fprintf(&b, "| serving | %.1f s | %s | %s | | %s | %s |\n", r.serving.wall.Seconds(), benchkit.MS(r.serving.cpu), pct(r.serving.share()), r.serving.loadBefore, r.serving.loadAfter)
	fmt.Fprintf(&b, "| crash-looping | %.1f s | %s | %s | %d | %s | %s |\n", r.looping.wall.Seconds(), benchkit.MS(r.looping.cpu), pct(r.looping.share()), r.starts, r.looping.loadBefore, r.looping.loadAfter)
	fmt.Fprintf(&b, "| crash loop less serving | | | %s | | | |\n\n", pct(r.looping.share()-r.serving.share()))
	verdict := "met"
	if r.looping.share() >= target {
		verdict = "missed"
	}
	fmt.Fprintf(&b, "Target: the server under %s of one core while its tenant crash-loops: %s (%s). The driver's restart backoff doubles from 100 ms to 30 s, so the loop's first minute has about nine starts; a tight loop would make thousands.\n\n",
		pct(target), verdict, pct(r.looping.share()))
	b.WriteString("| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| commit | %s |\n", r.commit)
	fmt.Fprintf(&b, "| CPUs (`nproc`) | %d |\n", r.nproc)
	fmt.Fprintf(&b, "| load average (1, 5, 15 min) before the run | %s |\n", r.load)
	fmt.Fprintf(&b, "| Go | %s |\n", r.goVersion)
	return b.String()
}
