package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/stamphq/stamp/bench/internal/benchkit"
	"golang.org/x/sync/errgroup"
)

// tenantNet is the server's --tenant-net with -isolation host: its
// default, which cleanup sweeps.
const tenantNet = "100.64.0.0/10"

// bench holds what one run built and started.
type bench struct {
	cfg    config
	log    io.Writer // progress
	root   string    // module root
	tmp    string    // everything the run writes lives here
	bin    string    // built binaries
	stamp  string    // the stamp binary
	ledger string    // the example app's binary
	// floor starts the app by hand; its DB is nil until set up.
	floor  *benchkit.Floor
	server *server // nil until started
	// pg is the PostgreSQL cluster of -engine postgres; nil until started.
	pg *benchkit.Cluster
	// pgFloor makes the floor's databases on pg; nil for sqlite.
	pgFloor *benchkit.PostgresFloor

	floorN  atomic.Int64 // floor samples taken, for their directories
	tenantN atomic.Int64 // tenants created, for their names
}

// newBench finds the module root and makes the run's temporary directory.
func newBench(ctx context.Context, cfg config, log io.Writer) (*bench, error) {
	root, err := benchkit.ModuleRoot(ctx)
	if err != nil {
		return nil, err
	}
	tmp, err := benchkit.TempDir("stamp-bench-")
	if err != nil {
		return nil, err
	}
	// A server run as root gives each tenant a user of its own, which
	// must pass through to the data dir; so must the postgres user to its
	// cluster's.
	if err := os.Chmod(tmp, 0o711); err != nil {
		return nil, errors.Join(fmt.Errorf("let tenants' users through %s: %w", tmp, err), benchkit.RemoveAll(tmp))
	}
	b := &bench{cfg: cfg, log: log, root: root, tmp: tmp, bin: filepath.Join(tmp, "bin")}
	b.stamp = filepath.Join(b.bin, "stamp")
	b.ledger = filepath.Join(b.bin, "ledger")
	b.floor = &benchkit.Floor{Ledger: b.ledger, Dir: filepath.Join(tmp, "floor")}
	return b, nil
}

// setUp builds the binaries, sets up the engine, starts the server and
// pushes the blueprint.
func (b *bench) setUp(ctx context.Context) error {
	for bin, pkg := range map[string]string{b.stamp: "./cmd/stamp", b.ledger: "./examples/ledger"} {
		b.progress("build %s", pkg)
		if err := benchkit.GoBuild(ctx, b.root, "-o", bin, pkg); err != nil {
			return err
		}
	}
	serverArgs, err := b.setUpEngine(ctx)
	if err != nil {
		return err
	}
	if b.cfg.isolation == "none" {
		serverArgs = append(serverArgs, "--tenant-uids", "none", "--tenant-cgroups", "none", "--tenant-net", "none")
	}
	b.progress("start stamp server %v", serverArgs)
	srv, err := benchkit.StartServer(ctx, b.stamp, filepath.Join(b.tmp, "data"), filepath.Join(b.tmp, "server.log"), serverArgs...)
	if srv != nil {
		b.server = &server{Server: srv} // set even on failure, so cleanup kills what did start
	}
	if err != nil {
		return err
	}
	app := apps[b.cfg.engine]
	dir, err := benchkit.BlueprintDir(filepath.Join(b.root, app.dir, "stamp.yaml"), b.ledger, filepath.Join(b.tmp, "blueprint"))
	if err != nil {
		return fmt.Errorf("the %s blueprint: %w", app.name, err)
	}
	if b.cfg.plan == benchkit.BenchPlanName {
		if err := benchkit.AddBenchPlan(filepath.Join(dir, "stamp.yaml")); err != nil {
			return err
		}
	}
	b.server.plan = b.cfg.plan
	b.server.blueprint, err = srv.Push(ctx, dir)
	return err
}

// setUpEngine prepares the floor's databases and returns the server flags
// the engine needs. For postgres it starts a cluster in the temporary
// directory.
func (b *bench) setUpEngine(ctx context.Context) ([]string, error) {
	if b.cfg.engine == "sqlite" {
		b.floor.DB = benchkit.SQLiteFloor{}
		return nil, nil
	}
	b.progress("start PostgreSQL")
	pg, err := benchkit.StartCluster(ctx, b.root, filepath.Join(b.tmp, "pg"))
	b.pg = pg // set even on failure, so cleanup stops what did start
	if err != nil {
		return nil, err
	}
	if b.pgFloor, err = benchkit.NewPostgresFloor(ctx, pg.URL); err != nil {
		return nil, err
	}
	b.floor.DB = postgresFloor{b.pgFloor}
	return []string{"--tenant-postgres", pg.URL}, nil
}

