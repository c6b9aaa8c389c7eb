// Command provision measures how long Stamp takes to stamp out a tenant of
// the example app (examples/ledger), against the floor: starting the same
// app by hand, as an operator would without Stamp.
//
// Usage, from the module root:
//
//	go run ./bench/provision [-engine sqlite|postgres] [-isolation host|none] [-plan bench|starter] [-sequential 50] [-parallel 200] [-concurrency 8] [-out FILE]
//
// It builds stamp and the ledger binary into a temporary directory, starts
// `stamp server` on loopback ports, pushes the ledger blueprint (ledger-pg
// with -engine postgres, whose tenant databases, and the floor's, live on a
// throwaway PostgreSQL cluster the run starts with scripts/postgres), and then
// runs two phases: one tenant at a time, then many at a time. Within each
// phase it alternates rounds of floor samples and tenant creations at the
// same concurrency, so both see the same machine. It prints a markdown
// report (latency percentiles and ratios, the per-step breakdown read off
// the event log, memory).
//
// Tenants are on the bench plan by default: the example's starter plan
// without its cpu quota, which would throttle the app's own start and
// seed under Stamp and not on the floor, which runs unconfined. -plan
// starter shows what a customer of that plan waits.
//
// -isolation host runs the server with its defaults: as root, a user, a
// cgroup and (where the host has nftables) a network namespace per
// tenant. -isolation none turns all three off.
//
// On every exit path, Ctrl-C included, every process it started is
// killed, what the server's driver keeps on the host (network namespaces,
// nftables table, cgroups) removed, the cluster stopped and the temporary
// directory removed.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

func main() { benchkit.Main("provision", run) }

// config is what the flags set.
type config struct {
	sequential  int           // tenants (and floor samples) of phase A
	parallel    int           // tenants (and floor samples) of phase B
	concurrency int           // samples in flight at once in phase B
	timeout     time.Duration // per sample
	out         string        // also write the report here
	engine      string        // the tenant databases' engine: sqlite or postgres
	isolation   string        // host (the server's defaults) or none
	plan        string        // the tenants' plan: bench (see benchkit.AddBenchPlan) or the blueprint's
}

// app is the example app's blueprint for one engine.
type app struct {
	name string // the blueprint's name
	dir  string // its directory in the module
}

// apps holds the blueprint to push for each -engine.
var apps = map[string]app{
	"sqlite":   {name: "ledger", dir: "examples/ledger"},
	"postgres": {name: "ledger-pg", dir: "examples/ledger-pg"},
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("provision", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.sequential, "sequential", 50, "tenants created one after another (phase A)")
	fs.IntVar(&c.parallel, "parallel", 200, "tenants created concurrently (phase B)")
	fs.IntVar(&c.concurrency, "concurrency", 8, "creations in flight at once in phase B")
	fs.DurationVar(&c.timeout, "timeout", 60*time.Second, "deadline of one sample; a sample past it fails the run")
	fs.StringVar(&c.out, "out", "", "also write the markdown report to this file")
	fs.StringVar(&c.engine, "engine", "sqlite", "engine of the tenant databases: sqlite or postgres (a throwaway cluster)")
	fs.StringVar(&c.plan, "plan", benchkit.BenchPlanName, "the tenants' plan: bench, the example's starter plan without its cpu quota (added to the blueprint), or one of the blueprint's own (starter)")
	fs.StringVar(&c.isolation, "isolation", "host", "host: the server's default isolation (as root: a user, cgroup and network namespace per tenant); none: --tenant-uids, --tenant-cgroups and --tenant-net none")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.sequential < 1 || c.parallel < 0 || c.concurrency < 1 || c.timeout <= 0 {
		return c, fmt.Errorf("want -sequential >= 1, -parallel >= 0, -concurrency >= 1 and a positive -timeout")
	}
	if _, ok := apps[c.engine]; !ok {
		return c, fmt.Errorf("-engine %q: want sqlite or postgres", c.engine)
	}
	if c.isolation != "host" && c.isolation != "none" {
		return c, fmt.Errorf("-isolation %q: want host or none", c.isolation)
	}
	return c, nil
}

// run sets up the bench, runs both phases and writes the report.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	b, err := newBench(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := b.cleanup(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if err := b.setUp(ctx); err != nil {
		return err
	}
	rep, err := b.measure(ctx)
	if err != nil {
		return err
	}
	return benchkit.WriteReport(stdout, cfg.out, rep.markdown())
}
