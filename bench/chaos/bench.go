package main

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// bench holds what one run built and started.
type bench struct {
	cfg  config
	log  io.Writer // progress
	root string    // module root
	tmp  string    // everything the run writes lives here
	apps *benchkit.Ledgers
	// cleanups undo what the round under way started, last first; each
	// round runs its own before it ends, so only a round cut short
	// leaves any for cleanup.
	cleanups []func() error
}

// newBench finds the module root and makes the run's temporary directory,
// which tenants' users must be able to pass through.
func newBench(ctx context.Context, cfg config, log io.Writer) (*bench, error) {
	root, err := benchkit.ModuleRoot(ctx)
	if err != nil {
		return nil, err
	}
	tmp, err := benchkit.TempDir("stamp-bench-chaos-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp, 0o711); err != nil {
		return nil, errors.Join(err, os.RemoveAll(tmp))
	}
	return &bench{cfg: cfg, log: log, root: root, tmp: tmp}, nil
}

// build compiles stamp and releases 1 and 2 of the ledger.
func (b *bench) build(ctx context.Context) error {
	b.progress("build stamp and ledger releases 1 and 2")
	apps, err := benchkit.BuildLedgers(ctx, b.root, b.tmp)
	b.apps = apps
	return err
}

// undo runs the cleanups registered so far, last first, and forgets them.
func (b *bench) undo() error {
	var errs []error
	for i := len(b.cleanups) - 1; i >= 0; i-- {
		errs = append(errs, b.cleanups[i]())
	}
	b.cleanups = nil
	return errors.Join(errs...)
}

// cleanup undoes what a round cut short left and removes the temporary
// directory.
func (b *bench) cleanup() error {
	return errors.Join(b.undo(), benchkit.RemoveAll(b.tmp))
}

// progress writes one line of progress to the run's log.
func (b *bench) progress(format string, args ...any) { benchkit.Progress(b.log, format, args...) }
