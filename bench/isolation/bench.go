package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// bench holds what one run built and started.
type bench struct {
	cfg   config
	log   io.Writer // progress
	root  string    // module root
	tmp   string    // everything the run writes lives here
	stamp string    // the stamp binary
	// blueprints are the directories pushed as ledger@1.0.0 and @2.0.0.
	blueprints []string
	// servers are those started so far, by setup (isolated, plain); one
	// that failed to start is there too, so cleanup kills it.
	servers map[string]*server
}

// newBench finds the module root and makes the run's temporary directory,
// open to passing through (0711): the isolated server's tenants, each a
// user of its own, reach their directories under it.
func newBench(ctx context.Context, cfg config, log io.Writer) (*bench, error) {
	root, err := benchkit.ModuleRoot(ctx)
	if err != nil {
		return nil, err
	}
	tmp, err := benchkit.TempDir("stamp-bench-isolation-")
	if err != nil {
		return nil, err
	}
	b := &bench{cfg: cfg, log: log, root: root, tmp: tmp, stamp: filepath.Join(tmp, "bin", "stamp"), servers: map[string]*server{}}
	if err := os.Chmod(tmp, 0o711); err != nil {
		return nil, errors.Join(fmt.Errorf("open the temporary directory to tenants: %w", err), benchkit.RemoveAll(tmp))
	}
	return b, nil
}

// setUp builds stamp and releases 1 and 2 of the ledger, writes the
// blueprints (each with the bench plan), starts both servers and pushes
// both versions to each.
func (b *bench) setUp(ctx context.Context) error {
	b.progress("build stamp and ledger releases 1 and 2")
	versions := []struct{ yaml, bin string }{
		{"examples/ledger-v1/stamp.yaml", filepath.Join(b.tmp, "bin", "ledger-1")},
		{"examples/ledger/stamp.yaml", filepath.Join(b.tmp, "bin", "ledger-2")},
	}
	builds := [][]string{{"-o", b.stamp, "./cmd/stamp"}}
	for i, v := range versions {
		builds = append(builds, []string{"-ldflags", fmt.Sprintf("-X main.release=%d", i+1), "-o", v.bin, "./examples/ledger"})
	}
	for _, args := range builds {
		if err := benchkit.GoBuild(ctx, b.root, args...); err != nil {
			return err
		}
	}
	for i, v := range versions {
		dir, err := benchkit.BlueprintDir(filepath.Join(b.root, v.yaml), v.bin, filepath.Join(b.tmp, fmt.Sprintf("blueprint-%d", i+1)))
		if err != nil {
			return err
		}
		if err := benchkit.AddBenchPlan(filepath.Join(dir, "stamp.yaml")); err != nil {
			return err
		}
		b.blueprints = append(b.blueprints, dir)
	}
	for _, setup := range []string{isolated, plain} {
		b.progress("start the %s server", setup)
		data := filepath.Join(b.tmp, setup, "data")
		if err := os.MkdirAll(filepath.Dir(data), 0o711); err != nil {
			return fmt.Errorf("make the %s server's directory: %w", setup, err)
		}
		srv, err := benchkit.StartServer(ctx, b.stamp, data, filepath.Join(b.tmp, setup, "server.log"), serverFlags[setup]...)
		if srv != nil {
			b.servers[setup] = newServer(srv, setup, b.cfg.concurrency) // even on failure, so cleanup kills what did start
		}
		if err != nil {
			return fmt.Errorf("%s server: %w", setup, err)
		}
		for _, dir := range b.blueprints {
			if _, err := srv.Push(ctx, dir); err != nil {
				return fmt.Errorf("%s server: %w", setup, err)
			}
		}
	}
	return nil
}

// readMachine reads the machine's figures, the commit of the module and
// what `stamp server --check` says with the isolated server's flags.
func (b *bench) readMachine(ctx context.Context) (machine, error) {
	m := machine{nproc: runtime.NumCPU(), goVersion: runtime.Version(), commit: benchkit.Commit(ctx, b.root)}
	var err error
	if m.memTotalKiB, err = benchkit.MemTotalKiB(); err != nil {
		return m, err
	}
	if k, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(k))
	}
	args := append([]string{"server", "--check", "--data", filepath.Join(b.tmp, "check-data")}, serverFlags[isolated]...)
	out, err := exec.CommandContext(ctx, b.stamp, args...).CombinedOutput()
	if err != nil {
		return m, fmt.Errorf("stamp server --check: %w\n%s", err, out)
	}
	for l := range strings.SplitSeq(string(out), "\n") {
		// The secrets line names a path of this machine, and is no
		// part of isolation.
		if strings.HasPrefix(l, "users:") || strings.HasPrefix(l, "limits:") || strings.HasPrefix(l, "network:") {
			m.check = append(m.check, l)
		}
	}
	return m, nil
}

// cleanupWait bounds the deletes of each server's tenants at the end.
const cleanupWait = 3 * time.Minute

// cleanup deletes every tenant of each server through its API, stops the
// server, removes what it left on the host and the temporary directory.
// It runs whatever the run's context became (Ctrl-C ends that one), and
// an error names anything the deletes had left behind.
func (b *bench) cleanup() error {
	var errs []error
	for _, setup := range []string{isolated, plain} {
		s := b.servers[setup]
		if s == nil {
			continue
		}
		var left []string
		if s.Alive() == nil && s.Client != nil {
			b.progress("%s server: delete every tenant", setup)
			ctx, cancel := context.WithTimeout(context.Background(), cleanupWait)
			errs = append(errs, s.deleteAll(ctx))
			cancel()
			procs, err := benchkit.TenantProcs(s.Data)
			errs = append(errs, err)
			if len(procs) > 0 {
				left = append(left, fmt.Sprintf("%d tenant processes", len(procs)))
			}
		}
		errs = append(errs, s.stop(10*time.Second)) // kills any tenant process left
		found, err := benchkit.SweepHost(s.Data, isolatedNet, setup == isolated)
		errs = append(errs, err)
		left = append(left, found...)
		if len(left) > 0 {
			errs = append(errs, fmt.Errorf("%s server: %w, removed by the bench: %s", setup, errLeftovers, strings.Join(left, ", ")))
		}
	}
	errs = append(errs, benchkit.RemoveAll(b.tmp))
	return errors.Join(errs...)
}

// progress writes one line of progress to the run's log.
func (b *bench) progress(format string, args ...any) { benchkit.Progress(b.log, format, args...) }
