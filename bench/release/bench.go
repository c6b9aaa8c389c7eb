package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bench/internal/benchkit"
	"github.com/stamphq/stamp/httpapi"
	"golang.org/x/sync/errgroup"
)

const (
	// maxFleet bounds -sizes: the tenant port block must fit below the
	// kernel's ephemeral ports.
	maxFleet = 3000
	// from and to are the versions released: real releases 1 and 2 of
	// the example app.
	from, to = "1.0.0", "2.0.0"
	// benchLabel tells the fleet (which the release selects) from the
	// lone tenants.
	benchLabel = "bench"
	// perTenantMemKiB is what a size needs per tenant before it starts:
	// a ledger process is about 15 MiB resident; the rest is headroom for
	// the new version running beside the old during each upgrade.
	perTenantMemKiB = 24 << 10
	// stuckAfter is how long a release may go without a tenant changing
	// state before the run calls it stuck.
	stuckAfter = 2 * time.Minute
)

// tenantNet is the server's default --tenant-net, which stopServer
// sweeps.
const tenantNet = "100.64.0.0/10"

// bench holds what one run built and started.
type bench struct {
	cfg   config
	log   io.Writer // progress
	root  string    // module root
	tmp   string    // everything the run writes lives here
	stamp string    // the stamp binary
	// blueprints are the directories pushed as ledger@1.0.0 and @2.0.0.
	blueprints []string
	// srv is the server of the size being measured; nil between sizes.
	srv *benchkit.Server
}

// newBench finds the module root and makes the run's temporary directory.
func newBench(ctx context.Context, cfg config, log io.Writer) (*bench, error) {
	root, err := benchkit.ModuleRoot(ctx)
	if err != nil {
		return nil, err
	}
	tmp, err := benchkit.TempDir("stamp-bench-release-")
	if err != nil {
		return nil, err
	}
	// A server run as root gives each tenant a user of its own, which
	// must pass through to the data dir.
	if err := os.Chmod(tmp, 0o711); err != nil {
		return nil, errors.Join(fmt.Errorf("let tenants' users through %s: %w", tmp, err), benchkit.RemoveAll(tmp))
	}
	return &bench{cfg: cfg, log: log, root: root, tmp: tmp}, nil
}

// build compiles stamp and releases 1 and 2 of the ledger, and writes the
// directories to push (benchkit.BuildLedgers).
func (b *bench) build(ctx context.Context) error {
	b.progress("build stamp and ledger releases 1 and 2")
	l, err := benchkit.BuildLedgers(ctx, b.root, b.tmp)
	if err != nil {
		return err
	}
	b.stamp, b.blueprints = l.Stamp, l.Blueprints
	return nil
}

// sizeResult is what one fleet size measured.
type sizeResult struct {
	tenants, singles int
	ports            string // the server's --ports
	setup            time.Duration
	loadBefore       string          // before the lone upgrades
	loadAfter        string          // after the release
	memBefore        benchkit.Memory // every tenant on 1.0.0
	lone             []upgrade
	fleet            []upgrade
	release          *stamp.Release
	wall             time.Duration // release created to finished, server clock
	serverCPU        time.Duration // the server's CPU time over the release
	waves            []wave
	odd              *oddities
	// leaksAfter are tenants not running exactly one process of the new
	// version a drain after the release finished.
	leaksAfter []string
}

