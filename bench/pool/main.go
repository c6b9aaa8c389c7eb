// Command pool measures a create that claims a stamp of the warm pool
// against a create from nothing and against the app's own start: the
// issue's "create with a warm pool (target p50 under 50 ms)".
//
// Usage, from the module root:
//
//	go run ./bench/pool [-n 30] [-pool 4] [-isolated] [-timeout 2m] [-out FILE]
//
// It builds stamp and the ledger (benchkit.BuildLedgers), writes a copy
// of the ledger@2.0.0 blueprint with two plans of one size (the example's
// starter plan without its cpu quota and idle time): pooled, with `pool:
// -pool`, and plain, without one. It starts `stamp server` on a temporary
// data dir, unless -isolated with no user, cgroup or network namespace per
// tenant, pushes the blueprint and waits for the pool to fill. Then -n
// rounds, each taking one sample of every kind, the kind going first
// changing from round to round so that the shared machine's noise falls
// on all three alike:
//
//  1. pooled: a create of plan pooled, timed from just before `POST
//     /v1/tenants` to the first 200 of GET /healthz through the router
//     (Host NAME.localhost, polled every benchkit.PollEvery). The tenant's
//     status.runtime must name a stamp of the pool; a create that did not
//     claim one is reported apart. Then, untimed by the create, the wait
//     until the pool holds -pool ready stamps again: the refill, from the
//     POST's answer;
//  2. plain: a create of plan plain, timed the same way;
//  3. floor: the app started by hand (benchkit.Floor, as bench/provision
//     measures it): `ledger migrate`, then `ledger seed` beside `ledger
//     serve` until /healthz answers 200 and the seed has exited.
//
// After each create its step events are read (GET /v1/events?tenant=NAME)
// and the tenant is deleted, and the round goes on once it is gone, so
// that every sample meets the same server: the pool full, no tenant. It
// prints a markdown report: p50, p90 and max of each kind, their ratios at
// p50, the refill, where a pooled and a plain create's time goes, step by
// step, the machine and its load before and after, and the command.
//
// On every exit path, Ctrl-C included, the server is killed by its pid,
// every tenant process of its data dir and every hand-started app killed,
// what an isolated server's driver keeps on the host removed, and the
// temporary directory removed.
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
	"github.com/stamphq/stamp/blueprint"
)

func main() { benchkit.Main("pool", run) }

// config is what the flags set.
type config struct {
	args     []string      // as given, for the report's command line
	n        int           // samples of each kind
	pool     int           // the pooled plan's pool size
	isolated bool          // the server's default isolation rather than none
	timeout  time.Duration // bounds one sample, one refill and one delete
	out      string        // also write the report here
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	c := config{args: args}
	fs := flag.NewFlagSet("pool", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.n, "n", 30, "samples of each kind: pooled creates, plain creates and starts of the app by hand")
	fs.IntVar(&c.pool, "pool", 4, "stamps the pooled plan keeps made ahead")
	fs.BoolVar(&c.isolated, "isolated", false, "run the server with its default isolation (as root: a user, cgroup and network namespace per tenant) instead of none")
	fs.DurationVar(&c.timeout, "timeout", 2*time.Minute, "deadline of one sample, of each wait for the pool to fill and of each delete")
	fs.StringVar(&c.out, "out", "", "also write the markdown report to this file")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var problems []string
	if c.n < 1 {
		problems = append(problems, fmt.Sprintf("-n %d: want at least 1", c.n))
	}
	if c.pool < 1 || c.pool > blueprint.MaxPool {
		problems = append(problems, fmt.Sprintf("-pool %d: want 1 to %d", c.pool, blueprint.MaxPool))
	}
	if c.timeout <= 0 {
		problems = append(problems, fmt.Sprintf("-timeout %s: want a positive duration", c.timeout))
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
