// Command router measures Stamp's router next to nginx: one instance of
// the example app (examples/ledger), a tenant of a real `stamp server`,
// reached directly, through nginx as a reverse proxy, through the
// server's router, through `stamp router` (the data plane alone),
// through bareproxy (the floor of a Go reverse proxy: see
// bench/router/bareproxy) and through fastproxy (the same job on
// fasthttp instead of net/http: see bench/router/fastproxy), under the
// same load in the same run. It also
// measures the router with 1 route and with 10,000.
//
// Usage, from the module root:
//
//	go run ./bench/router [-duration 10s] [-blocks 5] [-conns 1,16,64] [-routes 10000] [-routes-duration 30s] [-out FILE]
//
// It builds stamp, the ledger, bareproxy and fastproxy into a temporary
// directory, starts `stamp server` on loopback ports with tenant
// isolation off (so the instance is a plain loopback process, like the
// one nginx proxies to), creates one tenant and waits until it is ready. nginx comes from
// scripts/nginx, which installs Debian's package when it is missing; the
// bench starts its own from a configuration in the temporary directory
// (worker_processes as many as CPUs, keepalive to the upstream, `user
// nobody;` as root, loopback only), or, when there is none, says so in
// its report and measures the rest. `stamp router` runs over a store
// holding the tenant alone; bareproxy twice, with ReverseProxy's
// FlushInterval 0 (as the router has it) and -1; fastproxy once.
//
// The load is the bench's own: N keep-alive connections, each sending GET
// /version as soon as the answer before has been read, for a warm-up and
// then for -duration, every latency recorded in a histogram. For each
// connection count, the fronts take turns: -duration is cut into
// -blocks slices, and the fronts load one after the other, slice by
// slice, the one going first changing each time, so that the shared
// machine's drift falls on all alike.
// Then the route table: the `stamp router` of the grid, and another over
// that tenant and 9,999 more (ready, none of them sent a request), both
// running, taking turns in the same way, -routes-conns connections for
// -routes-duration each: the two windows together are long enough that
// the larger router's full reload of every tenant, every 30s, comes at
// least once.
//
// It prints a markdown report: requests per second, p50 and p99 per
// front and connection count, the proxies' CPU per request, the ratios
// of each Go front to nginx and to the bare proxy, and 10,000 routes /
// 1. On every exit path, Ctrl-C included, it stops nginx, the routers,
// the bare and fasthttp proxies and the server by pid, kills the tenant's processes
// (found by their STAMP_INSTANCE marker) and removes its temporary
// directory.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

func main() { benchkit.Main("router", run) }

// config is what the flags set.
type config struct {
	window       time.Duration // measured, per cell
	warmup       time.Duration // before each cell, not measured
	blocks       int           // slices of window, the fronts taking turns
	conns        []int         // connection counts of the router / nginx / direct grid
	routes       int           // the larger route table
	routesConns  int           // connections of the route-table cells
	routesWindow time.Duration // measured, per route-table cell
	out          string        // also write the report here
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var (
		c     config
		conns string
	)
	fs := flag.NewFlagSet("router", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&c.window, "duration", 10*time.Second, "measured time of each front at each connection count")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "load before each measurement, not measured")
	fs.IntVar(&c.blocks, "blocks", 5, "slices of -duration per cell, the fronts taking turns")
	fs.StringVar(&conns, "conns", "1,16,64", "connection counts, comma-separated")
	fs.IntVar(&c.routes, "routes", 10000, "tenants in the larger route table (0: skip the route-table cells)")
	fs.IntVar(&c.routesConns, "routes-conns", 16, "connections of the route-table cells")
	fs.DurationVar(&c.routesWindow, "routes-duration", 30*time.Second, "measured time of each route-table cell; the two together over 30s, so a full reload comes")
	fs.StringVar(&c.out, "out", "", "also write the markdown report to this file")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if c.conns, err = parseConns(conns); err != nil {
		return c, err
	}
	if c.window <= 0 || c.warmup < 0 || c.blocks < 1 || c.routesWindow <= 0 || c.routesConns < 1 || c.routes < 0 || c.routes == 1 {
		return c, fmt.Errorf("want a positive -duration and -routes-duration, -warmup >= 0, -blocks >= 1, -routes-conns >= 1 and -routes 0 or > 1")
	}
	return c, nil
}

// parseConns parses "1,16,64".
func parseConns(s string) ([]int, error) {
	var conns []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-conns %q: want positive numbers, comma-separated", s)
		}
		conns = append(conns, n)
	}
	return conns, nil
}

// run sets up the bench, measures and writes the report.
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
