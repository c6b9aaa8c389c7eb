package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// window is what the proxy counted over a stretch of the run.
type window struct {
	name        string
	start       time.Time
	length      time.Duration
	all, failed counts
	cpu         time.Duration // the server's user+system CPU in it
}

// memory is the server's resident memory at one moment.
type memory struct {
	rssKiB  int64 // VmRSS
	peakKiB int64 // VmHWM: the most since the process started
}

// report is everything one run prints.
type report struct {
	cfg                   config
	cluster               string // the API server's version
	loadBefore, loadAfter string
	lone, fleet           []tenantTimes
	// wall is from the fleet's first create to its last tenant.ready.
	wall time.Duration
	// fleetRequests and fleetFailed are the requests in the fleet's
	// tenants' namespaces over the fleet's window, and those refused.
	fleetRequests, fleetFailed counts
	windows                    []window // fleet, idle, restart
	memFleet, memRestart       memory
	// apiApplies is the growth of the API server's own count of applies
	// over the run; proxyApplies the applies the proxy passed.
	apiApplies, proxyApplies int
	retries                  int // tenant.retry events
}

// objectsByResource counts the objects of ts by resource.
func objectsByResource(ts []tenantTimes) map[string]int {
	out := map[string]int{}
	for _, t := range ts {
		for _, o := range t.objects {
			out[o.resource]++
		}
	}
	return out
}

// perTenant returns, sorted, each tenant's sum of count over ts.
func perTenant(ts []tenantTimes, count func(tenantTimes) int) []int {
	out := make([]int, len(ts))
	for i, t := range ts {
		out[i] = count(t)
	}
	slices.Sort(out)
	return out
}

// spread formats sorted ns as "min X, median Y, max Z".
func spread(ns []int) string {
	if len(ns) == 0 {
		return "none"
	}
	return fmt.Sprintf("min %d, median %d, max %d", ns[0], ns[(len(ns)-1)/2], ns[len(ns)-1])
}

// yesNo says whether a target was met.
func yesNo(met bool) string {
	if met {
		return "yes"
	}
	return "no"
}

// markdown renders the report.
func (r *report) markdown() string {
	var b strings.Builder
	c := r.cfg
	hooks := "no hooks"
	if c.hooks {
		hooks = "migrate and seed hooks (a Secret and a Job each)"
	}
	fmt.Fprintf(&b, "Kubernetes %s, the test cluster of `scripts/kube` (etcd in memory, kube-apiserver, controller-manager, scheduler; kwok plays the kubelet, so pods go ready and Jobs complete without running anything). `stamp server --driver kubernetes --kube-qps %g --kube-burst %d --workers %d`, SQLite store, talking to the API server through the bench's counting proxy. Blueprint: one public service (image, port, health check, a generated secret), %s. Load average (1, 5, 15 min) before: %s; after: %s.\n\n",
		r.cluster, c.qps, c.burst, c.workers, hooks, r.loadBefore, r.loadAfter)

	n := max(len(r.fleet), 1)
	floor := 0
	for _, v := range objectsByResource(r.fleet) {
		floor += v
	}
	writes := r.fleetRequests.writes()
	loneP50, fleetP50 := benchkit.Percentile(r.lone, tenantTimes.toApplied, 50), benchkit.Percentile(r.fleet, tenantTimes.toApplied, 50)
	idle, restart := r.windows[1].all.writes(), r.windows[2].all.writes()
	b.WriteString("| target (issue 14) | figure | met |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| API writes per tenant equal to the floor | %.2f writes for %.2f objects | %s |\n",
		float64(writes)/float64(n), float64(floor)/float64(n), yesNo(writes == floor))
	fmt.Fprintf(&b, "| zero writes on an idle resync | idle %d, after a restart %d | %s |\n", idle, restart, yesNo(idle == 0 && restart == 0))
	fmt.Fprintf(&b, "| create-to-applied p50 under 200 ms | lone %s, fleet %s | %s |\n",
		benchkit.MS(loneP50), benchkit.MS(fleetP50), yesNo(loneP50 < 200*time.Millisecond && fleetP50 < 200*time.Millisecond))

	b.WriteString("\nFrom the create call (just before it) to: the first object of the tenant the bench's watch saw; its Deployments, which the start step writes with the first revision's Service (the health step then waits for their pods, the route step switches the Service to them, unchanged on a first create); the last of the objects it has at the end (applied); its `tenant.ready` event. Wall: the fleet's first create to its last `tenant.ready`.\n\n")
	b.WriteString("| tenants | n | wall | first object p50 | deployments p50 | applied p50 | applied p99 | ready p50 | ready p99 |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	type row struct {
		name string
		ts   []tenantTimes
		wall string
	}
	rows := []row{
		{"lone, one after another", r.lone, "-"},
		{fmt.Sprintf("fleet, %d creates at once", c.concurrency), r.fleet, fmt.Sprintf("%.1f s", r.wall.Seconds())},
	}
	figs := []func(tenantTimes) time.Duration{tenantTimes.toFirst, tenantTimes.toWorkloads, tenantTimes.toApplied, tenantTimes.toApplied, tenantTimes.toReady, tenantTimes.toReady}
	pcts := []float64{50, 50, 50, 99, 50, 99}
	for _, rw := range rows {
		fmt.Fprintf(&b, "| %s | %d | %s |", rw.name, len(rw.ts), rw.wall)
		for i, f := range figs {
			fmt.Fprintf(&b, " %s |", benchkit.MS(benchkit.Percentile(rw.ts, f, pcts[i])))
		}
		b.WriteString("\n")
	}
	b.WriteString("| fleet / lone | | |")
	for i, f := range figs {
		fmt.Fprintf(&b, " %s |", benchkit.Ratio(benchkit.Percentile(r.fleet, f, pcts[i]), benchkit.Percentile(r.lone, f, pcts[i])))
	}
	fmt.Fprintf(&b, "\n\nSteps that hit a transient error and ran again (`tenant.retry` events): %d.\n", r.retries)

	r.writeWrites(&b, n, floor)
	r.writeWindows(&b)
	r.writeSteps(&b)
	return b.String()
}