// measureSize runs one fleet size on a server of its own and stops it.
func (b *bench) measureSize(ctx context.Context, n int) (_ *sizeResult, err error) {
	res := &sizeResult{tenants: n, singles: b.cfg.singles}
	if err := b.checkMemory(n + b.cfg.singles + b.cfg.maxParallel); err != nil {
		return nil, err
	}
	dir := filepath.Join(b.tmp, fmt.Sprintf("size-%d", n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	res.ports = portBlock(n + b.cfg.singles + 2*b.cfg.maxParallel + 100)
	b.progress("fleet of %d: start stamp server (--ports %s, --drain %s, --workers %d)", n, res.ports, b.cfg.drain, b.cfg.workers)
	srv, err := benchkit.StartServer(ctx, b.stamp, filepath.Join(dir, "data"), filepath.Join(dir, "server.log"),
		"--ports", res.ports, "--drain", b.cfg.drain.String(), "--workers", fmt.Sprint(b.cfg.workers))
	b.srv = srv // set even on failure, so cleanup kills what did start
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := b.stopServer(); cerr != nil && err == nil {
			err = cerr
		}
		if err == nil {
			err = os.RemoveAll(dir)
		}
	}()
	for _, bp := range b.blueprints {
		if _, err := srv.Push(ctx, bp); err != nil {
			return nil, err
		}
	}
	fleet, lone := names("f", n), names("s", b.cfg.singles)
	start := time.Now()
	if err := b.createTenants(ctx, fleet, lone); err != nil {
		return nil, err
	}
	res.setup = time.Since(start)
	if res.memBefore, err = srv.Memory(); err != nil {
		return nil, err
	}
	res.loadBefore = benchkit.LoadAverage()

	asked, err := b.upgradeLone(ctx, lone)
	if err != nil {
		return nil, err
	}
	cpuBefore, err := srv.CPU()
	if err != nil {
		return nil, err
	}
	rel, err := b.release(ctx, n)
	if err != nil {
		return nil, err
	}
	cpuAfter, err := srv.CPU()
	if err != nil {
		return nil, err
	}
	res.serverCPU = cpuAfter - cpuBefore
	res.release, res.wall, res.waves = rel, rel.Status.FinishedAt.Sub(rel.CreatedAt), wavesOf(rel)
	// A release counts a tenant upgraded once its route switched, so the
	// last tenants may still be draining their old version when it ends.
	time.Sleep(b.cfg.drain + time.Second) // whatever was draining has retired by now
	if res.leaksAfter, err = leaks(srv.Data, append(fleet, lone...)); err != nil {
		return nil, err
	}
	res.loadAfter = benchkit.LoadAverage()

	b.progress("fleet of %d: read the event log", n)
	events, err := srv.AllEvents(ctx)
	if err != nil {
		return nil, err
	}
	var oddLone *oddities
	if res.lone, oddLone, err = upgradesOf(events, lone, ""); err != nil {
		return nil, err
	}
	for i := range res.lone {
		res.lone[i].asked = asked[i]
	}
	if res.fleet, res.odd, err = upgradesOf(events, fleet, rel.ID); err != nil {
		return nil, err
	}
	if err := withSlots(res.fleet, rel); err != nil {
		return nil, err
	}
	res.odd.add(oddLone)
	return res, nil
}

// checkMemory refuses a size the machine cannot hold.
func (b *bench) checkMemory(tenants int) error {
	avail, err := benchkit.MemAvailableKiB()
	if err != nil {
		return err
	}
	need := int64(tenants)*perTenantMemKiB + 1<<20
	if avail < need {
		return fmt.Errorf("%d tenants need about %d MiB and the machine has %d MiB available; run smaller -sizes", tenants, need>>10, avail>>10)
	}
	return nil
}

// portBlock returns a random block of n tenant ports in 25000-32767:
// clear of the default block (10000-19999), the end-to-end tests'
// (20000-24999) and the kernel's ephemeral ports (from 32768).
func portBlock(n int) string {
	lo := 25000 + rand.IntN(32768-25000-n+1)
	return fmt.Sprintf("%d-%d", lo, lo+n-1)
}

// names returns prefix-0001, prefix-0002, ...
func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%04d", prefix, i+1)
	}
	return out
}

