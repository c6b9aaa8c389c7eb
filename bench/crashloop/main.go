// Command crashloop measures what a crash-looping tenant costs the
// control plane: the server's CPU share while one tenant's service exits
// at once on every start, next to its share while the same tenant
// serves, and how many starts the driver's restart backoff lets through.
// The figure was once an assertion of an end-to-end test, where a CPU
// share depends on whatever else the machine runs; here it is reported
// with its conditions.
//
// Usage, from the module root:
//
//	go run ./bench/crashloop [-window 60s] [-settle 5s] [-out FILE]
//
// It builds stamp and the example app (examples/ledger) into a temporary
// directory and starts a `stamp server` (loopback ports, its own data dir
// and block of tenant ports, --incident-grace 1s). Its one tenant runs
// the ledger behind a shell line that serves on the first start only and
// exits 4 on every later one. Once the tenant is ready and -settle has
// passed, the server's CPU is read over a -window in which it serves;
// then the bench kills the ledger process (by its pid, found by the
// STAMP_INSTANCE marker), waits for the incident to show the crash, and
// reads the server's CPU over a second -window, counting the starts in
// it from the service's log.
//
// On every exit path, Ctrl-C included, the server is killed by its pid,
// every tenant process of its data dir is killed, what its driver keeps
// on the host (network namespace, nftables table, cgroups) is removed, and
// so is the temporary directory.
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

func main() { benchkit.Main("crashloop", run) }

// config is what the flags set.
type config struct {
	window  time.Duration // each CPU window
	settle  time.Duration // wait after the tenant is ready, before the first window
	timeout time.Duration // bounds the whole run
	out     string        // also write the report here
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("crashloop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&c.window, "window", time.Minute, "length of each window whose server CPU is measured")
	fs.DurationVar(&c.settle, "settle", 5*time.Second, "wait between the tenant being ready and the first window")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Minute, "bound on the whole run; past it the run stops and cleans up")
	fs.StringVar(&c.out, "out", "", "also write the markdown report to this file")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var problems []string
	if c.window < time.Second {
		problems = append(problems, fmt.Sprintf("-window %s: want at least 1s", c.window))
	}
	if c.settle < 0 {
		problems = append(problems, fmt.Sprintf("-settle %s: want 0 or more", c.settle))
	}
	if c.timeout <= 2*c.window {
		problems = append(problems, fmt.Sprintf("-timeout %s: want more than the two windows (%s)", c.timeout, 2*c.window))
	}
	if len(problems) > 0 {
		return c, errors.New(strings.Join(problems, "\n"))
	}
	return c, nil
}

// run builds the binaries, measures both windows and writes the report.
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
	return benchkit.WriteReport(stdout, cfg.out, res.markdown())
}
