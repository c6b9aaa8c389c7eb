// Command isolation measures what isolating tenants costs: a `stamp
// server` run as root gives each tenant a Unix user, a cgroup with its
// plan's limits and a network namespace reached over a veth pair; the
// same server with all three turned off (--tenant-uids none
// --tenant-cgroups none --tenant-net none) is its peer without isolation.
//
// Usage, as root, from the module root:
//
//	go run ./bench/isolation [-creates 30] [-upgrades 10] [-requests 5000] [-concurrency 8] [-out FILE]
//
// It builds stamp and releases 1 and 2 of the example app
// (examples/ledger), starts two servers side by side on loopback ports,
// one isolated and one plain, and pushes ledger@1.0.0 and ledger@2.0.0 to
// both, each with one plan more than the example's: bench, the starter
// plan without its cpu quota, which throttles the app's own start and so
// hides the mechanism's cost behind the plan's. Then, always alternating
// between the two servers so the machine's noise hits both alike, it
// measures: tenants created (POST /v1/tenants to the first 200 through
// the router), one tenant's upgrade 1.0.0 -> 2.0.0 (to the router serving
// release 2, and to the upgrade's end), and requests through the router
// to one tenant's instance, one at a time and -concurrency at once. It
// prints a markdown report: percentiles, the ratios isolated / plain, and
// where each server's time went, step by step, read off its event log.
//
// On every exit path, Ctrl-C included, it deletes every tenant through
// each server's API, stops the servers by pid, kills any tenant process
// left, removes what the isolated server leaves on the host (network
// namespaces and their mounts, its nftables tables, its cgroups),
// reports anything the deletes had left as an error, and removes its
// temporary directory.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

func main() { benchkit.Main("isolation", run) }

// config is what the flags set.
type config struct {
	creates     int           // tenants created per server and plan
	upgrades    int           // upgrades per server and plan
	requests    int           // router requests per server, plan and load
	concurrency int           // requests in flight at once in the concurrent load
	blocks      int           // the router's requests are sent in this many alternating blocks
	timeout     time.Duration // of one create or upgrade
	out         string        // also write the report here
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("isolation", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.creates, "creates", 30, "tenants created per server and plan, one at a time")
	fs.IntVar(&c.upgrades, "upgrades", 10, "tenants upgraded 1.0.0 -> 2.0.0 per server and plan, one at a time")
	fs.IntVar(&c.requests, "requests", 5000, "GET /healthz through the router per server, plan and load (sequential, concurrent)")
	fs.IntVar(&c.concurrency, "concurrency", 8, "requests in flight at once in the concurrent load")
	fs.IntVar(&c.blocks, "blocks", 10, "blocks the router's requests are cut into, alternating between the servers")
	fs.DurationVar(&c.timeout, "timeout", 60*time.Second, "deadline of one create or upgrade; past it the run fails")
	fs.StringVar(&c.out, "out", "", "also write the markdown report to this file")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.creates < 1 || c.upgrades < 1 || c.requests < 1 || c.concurrency < 1 || c.blocks < 1 || c.requests < c.blocks || c.timeout <= 0 {
		return c, errors.New("want -creates, -upgrades, -concurrency and -blocks >= 1, -requests >= -blocks and a positive -timeout")
	}
	return c, nil
}

// run checks it is root, sets up the bench, measures and writes the
// report; cleanup runs on every path once anything was made.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("run as root: only a server run as root isolates its tenants")
	}
	b, err := newBench(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := b.cleanup(); cerr != nil {
			err = errors.Join(err, cerr)
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
