package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bench/internal/benchkit"
	"github.com/stamphq/stamp/httpapi"
)

// tenantNet is the server's --tenant-net with -isolated: its default,
// which cleanup sweeps.
const tenantNet = "100.64.0.0/10"

// warmName is the tenant of the warm plan, which never sleeps.
const warmName = "warm"

// bench holds what one run built and started.
type bench struct {
	cfg    config
	log    io.Writer // progress
	root   string    // module root
	tmp    string    // everything the run writes lives here
	ledger string    // the app's binary, for the floor
	srv    *benchkit.Server
	bp     string    // the blueprint the tenants use
	floors *floorSet // hand-started ledger processes
}

// newBench finds the module root and makes the run's temporary directory.
func newBench(ctx context.Context, cfg config, log io.Writer) (*bench, error) {
	root, err := benchkit.ModuleRoot(ctx)
	if err != nil {
		return nil, err
	}
	tmp, err := benchkit.TempDir("stamp-bench-sleep-")
	if err != nil {
		return nil, err
	}
	// A server run as root with isolation gives each tenant a user of its
	// own, which must pass through to the data dir.
	if err := os.Chmod(tmp, 0o711); err != nil {
		return nil, errors.Join(fmt.Errorf("let tenants' users through %s: %w", tmp, err), benchkit.RemoveAll(tmp))
	}
	return &bench{cfg: cfg, log: log, root: root, tmp: tmp, floors: newFloorSet()}, nil
}

// measure sets up and takes every figure of the report, in order.
func (b *bench) measure(ctx context.Context) (*result, error) {
	res := &result{cfg: b.cfg, nproc: runtime.NumCPU(), cpuModel: benchkit.CPUModel(), goVersion: runtime.Version(),
		commit: benchkit.Commit(ctx, b.root), loadBefore: benchkit.LoadAverage()}
	var err error
	if res.serverFlags, err = b.setUp(ctx); err != nil {
		return nil, err
	}
	if res.atRest, err = b.held(ctx); err != nil {
		return nil, err
	}
	if err := b.create(ctx, warmName, "warm"); err != nil {
		return nil, err
	}
	b.progress("router latency with 1 route: %d requests", b.cfg.requests)
	if res.oneRoute, err = b.routerLatency(ctx); err != nil {
		return nil, err
	}
	if res.fleet, err = b.createFleet(ctx); err != nil {
		return nil, err
	}
	if res.fellAsleep, err = b.waitAllAsleep(ctx); err != nil {
		return nil, err
	}
	b.progress("router latency with %d routes: %d requests", b.cfg.n+1, b.cfg.requests)
	if res.allRoutes, err = b.routerLatency(ctx); err != nil {
		return nil, err
	}
	if res.quiet, err = b.quietWindow(ctx); err != nil {
		return nil, err
	}
	if res.cold, err = b.coldStarts(ctx); err != nil {
		return nil, err
	}
	if res.wake, err = b.breakdown(ctx, res.cold); err != nil {
		return nil, err
	}
	m, err := b.scrape(ctx)
	if err != nil {
		return nil, err
	}
	res.wakes = m.histogram("stamp_router_wake_seconds", `outcome="woke"`)
	res.failedWakes = m.histogram("stamp_router_wake_seconds", `outcome="failed"`).count
	if res.end, err = b.held(ctx); err != nil {
		return nil, err
	}
	res.loadAfter = benchkit.LoadAverage()
	return res, nil
}

// setUp builds stamp and the ledger, writes the sleeping blueprint,
// starts the server and pushes the blueprint. It returns the server's
// flags beyond its data dir and addresses.
func (b *bench) setUp(ctx context.Context) ([]string, error) {
	b.progress("build stamp and the ledger")
	l, err := benchkit.BuildLedgers(ctx, b.root, filepath.Join(b.tmp, "build"))
	if err != nil {
		return nil, err
	}
	dir := l.Blueprints[len(l.Blueprints)-1] // ledger@2.0.0
	b.ledger = filepath.Join(dir, "bin", "ledger")
	if err := writeSleepyBlueprint(filepath.Join(dir, "stamp.yaml"), b.cfg.idle); err != nil {
		return nil, err
	}
	// Every tenant keeps its port asleep: a block for all of them and
	// some slack, below the kernel's ephemeral ports (32768 on) and
	// apart from the server's default block when it fits.
	size := b.cfg.n + max(b.cfg.n/10, 100)
	hi := 32767 - rand.IntN(max(32768-20000-size, 1))
	lo := hi - size + 1
	if lo < 1024 {
		return nil, fmt.Errorf("-n %d: no block of %d tenant ports fits below 32768", b.cfg.n, size)
	}
	flags := []string{"--idle-check", "200ms", "--ports", fmt.Sprintf("%d-%d", lo, hi)}
	if !b.cfg.isolated {
		flags = append(flags, "--tenant-uids", "none", "--tenant-cgroups", "none", "--tenant-net", "none")
	}
	b.progress("start stamp server %v", flags)
	srv, err := benchkit.StartServer(ctx, l.Stamp, filepath.Join(b.tmp, "data"), filepath.Join(b.tmp, "server.log"), flags...)
	b.srv = srv // even on failure, so cleanup kills what did start
	if err != nil {
		return nil, err
	}
	if b.bp, err = srv.Push(ctx, dir); err != nil {
		return nil, err
	}
	return flags, nil
}

// create asks for tenant name of plan and polls it through the API (not
// the router, which would count as traffic) until it is ready, or asleep
// already.
func (b *bench) create(ctx context.Context, name, plan string) error {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.timeout)
	defer cancel()
	if _, err := b.srv.Client.CreateTenant(ctx, httpapi.CreateTenantRequest{Name: name, Blueprint: b.bp, Plan: plan}); err != nil {
		return fmt.Errorf("create tenant %s: %w", name, err)
	}
	return b.waitServing(ctx, name)
}

// pollEvery is how often a tenant being created is asked for.
const pollEvery = 25 * time.Millisecond

// waitServing polls tenant name until it is ready or sleeping, and fails
// at once if it failed or the server exited.
func (b *bench) waitServing(ctx context.Context, name string) error {
	for {
		t, err := b.srv.Client.GetTenant(ctx, name)
		if err != nil {
			return fmt.Errorf("wait for tenant %s: %w", name, err)
		}
		switch {
		case t.Ready(), t.Status.Phase == stamp.PhaseSleeping:
			return nil
		case t.Status.Phase == stamp.PhaseFailed:
			return fmt.Errorf("tenant %s failed at step %s: %s", name, t.Status.FailedStep, t.Status.Message)
		}
		if err := b.srv.Alive(); err != nil {
			return err
		}
		if err := benchkit.Sleep(ctx, pollEvery); err != nil {
			return fmt.Errorf("wait for tenant %s (phase %s): %w", name, t.Status.Phase, err)
		}
	}
}

// cleanup kills the server, its tenants' processes and the floor's, by
// pid, removes what an isolated server's driver keeps on the host, and
// the temporary directory.
func (b *bench) cleanup() error {
	var errs []error
	if b.srv != nil {
		errs = append(errs, b.srv.Stop())
		if b.cfg.isolated {
			_, err := benchkit.SweepHost(b.srv.Data, tenantNet, true)
			errs = append(errs, err)
		}
	}
	b.floors.killAll()
	errs = append(errs, benchkit.RemoveAll(b.tmp))
	return errors.Join(errs...)
}

// progress writes one line of progress to the run's log.
func (b *bench) progress(format string, args ...any) { benchkit.Progress(b.log, format, args...) }