// createTenants creates the fleet and the lone tenants on the old
// version, 16 API calls at a time, and waits until every one is ready.
func (b *bench) createTenants(ctx context.Context, fleet, lone []string) error {
	total := len(fleet) + len(lone)
	b.progress("create %d tenants on %s (setup, not measured)", total, from)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for group, tenants := range map[string][]string{"fleet": fleet, "lone": lone} {
		for _, name := range tenants {
			g.Go(func() error {
				_, err := b.srv.Client.CreateTenant(gctx, httpapi.CreateTenantRequest{
					Name: name, Blueprint: "ledger", Version: from, Labels: map[string]string{benchLabel: group}})
				if err != nil {
					return fmt.Errorf("create tenant %s: %w", name, err)
				}
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return b.srv.WaitReady(ctx, append(slices.Clone(fleet), lone...), 500*time.Millisecond, func(ready, total int) { b.progress("  %d of %d ready", ready, total) })
}

// upgradeLone upgrades each lone tenant to the new version through the
// API, one after another, waiting until each serves it. It returns when
// each was asked: just before its API call.
func (b *bench) upgradeLone(ctx context.Context, lone []string) ([]time.Time, error) {
	b.progress("upgrade %d lone tenants one at a time", len(lone))
	asked := make([]time.Time, len(lone))
	for i, name := range lone {
		asked[i] = time.Now()
		if _, err := b.srv.Client.UpgradeTenant(ctx, name, to); err != nil {
			return nil, fmt.Errorf("upgrade %s: %w", name, err)
		}
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err := b.waitUpgraded(wctx, name)
		cancel()
		if err != nil {
			return nil, err
		}
	}
	return asked, nil
}

// waitUpgraded polls tenant name until its upgrade has ended; an upgrade
// that did not succeed is an error.
func (b *bench) waitUpgraded(ctx context.Context, name string) error {
	for {
		t, err := b.srv.Client.GetTenant(ctx, name)
		if err != nil {
			return fmt.Errorf("get tenant %s: %w", name, err)
		}
		if u := t.Status.Upgrade; u != nil && u.To == to && u.Result != "" {
			if u.Result != stamp.UpgradeSucceeded || t.Status.Version != to {
				return fmt.Errorf("upgrade of %s: %s at step %s: %s", name, u.Result, u.FailedStep, u.Message)
			}
			return nil
		}
		if err := benchkit.Sleep(ctx, 20*time.Millisecond); err != nil {
			return fmt.Errorf("wait for the upgrade of %s (phase %s): %w", name, t.Status.Phase, err)
		}
	}
}

// release rolls the new version over the fleet in waves 1, 10%, 100%
// with no soak and waits until the release ends. A release that pauses
// (a failed gate) or stops moving is an error that says where it stands.
func (b *bench) release(ctx context.Context, n int) (*stamp.Release, error) {
	b.progress("fleet of %d: release %s in waves 1,10%%,100%%, max parallel %d", n, to, b.cfg.maxParallel)
	rel, err := b.srv.Client.CreateRelease(ctx, httpapi.CreateReleaseRequest{
		Blueprint: "ledger", Version: to, Selector: map[string]string{benchLabel: "fleet"},
		Waves:       []stamp.Wave{{Count: 1}, {Percent: 10}, {Percent: 100}},
		MaxParallel: b.cfg.maxParallel, Soak: new(stamp.Duration), OnFailure: stamp.OnFailurePause,
	})
	if err != nil {
		return nil, fmt.Errorf("create release: %w", err)
	}
	if len(rel.Status.Tenants) != n {
		return nil, fmt.Errorf("release %s targets %d tenants, want the fleet's %d", rel.ID, len(rel.Status.Tenants), n)
	}
	lastChange, lastNote, lastStates := time.Now(), time.Now(), ""
	for {
		if err := b.srv.Alive(); err != nil {
			return nil, err
		}
		r, err := b.srv.Client.Release(ctx, rel.ID)
		if err != nil {
			return nil, fmt.Errorf("get release %s: %w", rel.ID, err)
		}
		if r.Finished() || r.Status.State == stamp.ReleasePaused {
			if r.Status.State != stamp.ReleaseSucceeded {
				return nil, fmt.Errorf("release %s ended %s: %s\n%s", r.ID, r.Status.State, r.Status.Message, stateSummary(r))
			}
			return r, nil
		}
		if states := stateSummary(r); states != lastStates {
			lastStates, lastChange = states, time.Now()
		}
		if time.Since(lastNote) > 5*time.Second {
			b.progress("  wave %d: %s", r.Status.Wave+1, lastStates)
			lastNote = time.Now()
		}
		if time.Since(lastChange) > stuckAfter {
			return nil, fmt.Errorf("release %s stuck: no tenant changed state for %s; wave %d, %s\n%s",
				r.ID, stuckAfter, r.Status.Wave+1, lastStates, b.stuckDetail(ctx, r))
		}
		if err := benchkit.Sleep(ctx, 100*time.Millisecond); err != nil {
			return nil, fmt.Errorf("wait for release %s (wave %d, %s): %w\n%s", r.ID, r.Status.Wave+1, lastStates, err, b.stuckDetail(context.Background(), r))
		}
	}
}

// stateSummary counts the release's tenants by state, in a fixed order.
func stateSummary(r *stamp.Release) string {
	counts := map[string]int{}
	for _, rt := range r.Status.Tenants {
		counts[rt.State]++
	}
	var parts []string
	for _, s := range []string{stamp.ReleaseTenantPending, stamp.ReleaseTenantUpgrading, stamp.ReleaseTenantUpgraded,
		stamp.ReleaseTenantFailed, stamp.ReleaseTenantSkipped, stamp.ReleaseTenantRollingBack, stamp.ReleaseTenantRolledBack} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	return strings.Join(parts, ", ")
}

// stuckDetail describes the tenants a release is waiting for: their
// status and their last events, for a bug report.
func (b *bench) stuckDetail(ctx context.Context, r *stamp.Release) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var sb strings.Builder
	shown := 0
	for _, rt := range r.Status.Tenants {
		if rt.State != stamp.ReleaseTenantUpgrading || shown == 3 {
			continue
		}
		shown++
		fmt.Fprintf(&sb, "tenant %s: release says %s since %s (generation %d)\n", rt.Name, rt.State, rt.StartedAt.Format(time.RFC3339Nano), rt.Generation)
		if t, err := b.srv.Client.GetTenant(ctx, rt.Name); err == nil {
			fmt.Fprintf(&sb, "  status: phase %s, generation %d observed %d, spec %s, serving %s, upgrade %+v\n",
				t.Status.Phase, t.Generation, t.Status.ObservedGeneration, t.Spec.Version, t.Status.Version, t.Status.Upgrade)
		}
		if events, err := b.srv.Client.Events(ctx, stamp.EventFilter{Tenant: rt.Name, Limit: 1000}); err == nil {
			for _, e := range events[max(0, len(events)-12):] {
				fmt.Fprintf(&sb, "  %s %s %s %s %s\n", e.Time.Format("15:04:05.000"), e.Type, e.Step, e.Status, e.Message)
			}
		}
	}
	return sb.String()
}

// leaks lists the tenants that do not run exactly one process, of the new
// version's web service.
func leaks(data string, tenants []string) ([]string, error) {
	procs, err := benchkit.TenantProcs(data)
	if err != nil {
		return nil, err
	}
	byTenant := map[string][]string{}
	for _, p := range procs {
		byTenant[p.Tenant] = append(byTenant[p.Tenant], fmt.Sprintf("%s (pid %d)", p.ID, p.PID))
	}
	var out []string
	for _, name := range tenants {
		ids := byTenant[name]
		if len(ids) != 1 || !strings.HasPrefix(ids[0], "web-0@"+to+" ") {
			out = append(out, fmt.Sprintf("%s runs %v", name, ids))
		}
	}
	return out, nil
}

// stopServer kills the current server and every tenant process of its
// data dir, and removes what its driver keeps on the host (network
// namespaces, nftables table, cgroups).
func (b *bench) stopServer() error {
	if b.srv == nil {
		return nil
	}
	err := b.srv.Stop()
	_, serr := benchkit.SweepHost(b.srv.Data, tenantNet, true)
	b.srv = nil
	return errors.Join(err, serr)
}

// cleanup stops whatever server is running, its tenants, and removes the
// temporary directory.
func (b *bench) cleanup() error {
	return errors.Join(b.stopServer(), benchkit.RemoveAll(b.tmp))
}

// progress writes one line of progress to the run's log.
func (b *bench) progress(format string, args ...any) { benchkit.Progress(b.log, format, args...) }
