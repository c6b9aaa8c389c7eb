// Command fleet measures what a fleet of tenants costs the server to
// create and to delete, and whether deleting them gives back everything
// they took: a server that slows as it grows, a delete whose cost grows
// with the number of tenants, or a file, thread or connection held for a
// tenant that is gone shows here.
//
// Usage, from the module root:
//
//	go run ./bench/fleet [-n 200] [-concurrency 8] [-isolation host|none] [-settle 30s] [-out FILE]
//
// It builds stamp and the example app (examples/ledger) into a temporary
// directory, starts `stamp server` on loopback ports with a block of
// tenant ports of its own, pushes the ledger's blueprint and reads what
// the server process holds at rest: open files, threads, sockets in
// CLOSE-WAIT and resident memory (/proc/<pid>). It then creates -n
// tenants a tenth at a time, -concurrency at once, each timed until it
// answers 200 through the router, reads what the server holds with all of
// them alive, and deletes them a tenth at a time, each timed until the API
// no longer knows it. Once no tenant process is left it reads what the
// server holds every second for up to -settle, until it is back within
// the margins (-max-fds, -max-threads, -max-close-wait) of what it held
// at rest. It prints a markdown report, and exits 1 if the server still
// holds more than that.
//
// -isolation host runs the server with its defaults: as root, a user, a
// cgroup and (where the host has nftables) a network namespace per
// tenant. -isolation none turns all three off, so the driver finds a
// tenant's processes by their environment alone.
//
// On every exit path, Ctrl-C included, the server is killed by its pid,
// every tenant process of its data dir is killed, what its driver keeps on
// the host (network namespaces, nftables table, cgroups) is removed, and
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

func main() { benchkit.Main("fleet", run) }

// config is what the flags set.
type config struct {
	n           int           // tenants
	concurrency int           // creations or deletions in flight at once
	isolation   string        // host (the server's defaults) or none
	settle      time.Duration // longest wait, after the deletes, for the server to give back what it held
	timeout     time.Duration // bounds one tenant's creation or deletion
	max         margins       // how much more than at rest the server may hold after the deletes
	out         string        // also write the report here
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.n, "n", 200, "tenants to create, then delete")
	fs.IntVar(&c.concurrency, "concurrency", 8, "creations (then deletions) in flight at once")
	fs.StringVar(&c.isolation, "isolation", "host", "host: the server's default isolation (as root: a user, cgroup and network namespace per tenant); none: --tenant-uids, --tenant-cgroups and --tenant-net none")
	fs.DurationVar(&c.settle, "settle", 30*time.Second, "longest wait after the deletes for the server to be back within the margins")
	fs.DurationVar(&c.timeout, "timeout", 2*time.Minute, "deadline of one tenant's creation or deletion; past it the run fails")
	fs.IntVar(&c.max.fds, "max-fds", 16, "open files the server may hold after the deletes beyond what it held at rest")
	fs.IntVar(&c.max.threads, "max-threads", 16, "threads the server may have after the deletes beyond what it had at rest")
	fs.IntVar(&c.max.closeWait, "max-close-wait", 0, "sockets in CLOSE-WAIT the server may hold after the deletes beyond what it held at rest")
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
	if c.isolation != "host" && c.isolation != "none" {
		problems = append(problems, fmt.Sprintf("-isolation %q: want host or none", c.isolation))
	}
	if c.settle < 0 || c.timeout <= 0 {
		problems = append(problems, "want a -settle of 0 or more and a positive -timeout")
	}
	if c.max.fds < 0 || c.max.threads < 0 || c.max.closeWait < 0 {
		problems = append(problems, "want margins (-max-fds, -max-threads, -max-close-wait) of 0 or more")
	}
	if len(problems) > 0 {
		return c, errors.New(strings.Join(problems, "\n"))
	}
	return c, nil
}

// run builds, measures, writes the report, and fails if the server held
// more after the deletes than the margins allow.
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
	if err := benchkit.WriteReport(stdout, cfg.out, res.markdown()); err != nil {
		return err
	}
	if over := excess(res.atRest, res.after, cfg.max); len(over) > 0 {
		return fmt.Errorf("the server kept what deleted tenants took:\n  %s", strings.Join(over, "\n  "))
	}
	return nil
}
