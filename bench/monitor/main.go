// Command monitor measures Stamp's health monitor with a fleet of tenants
// under watch: the control plane's CPU share while it watches them, and
// the time from a tenant process's death to its incident opening.
//
// Usage, from the module root:
//
//	go run ./bench/monitor [-tenants 1000] [-kills 50] [-window 60s] [-perf 20s] [-out FILE]
//
// It builds stamp and the example app (examples/ledger) into a temporary
// directory and refuses, or scales the fleet down, when MemAvailable cannot
// hold it. Then, each on a `stamp server` of its own (loopback ports, its
// own data dir and block of tenant ports):
//
//   - the floor: a server with no tenant, idle for -window; its CPU share
//     is what the server costs with nothing to watch;
//   - the fleet: a server with -tenants tenants of ledger (created in
//     parallel and waited for; setup, not measured), idle for -window once
//     the monitor has seen every tenant. Its CPU share is an upper bound on
//     the monitor's: the server has no switch to stop the probes, and also
//     renews the tenants' leases and resyncs them. With -perf, a profile
//     of the server (perf record) then says which part of it is the
//     monitor's;
//   - detection: -kills times, one at a time, each on another tenant picked
//     at random, SIGKILL the tenant's ledger process (found by its
//     STAMP_INSTANCE marker) and wait for the tenant's incident.opened and
//     incident.resolved events. Detection is the event's time less the time
//     just before the kill (one machine, one clock).
//
// Every figure but the profile and the probe count is read off /proc and
// the server's event log; the probes are counted by the requests on each
// connection to a tenant (ss -ti) and the connections the machine accepted. Afterwards it checks that each kill opened exactly one incident,
// that no other tenant had one, that every incident resolved, and that
// every tenant runs exactly one process again.
//
// On every exit path, Ctrl-C included, each server is killed by its pid,
// every tenant process of its data dir (found by the STAMP_INSTANCE
// marker) is killed and the temporary directory is removed.
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

func main() { benchkit.Main("monitor", run) }

// config is what the flags set.
type config struct {
	tenants  int           // the fleet asked for
	kills    int           // processes killed, one at a time
	window   time.Duration // each idle CPU window
	settle   time.Duration // wait before a window, for the monitor to see every tenant
	perf     time.Duration // the profile's length; 0 skips it
	killWait time.Duration // how long one kill's incident may take to open, and to resolve
	timeout  time.Duration // bounds the whole run
	out      string        // also write the report here
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("monitor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.tenants, "tenants", 1000, fmt.Sprintf("tenants under watch, 1 to %d; fewer run if MemAvailable cannot hold them", maxFleet))
	fs.IntVar(&c.kills, "kills", 50, "tenant processes killed one at a time, each of another tenant, for the detection figures")
	fs.DurationVar(&c.window, "window", time.Minute, "length of each idle window whose server CPU is measured")
	fs.DurationVar(&c.settle, "settle", 10*time.Second, "wait between the fleet being ready and its window, so the monitor has seen every tenant")
	fs.DurationVar(&c.perf, "perf", 20*time.Second, "length of the profile of the fleet's server (perf record) after its window; 0 skips it")
	fs.DurationVar(&c.killWait, "kill-wait", 15*time.Second, "how long one kill's incident may take to open, and then to resolve, before the run records it missing")
	fs.DurationVar(&c.timeout, "timeout", 45*time.Minute, "bound on the whole run; past it the run stops and cleans up")
	fs.StringVar(&c.out, "out", "", "also write the markdown report to this file")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var problems []string
	if c.tenants < 1 || c.tenants > maxFleet {
		problems = append(problems, fmt.Sprintf("-tenants %d: want 1 to %d", c.tenants, maxFleet))
	}
	if c.kills < 1 || c.kills > c.tenants {
		problems = append(problems, fmt.Sprintf("-kills %d: want 1 to -tenants (each kill is of another tenant)", c.kills))
	}
	if c.window < time.Second {
		problems = append(problems, fmt.Sprintf("-window %s: want at least 1s", c.window))
	}
	if c.settle < 0 || c.perf < 0 {
		problems = append(problems, "-settle and -perf: want 0 or more")
	}
	if c.killWait < time.Second {
		problems = append(problems, fmt.Sprintf("-kill-wait %s: want at least 1s", c.killWait))
	}
	if c.timeout <= 0 {
		problems = append(problems, fmt.Sprintf("-timeout %s: want a positive duration", c.timeout))
	}
	if len(problems) > 0 {
		return c, errors.New(strings.Join(problems, "\n"))
	}
	return c, nil
}

// run builds the binaries, measures the floor and the fleet, and writes
// the report.
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
	res, err := b.measure(ctx)
	if err != nil {
		return err
	}
	if err := benchkit.WriteReport(stdout, cfg.out, res.markdown()); err != nil {
		return err
	}
	if problems := res.problems(); len(problems) > 0 {
		return fmt.Errorf("the run ended, but checks failed:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}
