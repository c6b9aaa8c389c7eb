package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stamphq/stamp/bench/internal/benchkit"
	"github.com/stamphq/stamp/httpapi"
)

// quiet is how long the server must send no write before the fleet's
// count ends: the last tenants' retire follows their tenant.ready.
const quiet = 3 * time.Second

// measure creates the lone tenants and the fleet, runs the idle and
// restart windows, and reads the figures.
func (b *bench) measure(ctx context.Context) (*report, error) {
	rep := &report{cfg: b.cfg, cluster: b.cl.version, loadBefore: benchkit.LoadAverage()}
	totalsBefore, err := b.cl.requestTotals(ctx)
	if err != nil {
		return nil, err
	}
	asked := map[string]time.Time{}
	lone, fleet := names("lone", b.cfg.lone), names("t", b.cfg.n)
	b.progress("create %d lone tenants one after another", len(lone))
	for _, name := range lone {
		asked[name] = time.Now()
		if err := b.create(ctx, name); err != nil {
			return nil, err
		}
		if err := b.waitReady(ctx, []string{name}); err != nil {
			return nil, err
		}
	}
	// The last lone tenant's retire follows its tenant.ready: it is not
	// the fleet's.
	if err := b.settle(ctx); err != nil {
		return nil, err
	}

	b.progress("create %d tenants, %d API calls at once", len(fleet), b.cfg.concurrency)
	before, err := b.openWindow("fleet: first create to the last write")
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.cfg.concurrency)
	for _, name := range fleet {
		g.Go(func() error {
			at := time.Now()
			mu.Lock()
			asked[name] = at
			mu.Unlock()
			return b.create(gctx, name)
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := b.waitReady(ctx, fleet); err != nil {
		return nil, err
	}
	if err := b.settle(ctx); err != nil {
		return nil, err
	}
	fleetWin, err := b.closeWindow(before)
	if err != nil {
		return nil, err
	}
	// The window ends when the quiet began, not after it.
	fleetWin.length = b.px.lastWrite().Sub(fleetWin.start)
	if rep.memFleet, err = b.memory(); err != nil {
		return nil, err
	}

	b.progress("leave the server idle for %s", b.cfg.idle)
	idle, err := b.idleWindow(ctx, "idle: serving, nothing asked", false)
	if err != nil {
		return nil, err
	}
	b.progress("kill and restart the server, then leave it idle for %s", b.cfg.idle)
	restart, err := b.idleWindow(ctx, "restart: killed, started, idle", true)
	if err != nil {
		return nil, err
	}
	if rep.memRestart, err = b.memory(); err != nil {
		return nil, err
	}
	rep.windows = []window{fleetWin, idle, restart}
	if err := b.waitReady(ctx, append(lone, fleet...)); err != nil {
		return nil, fmt.Errorf("after the restart: %w", err)
	}
	rep.loadAfter = benchkit.LoadAverage()

	totalsAfter, err := b.cl.requestTotals(ctx)
	if err != nil {
		return nil, err
	}
	rep.apiApplies = appliesBetween(totalsBefore, totalsAfter)
	b.progress("read the event log")
	events, err := b.srv.AllEvents(ctx)
	if err != nil {
		return nil, err
	}
	objects := b.tr.objects()
	all, _ := b.px.snapshot()
	rep.proxyApplies = all.sum(func(k countKey) bool { return k.verb == "apply" })
	rep.lone, err = tenantTimesOf(lone, asked, objects, events)
	if err != nil {
		return nil, err
	}
	rep.fleet, err = tenantTimesOf(fleet, asked, objects, events)
	if err != nil {
		return nil, err
	}
	rep.retries = retriesOf(events)
	rep.fleetRequests, rep.fleetFailed = fleetWin.all.only(fleet), fleetWin.failed.only(fleet)
	rep.wall = lastReady(rep.fleet).Sub(fleetWin.start)
	return rep, nil
}

// names returns prefix-0001, prefix-0002, ...
func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%04d", prefix, i+1)
	}
	return out
}

// create asks the server for tenant name.
func (b *bench) create(ctx context.Context, name string) error {
	if _, err := b.srv.Client.CreateTenant(ctx, httpapi.CreateTenantRequest{Name: name, Blueprint: blueprintName}); err != nil {
		return fmt.Errorf("create tenant %s: %w", name, err)
	}
	return nil
}

// waitReady waits until every one of tenants is ready (see
// benchkit.Server.WaitReady): briskly for one, which the lone figures
// time, and every 250 ms for the fleet, whose list holds hundreds.
func (b *bench) waitReady(ctx context.Context, tenants []string) error {
	every := 20 * time.Millisecond
	if len(tenants) > 1 {
		every = 250 * time.Millisecond
	}
	return b.srv.WaitReady(ctx, tenants, every, func(ready, total int) { b.progress("  %d of %d ready", ready, total) })
}

// settle waits, for at most two minutes, until the server has written
// nothing for quiet.
func (b *bench) settle(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return b.px.waitQuiet(ctx, quiet)
}

// openWindow starts a window of counting: the proxy's counts and the
// server's CPU now.
func (b *bench) openWindow(name string) (window, error) {
	w := window{name: name, start: time.Now()}
	w.all, w.failed = b.px.snapshot()
	var err error
	w.cpu, err = b.srv.CPU()
	return w, err
}

// closeWindow ends the window opened as before: what was counted since.
// A server restarted in the window has counted its CPU from its start.
func (b *bench) closeWindow(before window) (window, error) {
	w := window{name: before.name, start: before.start, length: time.Since(before.start)}
	all, failed := b.px.snapshot()
	w.all, w.failed = all.sub(before.all), failed.sub(before.failed)
	cpu, err := b.srv.CPU()
	w.cpu = cpu - before.cpu
	return w, err
}

// idleWindow counts the server's requests over -idle in which the bench
// asks nothing of it; with restart, from just before it kills the
// server and starts it again.
func (b *bench) idleWindow(ctx context.Context, name string, restart bool) (window, error) {
	w, err := b.openWindow(name)
	if err != nil {
		return w, err
	}
	if restart {
		b.srv.Kill()
		w.cpu = 0 // the new process counts from its start
		if err := b.srv.Restart(ctx); err != nil {
			return w, err
		}
	}
	select {
	case <-ctx.Done():
		return w, ctx.Err()
	case <-b.srv.Exited():
		return w, b.srv.Alive()
	case <-time.After(b.cfg.idle):
	}
	return b.closeWindow(w)
}

// memory reads the server's resident memory now and its peak.
func (b *bench) memory() (memory, error) {
	var m memory
	var err error
	if m.rssKiB, err = benchkit.RSSKiB(b.srv.PID()); err != nil {
		return m, err
	}
	m.peakKiB, err = benchkit.PeakRSSKiB(b.srv.PID())
	return m, err
}

// appliesBetween is how many server-side applies to the kinds the
// driver writes the API server answered between two readings of its
// totals. (kwok applies too: PersistentVolumes.)
func appliesBetween(before, after map[verbResource]float64) int {
	n := 0.0
	for k, v := range after {
		if k.verb == "APPLY" && resourceOrder(k.resource) >= 0 {
			n += v - before[k]
		}
	}
	return int(n)
}
