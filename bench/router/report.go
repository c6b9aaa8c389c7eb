package main

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// machine is what the report says about where it ran.
type machine struct {
	nproc       int
	cpu         string // model name from /proc/cpuinfo
	memTotalKiB int64
	kernel      string
	goVersion   string
	commit      string
}

// cpuModel returns the first model name in /proc/cpuinfo, or "unknown".
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	return modelName(string(b))
}

// modelName returns the first "model name" of a /proc/cpuinfo, or
// "unknown".
func modelName(cpuinfo string) string {
	for line := range strings.SplitSeq(cpuinfo, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// cell is one measured load: a front at a connection count.
type cell struct {
	front  string
	conns  int
	routes int // of the route-table cells; 0 in the grid
	res    *loadResult
	// cpu is the proxy's CPU time (user+system) over the measured load;
	// 0 for direct.
	cpu time.Duration
}

// report is everything one run prints.
type report struct {
	cfg     config
	machine machine
	nginx   string // its version and workers; empty when not measured
	noNginx string // why not
	cells   []cell // the grid, in the order measured
	routes  []cell // 1 route, then cfg.routes
	// loadBefore and loadAfter are /proc/loadavg at the start and end of
	// the measurement: on a shared machine they say how quiet it was.
	loadBefore, loadAfter string
}

// Targets of issue 15: router throughput at least 0.9x nginx's, p99
// within 1.2x; with 10,000 routes, p50 and p99 within 10% of 1 route's.
const (
	targetRate   = 0.9
	targetP99    = 1.2
	targetRoutes = 1.1
)

// markdown renders the report.
func (r *report) markdown() string {
	var b strings.Builder
	m := r.machine
	fmt.Fprintf(&b, "Machine: %d CPUs (%s), %.1f GiB memory, kernel %s, %s; commit %s.", m.nproc, m.cpu, float64(m.memTotalKiB)/(1<<20), m.kernel, m.goVersion, m.commit)
	if r.nginx != "" {
		fmt.Fprintf(&b, " nginx: %s.", r.nginx)
	}
	fmt.Fprintf(&b, " Load average (1, 5, 15 min) before: %s; after: %s.\n\n", r.loadBefore, r.loadAfter)
	if r.noNginx != "" {
		fmt.Fprintf(&b, "nginx: skipped (%s).\n\n", r.noNginx)
	}
	fmt.Fprintf(&b, "`GET %s` of one ledger instance, %s per cell in %d slices, the fronts taking turns, after %s of warm-up:\n\n", path, r.cfg.window, r.cfg.blocks, r.cfg.warmup)
	b.WriteString("| connections | front | requests/s | p50 | p99 | failed | proxy CPU per request |\n")
	b.WriteString("|--:|---|--:|--:|--:|--:|--:|\n")
	for _, conns := range r.cfg.conns {
		for _, name := range frontOrder {
			if c := r.cell(name, conns); c != nil {
				fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s |\n", conns, name, rate(c), ms(c, 50), ms(c, 99), thousands(int(c.res.failed)), cpuPer(c))
			}
		}
	}
	r.writeFailures(&b, r.cells)
	if r.nginx != "" {
		fmt.Fprintf(&b, "\nEach Go front / nginx (targets for Stamp's router: requests/s at least %.2fx, p99 at most %.2fx):\n\n", targetRate, targetP99)
		r.writeRatios(&b, []string{viaRouter, viaStampRouter, viaBare, viaBareFlush, viaFast}, viaNginx)
	}
	b.WriteString("\nEach front / the bare Go proxy (what it costs beyond net/http's stack; for fasthttp's, what another stack saves):\n\n")
	r.writeRatios(&b, []string{viaRouter, viaStampRouter, viaBareFlush, viaFast}, viaBare)
	if len(r.routes) == 2 {
		one, many := r.routes[0], r.routes[1]
		fmt.Fprintf(&b, "\nRoute table: `stamp router` over a store of %s tenant and another over %s (the measured one and %s ready tenants sent no request), %d connections, %s each in %d slices, taking turns, after %s of warm-up:\n\n",
			thousands(one.routes), thousands(many.routes), thousands(many.routes-1), many.conns, r.cfg.routesWindow, r.cfg.blocks, r.cfg.warmup)
		b.WriteString("| routes | requests/s | p50 | p99 | failed | router CPU per request |\n")
		b.WriteString("|--:|--:|--:|--:|--:|--:|\n")
		for _, c := range r.routes {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", thousands(c.routes), rate(&c), ms(&c, 50), ms(&c, 99), thousands(int(c.res.failed)), cpuPer(&c))
		}
		fmt.Fprintf(&b, "| %s / %s | %s | %s | %s | | %s |\n", thousands(many.routes), thousands(one.routes),
			floatRatio(many.res.rate(), one.res.rate()), pctRatio(&many, &one, 50), pctRatio(&many, &one, 99), cpuRatio(&many, &one))
		r.writeFailures(&b, r.routes)
		fmt.Fprintf(&b, "\nTarget: p50 and p99 with %s routes at most %.2fx those with 1.\n", thousands(many.routes), targetRoutes)
	}
	return b.String()
}

// writeRatios writes a table of each of fronts over base, at every
// connection count both were measured at.
func (r *report) writeRatios(b *strings.Builder, fronts []string, base string) {
	b.WriteString("| connections | front | requests/s | p50 | p99 | CPU per request |\n")
	b.WriteString("|--:|---|--:|--:|--:|--:|\n")
	for _, conns := range r.cfg.conns {
		for _, name := range fronts {
			c, of := r.cell(name, conns), r.cell(base, conns)
			if c == nil || of == nil {
				continue
			}
			fmt.Fprintf(b, "| %d | %s | %s | %s | %s | %s |\n", conns, name,
				floatRatio(c.res.rate(), of.res.rate()), pctRatio(c, of, 50), pctRatio(c, of, 99), cpuRatio(c, of))
		}
	}
}

// cell returns the grid's cell of front at conns, nil if not measured.
func (r *report) cell(front string, conns int) *cell {
	for i := range r.cells {
		if c := &r.cells[i]; c.front == front && c.conns == conns {
			return c
		}
	}
	return nil
}

// writeFailures notes the first failure of every cell that had any.
func (r *report) writeFailures(b *strings.Builder, cells []cell) {
	for _, c := range cells {
		if c.res.failed > 0 {
			fmt.Fprintf(b, "\n%s, %d connections: %s failed; the first: %s.\n", c.front, c.conns, thousands(int(c.res.failed)), c.res.firstFailure)
		}
	}
}

// rate formats a cell's requests per second.
func rate(c *cell) string { return thousands(int(math.Round(c.res.rate()))) }

// routesFront names the `stamp router` over a store of routes tenants.
func routesFront(routes int) string {
	if routes == 1 {
		return "stamp router with 1 route"
	}
	return "stamp router with " + thousands(routes) + " routes"
}

// thousands formats n with commas between groups of three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// ms formats a cell's p-th percentile latency in milliseconds, to the
// hundredth: loopback latencies are fractions of one.
func ms(c *cell, p float64) string {
	return fmt.Sprintf("%.2f ms", float64(c.res.hist.percentile(p))/float64(time.Millisecond))
}

// cpuPer formats a proxy's CPU time per answer in microseconds, or ""
// for direct.
func cpuPer(c *cell) string {
	if c.cpu == 0 || c.res.ok == 0 {
		return ""
	}
	return fmt.Sprintf("%.0f µs", float64(c.cpu)/float64(time.Microsecond)/float64(c.res.ok))
}

// floatRatio formats a/b as "1.23x", or "-" when b is 0.
func floatRatio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

// pctRatio formats the ratio of a's and b's p-th percentiles.
func pctRatio(a, b *cell, p float64) string {
	return benchkit.Ratio(a.res.hist.percentile(p), b.res.hist.percentile(p))
}

// cpuRatio formats the ratio of a's and b's CPU per answer.
func cpuRatio(a, b *cell) string {
	if a.res.ok == 0 || b.res.ok == 0 {
		return "-"
	}
	return floatRatio(float64(a.cpu)/float64(a.res.ok), float64(b.cpu)/float64(b.res.ok))
}
