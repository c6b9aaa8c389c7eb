// Command sleep measures a fleet that scales to zero: what creating
// -n tenants of a plan with `idle` costs, what the server holds once they
// all sleep, whether the router slows with that many routes, and how long
// a customer waits for a sleeping tenant (the cold start) against the
// app's own start.
//
// Usage, from the module root:
//
//	go run ./bench/sleep [-n 10000] [-concurrency 8] [-idle 2s] [-cold 30] [-requests 2000] [-quiet 60s] [-isolated] [-out FILE]
//
// It builds stamp and the ledger (benchkit.BuildLedgers), writes a copy
// of the ledger's blueprint whose plan starter sleeps after -idle and
// with a plan warm that never sleeps, and starts `stamp server` on a
// temporary data dir with --idle-check 200ms, a block of tenant ports
// for every tenant (a sleeping one keeps its port) and, unless -isolated,
// no user, cgroup or network namespace per tenant. Then:
//
//  1. one warm tenant, and the router's latency for GET /healthz on it,
//     -requests sequential requests over one kept connection, each
//     followed by one straight to its instance, with one route;
//  2. -n starter tenants, -concurrency created at once, each polled
//     through the API until ready; at every tenth of the fleet, what the
//     server holds (RSS, open files, threads, goroutines), how many
//     tenants sleep and how many tenant processes run;
//  3. once every starter tenant sleeps and only the warm tenant runs, the
//     router's latency again with n+1 routes, and the server's RSS and
//     CPU over a -quiet window in which the bench sends nothing;
//  4. -cold cold starts, one at a time, each a GET /healthz through the
//     router to a sleeping tenant, alternating with the floor: `ledger
//     serve` started by hand on a copy of a migrated and seeded database
//     until /healthz answers 200.
//
// It prints a markdown report. On every exit path, Ctrl-C included, the
// server is killed by its pid, every tenant process of its data dir and
// every floor process killed, what an isolated server's driver keeps on
// the host removed, and the temporary directory removed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

func main() { benchkit.Main("sleep", run) }

// config is what the flags set.
type config struct {
	n           int           // starter tenants
	concurrency int           // creates in flight at once
	idle        time.Duration // the starter plan's idle time
	cold        int           // cold-start samples, and as many floor samples
	requests    int           // router latency samples, each time
	quiet       time.Duration // the window over which the sleeping fleet's cost is read
	isolated    bool          // the server's default isolation rather than none
	timeout     time.Duration // bounds one create, one wake and each wait for the fleet
	out         string        // also write the report here
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("sleep", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.n, "n", 10000, "tenants of the sleeping plan to create")
	fs.IntVar(&c.concurrency, "concurrency", 8, "creates in flight at once")
	fs.DurationVar(&c.idle, "idle", 2*time.Second, "the starter plan's idle time: a tenant sleeps after this long without a request")
	fs.IntVar(&c.cold, "cold", 30, "cold starts to time, and as many starts of the app by hand")
	fs.IntVar(&c.requests, "requests", 2000, "sequential requests to the warm tenant through the router, with 1 route and with n+1")
	fs.DurationVar(&c.quiet, "quiet", 60*time.Second, "window, with every starter tenant asleep, over which the server's CPU is read")
	fs.BoolVar(&c.isolated, "isolated", false, "run the server with its default isolation (as root: a user, cgroup and network namespace per tenant) instead of none")
	fs.DurationVar(&c.timeout, "timeout", 2*time.Minute, "deadline of one create or cold start, and of each wait for the fleet to sleep")
	fs.StringVar(&c.out, "out", "", "also write the markdown report to this file")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var problems []string
	if c.n < 10 {
		problems = append(problems, fmt.Sprintf("-n %d: want at least 10 (the report compares tenths)", c.n))
	}
	if c.concurrency < 1 {
		problems = append(problems, fmt.Sprintf("-concurrency %d: want at least 1", c.concurrency))
	}
	if c.idle <= 0 {
		problems = append(problems, fmt.Sprintf("-idle %s: want a positive duration", c.idle))
	}
	if c.cold < 1 || c.cold > c.n {
		problems = append(problems, fmt.Sprintf("-cold %d: want 1 to -n", c.cold))
	}
	if c.requests < 1 {
		problems = append(problems, fmt.Sprintf("-requests %d: want at least 1", c.requests))
	}
	if c.quiet < 0 || c.timeout <= 0 {
		problems = append(problems, "want a -quiet of 0 or more and a positive -timeout")
	}
	if len(problems) > 0 {
		return c, errors.New(strings.Join(problems, "\n"))
	}
	return c, nil
}

// run builds, measures and writes the report.
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
	res, err := b.measure(ctx)
	if err != nil {
		return err
	}
	return benchkit.WriteReport(stdout, cfg.out, res.markdown())
}