// measure runs both phases, then reads the step breakdown and memory.
func (b *bench) measure(ctx context.Context) (*report, error) {
	rep := &report{engine: b.cfg.engine, isolation: b.cfg.isolation, plan: b.cfg.plan, loadBefore: benchkit.LoadAverage()}
	phases := []phase{
		{name: "sequential", n: b.cfg.sequential, concurrency: 1},
		{name: "parallel", n: b.cfg.parallel, concurrency: b.cfg.concurrency},
	}
	for _, ph := range phases {
		if ph.n == 0 {
			continue
		}
		res, err := b.runPhase(ctx, ph)
		if err != nil {
			return nil, err
		}
		b.progress("read the event log of %s", ph.name)
		if res.steps, err = b.server.breakdown(ctx, res.stamp); err != nil {
			return nil, err
		}
		rep.phases = append(rep.phases, res)
	}
	mem, err := b.server.Memory()
	if err != nil {
		return nil, err
	}
	rep.memory = memoryUse{Memory: mem}
	if b.pgFloor != nil {
		if rep.memory.pgBackends, err = b.pgFloor.Backends(ctx); err != nil {
			return nil, err
		}
	}
	rep.loadAfter = benchkit.LoadAverage()
	return rep, nil
}

// runPhase alternates rounds of floor samples and tenant creations, each
// round at the phase's concurrency, until it has ph.n of each. Rounds keep
// slow drift of the machine (other load, caches) from favouring either.
func (b *bench) runPhase(ctx context.Context, ph phase) (*phaseResult, error) {
	res := &phaseResult{phase: ph, floor: make([]sample, ph.n), stamp: make([]sample, ph.n)}
	cpuBefore, err := b.server.CPU()
	if err != nil {
		return nil, err
	}
	round := 5 * ph.concurrency
	for lo := 0; lo < ph.n; lo += round {
		hi := min(lo+round, ph.n)
		b.progress("%s: samples %d-%d of %d", ph.name, lo+1, hi, ph.n)
		err = pool(ctx, lo, hi, ph.concurrency, func(ctx context.Context, i int) (err error) {
			res.floor[i], err = b.floorSample(ctx, b.floorN.Add(1))
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("%s phase, floor: %w", ph.name, err)
		}
		err = pool(ctx, lo, hi, ph.concurrency, func(ctx context.Context, i int) (err error) {
			res.stamp[i], err = b.server.create(ctx, fmt.Sprintf("b-%d", b.tenantN.Add(1)), b.cfg.timeout)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("%s phase, stamp: %w", ph.name, err)
		}
	}
	cpuAfter, err := b.server.CPU()
	if err != nil {
		return nil, err
	}
	res.serverCPU = cpuAfter - cpuBefore
	return res, nil
}

// pool calls fn for every i in [lo, hi), at most limit at once; the first
// error cancels the rest and is returned.
func pool(ctx context.Context, lo, hi, limit int, fn func(ctx context.Context, i int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for i := lo; i < hi; i++ {
		g.Go(func() error { return fn(ctx, i) })
	}
	return g.Wait()
}

// cleanup kills the server, every tenant process of its data dir and every
// floor process still running, removes what the server's driver keeps on
// the host, stops the cluster, then removes the temporary directory.
func (b *bench) cleanup() error {
	var errs []error
	if b.server != nil {
		errs = append(errs, b.server.Stop())
		_, err := benchkit.SweepHost(b.server.Data, tenantNet, b.cfg.isolation == "host")
		errs = append(errs, err)
	}
	b.floor.KillAll()
	if b.pgFloor != nil {
		b.pgFloor.Close()
	}
	if b.pg != nil {
		errs = append(errs, b.pg.Stop())
	}
	errs = append(errs, benchkit.RemoveAll(b.tmp))
	return errors.Join(errs...)
}

// progress writes one line of progress to the run's log.
func (b *bench) progress(format string, args ...any) { benchkit.Progress(b.log, format, args...) }
