// Command apps measures how long Stamp takes to stamp out a tenant of each
// real example app (examples/miniflux, examples/radicale), against the
// floor: doing the same by hand in the same run, as an operator would
// without Stamp (the app's migrate, its seed, its start to the first 200).
//
// Usage, from the module root, after scripts/apps:
//
//	go run ./bench/apps [-samples 20] [-apps miniflux,radicale] [-timeout 60s] [-out FILE]
//
// For each app it builds stamp, copies the app's example directory and
// runs the blueprint's build there, as `stamp blueprint push` would,
// starts `stamp server` on loopback ports with default flags (plus, for
// Miniflux, --tenant-postgres on a throwaway cluster that scripts/postgres
// starts), pushes the blueprint and then alternates floor samples and
// tenant creations, one at a time, so both see the same machine. Each
// tenant is deleted after its sample, outside the timing. It prints a
// markdown report. On every exit path, Ctrl-C included, every process it
// started is killed, the cluster stopped and the temporary directory
// removed.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

func main() { benchkit.Main("apps", run) }

// config is what the flags set.
type config struct {
	samples int           // of each kind, per app
	apps    []string      // names of apps to measure, in order
	timeout time.Duration // per sample
	out     string        // also write the report here
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	var names string
	fs := flag.NewFlagSet("apps", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.samples, "samples", 20, "tenants created, and floor samples taken, per app, one at a time")
	fs.StringVar(&names, "apps", "miniflux,radicale", "comma-separated apps to measure: miniflux, radicale")
	fs.DurationVar(&c.timeout, "timeout", 60*time.Second, "deadline of one sample; a sample past it fails the run")
	fs.StringVar(&c.out, "out", "", "also write the markdown report to this file")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.samples < 1 || c.timeout <= 0 {
		return c, fmt.Errorf("want -samples >= 1 and a positive -timeout")
	}
	for name := range strings.SplitSeq(names, ",") {
		if _, ok := apps[name]; !ok {
			return c, fmt.Errorf("-apps: unknown app %q (want miniflux or radicale)", name)
		}
		if slices.Contains(c.apps, name) {
			return c, fmt.Errorf("-apps: %s named twice", name)
		}
		c.apps = append(c.apps, name)
	}
	return c, nil
}

// run sets up the bench, measures each app and writes the report.
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
	rep := &report{loadBefore: benchkit.LoadAverage()}
	for _, name := range cfg.apps {
		res, err := b.measure(ctx, apps[name])
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		rep.apps = append(rep.apps, res)
	}
	rep.loadAfter = benchkit.LoadAverage()
	return benchkit.WriteReport(stdout, cfg.out, rep.markdown())
}
