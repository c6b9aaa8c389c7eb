// Command release measures how long Stamp takes to roll a new version of
// the example app (examples/ledger, 1.0.0 to 2.0.0) over a fleet of
// tenants, against the same upgrade of one tenant alone.
//
// Usage, from the module root:
//
//	go run ./bench/release [-sizes 100,250,500] [-max-parallel 8] [-singles 10] [-drain 1s] [-out FILE]
//
// It builds stamp and two real releases of the ledger binary (-X
// main.release=1 and 2) into a temporary directory. Then, for each fleet
// size, on a fresh `stamp server` (loopback ports, its own data dir and
// block of tenant ports), it pushes ledger@1.0.0 and ledger@2.0.0, creates
// the fleet and a few lone tenants on 1.0.0 (setup, not measured),
// upgrades the lone tenants to 2.0.0 one after another (the single-tenant
// figure), and then releases 2.0.0 over the fleet in waves 1, 10%, 100%
// with no soak and -max-parallel tenants at once. Every figure is read off
// the server's event log. It prints a markdown report: the release's wall
// time per tenant-slot (for the linearity across sizes), per-tenant
// percentiles against the lone tenants', and where an upgrade's time goes.
// After each release it checks that every tenant was upgraded exactly once
// and runs exactly one process of the new version.
//
// On every exit path, Ctrl-C included, the server is killed by its pid,
// every tenant process of its data dir (found by the STAMP_INSTANCE
// marker) is killed, what the server's driver keeps on the host (network
// namespaces, nftables table, cgroups) is removed, and the temporary
// directory is removed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

func main() { benchkit.Main("release", run) }

// config is what the flags set.
type config struct {
	sizes       []int         // fleet sizes, one server and one release each
	maxParallel int           // the release's maxParallel
	singles     int           // lone tenants upgraded one at a time
	drain       time.Duration // the server's --drain
	workers     int           // the server's --workers
	timeout     time.Duration // bounds the whole run
	out         string        // also write the report here
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	var sizes string
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&sizes, "sizes", "100,250,500", "fleet sizes, comma-separated; each gets its own server and release")
	fs.IntVar(&c.maxParallel, "max-parallel", 8, "tenants the release upgrades at once")
	fs.IntVar(&c.singles, "singles", 10, "lone tenants upgraded one after another, per size, for the single-tenant figure")
	fs.DurationVar(&c.drain, "drain", time.Second, "the server's --drain: how long an old version serves on after the switch (the server's default is 1s)")
	fs.IntVar(&c.workers, "workers", 8, "the server's --workers (its default is 8)")
	fs.DurationVar(&c.timeout, "timeout", 20*time.Minute, "bound on the whole run; past it the run stops and cleans up")
	fs.StringVar(&c.out, "out", "", "also write the markdown report to this file")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if c.sizes, err = parseSizes(sizes); err != nil {
		return c, err
	}
	if c.maxParallel < 1 || c.maxParallel > 1000 || c.singles < 1 || c.workers < 1 || c.drain <= 0 || c.timeout <= 0 {
		return c, errors.New("want -max-parallel from 1 to 1000, -singles >= 1, -workers >= 1, and a positive -drain (the server refuses 0) and -timeout")
	}
	return c, nil
}

// parseSizes reads "100,250,500".
func parseSizes(s string) ([]int, error) {
	var sizes []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > maxFleet {
			return nil, fmt.Errorf("-sizes %q: %q is not a fleet size from 1 to %d", s, f, maxFleet)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

// run builds the binaries, measures every size and writes the report.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	b, err := newBench(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := b.cleanup(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if err := b.build(ctx); err != nil {
		return err
	}
	rep := &report{cfg: cfg}
	for _, n := range cfg.sizes {
		res, err := b.measureSize(ctx, n)
		if err != nil {
			return fmt.Errorf("fleet of %d: %w", n, err)
		}
		rep.sizes = append(rep.sizes, res)
	}
	if err := benchkit.WriteReport(stdout, cfg.out, rep.markdown()); err != nil {
		return err
	}
	if problems := rep.problems(); len(problems) > 0 {
		return fmt.Errorf("the releases ran, but checks failed:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}
