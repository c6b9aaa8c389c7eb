package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// tenantNet is the server's --tenant-net with -isolated: its default,
// which cleanup sweeps.
const tenantNet = "100.64.0.0/10"

// bench holds what one run built and started.
type bench struct {
	cfg   config
	log   io.Writer // progress
	root  string    // module root
	tmp   string    // everything the run writes lives here
	srv   *benchkit.Server
	bp    string          // the blueprint the tenants use
	floor *benchkit.Floor // the app by hand; its Ledger is set once built
}

// newBench finds the module root and makes the run's temporary directory.
func newBench(ctx context.Context, cfg config, log io.Writer) (*bench, error) {
	root, err := benchkit.ModuleRoot(ctx)
	if err != nil {
		return nil, err
	}
	tmp, err := benchkit.TempDir("stamp-bench-pool-")
	if err != nil {
		return nil, err
	}
	// A server run as root with isolation gives each tenant a user of its
	// own, which must pass through to the data dir.
	if err := os.Chmod(tmp, 0o711); err != nil {
		return nil, errors.Join(fmt.Errorf("let tenants' users through %s: %w", tmp, err), benchkit.RemoveAll(tmp))
	}
	floor := &benchkit.Floor{Dir: filepath.Join(tmp, "floor"), DB: benchkit.SQLiteFloor{}}
	return &bench{cfg: cfg, log: log, root: root, tmp: tmp, floor: floor}, nil
}

// measure sets up and takes every sample; each tenant is deleted after
// its sample.
func (b *bench) measure(ctx context.Context) (*result, error) {
	res := &result{cfg: b.cfg, nproc: runtime.NumCPU(), cpuModel: benchkit.CPUModel(), goVersion: runtime.Version(),
		commit: benchkit.Commit(ctx, b.root), loadBefore: benchkit.LoadAverage()}
	var err error
	if res.serverFlags, err = b.setUp(ctx); err != nil {
		return nil, err
	}
	b.progress("wait for the pool to fill: %d stamps", b.cfg.pool)
	if _, err := b.waitPoolFull(ctx); err != nil {
		return nil, err
	}
	if err := b.rounds(ctx, res); err != nil {
		return nil, err
	}
	if err := b.noTenantLeft(ctx); err != nil {
		return nil, err
	}
	res.loadAfter = benchkit.LoadAverage()
	return res, nil
}

// setUp builds stamp and the ledger, writes the pool's blueprint, starts
// the server and pushes the blueprint. It returns the server's flags
// beyond its data dir and addresses.
func (b *bench) setUp(ctx context.Context) ([]string, error) {
	b.progress("build stamp and the ledger")
	l, err := benchkit.BuildLedgers(ctx, b.root, filepath.Join(b.tmp, "build"))
	if err != nil {
		return nil, err
	}
	dir := l.Blueprints[len(l.Blueprints)-1] // ledger@2.0.0
	b.floor.Ledger = filepath.Join(dir, "bin", "ledger")
	if err := writePoolBlueprint(filepath.Join(dir, "stamp.yaml"), b.cfg.pool); err != nil {
		return nil, err
	}
	var flags []string
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
	b.floor.KillAll()
	errs = append(errs, benchkit.RemoveAll(b.tmp))
	return errors.Join(errs...)
}

// progress writes one line of progress to the run's log.
func (b *bench) progress(format string, args ...any) { benchkit.Progress(b.log, format, args...) }