// writeWrites renders the writes per tenant against the floor.
func (r *report) writeWrites(b *strings.Builder, n, floor int) {
	b.WriteString("\n### API writes per tenant (fleet)\n\n")
	b.WriteString("Every request the server sent, counted by the proxy by the tenant whose namespace it names, from the fleet's first create until the server had written nothing for 3 s. The floor is the objects a tenant has at the end, of the kinds the driver writes (listed by the bench's watch on the instance's label): one write each.\n\n")
	objects := objectsByResource(r.fleet)
	writes := counts{}
	for k, v := range r.fleetRequests {
		if isWrite(k.verb) {
			writes[k] = v
		}
	}
	var verbs []string
	for _, v := range writeVerbs {
		if writes.sum(func(k countKey) bool { return k.verb == v }) > 0 {
			verbs = append(verbs, v)
		}
	}
	var resources []string
	for _, g := range kinds {
		resources = append(resources, g.Resource)
	}
	var extra []string
	for k := range writes {
		if !slices.Contains(resources, k.resource) && !slices.Contains(extra, k.resource) {
			extra = append(extra, k.resource)
		}
	}
	slices.Sort(extra)
	resources = append(resources, extra...)

	b.WriteString("| resource | objects (floor) |")
	for _, v := range verbs {
		fmt.Fprintf(b, " %s |", v)
	}
	b.WriteString(" writes | writes / floor |\n|---|--:|" + strings.Repeat("--:|", len(verbs)) + "--:|--:|\n")
	per := func(x int) string { return fmt.Sprintf("%.2f", float64(x)/float64(n)) }
	for _, res := range append(resources, "") {
		of := func(k countKey) bool { return res == "" || k.resource == res }
		obj, wr := objects[res], writes.sum(of)
		name := res
		if res == "" {
			name, obj = "all", floor
		}
		if obj == 0 && wr == 0 {
			continue
		}
		fmt.Fprintf(b, "| %s | %s |", name, per(obj))
		for _, v := range verbs {
			fmt.Fprintf(b, " %s |", per(writes.sum(func(k countKey) bool { return of(k) && k.verb == v })))
		}
		ratio := "-"
		if obj > 0 {
			ratio = fmt.Sprintf("%.2fx", float64(wr)/float64(obj))
		}
		fmt.Fprintf(b, " %s | %s |\n", per(wr), ratio)
	}
	byTenant := func(t tenantTimes) int {
		return writes.sum(func(k countKey) bool { return k.tenant == t.name })
	}
	fmt.Fprintf(b, "\nWrites per tenant: %s. Objects per tenant: %s. Writes refused (an error status): %d.",
		spread(perTenant(r.fleet, byTenant)), spread(perTenant(r.fleet, func(t tenantTimes) int { return len(t.objects) })),
		r.fleetFailed.writes())
	var reads []string
	readKeys := map[string]int{}
	for k, v := range r.fleetRequests {
		if k.verb == "get" || k.verb == "list" {
			readKeys[k.verb+" "+k.resource] += v
		}
	}
	for k, v := range readKeys {
		reads = append(reads, fmt.Sprintf("%s %s", k, per(v)))
	}
	slices.Sort(reads)
	if len(reads) == 0 {
		reads = []string{"none"}
	}
	fmt.Fprintf(b, " Reads per tenant: %s.\n", strings.Join(reads, ", "))
	fmt.Fprintf(b, "\nCross-check over the whole run: the API server's own count of applies to those kinds (`apiserver_request_total{verb=\"APPLY\"}`, every client's) grew by %d; the proxy passed %d.\n",
		r.apiApplies, r.proxyApplies)
}

// writeWindows renders the windows' requests and the server's memory.
func (r *report) writeWindows(b *strings.Builder) {
	b.WriteString("\n### Requests by window\n\n")
	fmt.Fprintf(b, "All the server's requests, tenants' or not. Idle: nothing asked of the server for %s, longer than the reconciler's 30 s resync. Restart: from just before SIGKILL, through the start (its watches list every kind again, and every tenant gets a pass), then %s idle.\n\n", r.cfg.idle, r.cfg.idle)
	fmt.Fprintf(b, "Rate: writes and reads a second, which the server's client holds to --kube-qps %g (bursts of %d aside).\n\n", r.cfg.qps, r.cfg.burst)
	b.WriteString("| window | length | writes | reads (get, list) | rate | watches opened | refused | server CPU |\n|---|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, w := range r.windows {
		rate := 0.0
		if w.length > 0 {
			rate = float64(w.all.writes()+w.all.reads()) / w.length.Seconds()
		}
		fmt.Fprintf(b, "| %s | %.1f s | %d | %d | %.1f/s | %d | %d | %s |\n", w.name, w.length.Seconds(), w.all.writes(), w.all.reads(), rate, w.all.watches(),
			w.failed.sum(func(countKey) bool { return true }), benchkit.MS(w.cpu))
	}
	for _, w := range r.windows {
		if refused := w.failed.byVerbResource(); len(refused) > 0 {
			fmt.Fprintf(b, "\nRefused in %s: %s.\n", w.name, strings.Join(refused, ", "))
		}
	}
	fmt.Fprintf(b, "\nServer memory: after the fleet, RSS %s (peak %s); restarted and idle with every tenant, RSS %s (peak %s).\n",
		benchkit.MiB(r.memFleet.rssKiB), benchkit.MiB(r.memFleet.peakKiB), benchkit.MiB(r.memRestart.rssKiB), benchkit.MiB(r.memRestart.peakKiB))
}

// writeSteps renders where a tenant's time goes.
func (r *report) writeSteps(b *strings.Builder) {
	b.WriteString("\n### Where a tenant's time goes\n\n")
	b.WriteString("Mean per tenant, from the event log (wait: queued to started; work: started to finished):\n\n")
	lone, fleet := stepMeans(r.lone), stepMeans(r.fleet)
	b.WriteString("| step | lone wait | lone work | fleet wait | fleet work |\n|---|--:|--:|--:|--:|\n")
	fmt.Fprintf(b, "| create call to allocate queued | %s | | %s | |\n", benchkit.MS(lone[""].wait), benchkit.MS(fleet[""].wait))
	for _, step := range stepOrder {
		l, lok := lone[step]
		f, fok := fleet[step]
		if !lok && !fok {
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", step, benchkit.MS(l.wait), benchkit.MS(l.work), benchkit.MS(f.wait), benchkit.MS(f.work))
	}
}
