// Command kube measures what stamping out tenants on Kubernetes costs
// the cluster and the control plane: N tenants (default 500) created on
// a test cluster, the API writes each takes against the floor (the
// objects it needs), the writes of an idle control plane and of a
// restarted one, the time from a tenant's create to every object of it
// applied, and the server's memory.
//
// Usage, from the module root:
//
//	go run ./bench/kube [-n 500] [-concurrency 16] [-lone 5] [-hooks=true] [-kubeconfig FILE] [-out FILE]
//
// It builds stamp, starts a test cluster with scripts/kube (or uses the
// one of -kubeconfig) and a counting proxy in front of its API server,
// and starts `stamp server --driver kubernetes` on a fresh data dir and
// a fresh --kube-instance, talking to the cluster through the proxy. It
// pushes a blueprint of one public service image with a health check
// and, with -hooks, migrate and seed hooks (Jobs); creates -lone tenants
// one after another, each waited for, then the fleet, -concurrency API
// calls at once, and waits until all are ready. A watch of its own on
// the instance's label times when each object of a tenant appears. Then
// it leaves the server idle for -idle, kills and restarts it, and leaves
// it idle for -idle again, counting the requests of each window. It
// prints a markdown report.
//
// On every exit path, Ctrl-C included, the server is killed by its pid,
// the proxy stopped, the cluster stopped if the bench started it (else
// the instance's namespaces are deleted), and the temporary directory
// removed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

func main() { benchkit.Main("kube", run) }

// config is what the flags set.
type config struct {
	n           int           // fleet tenants
	concurrency int           // fleet creates in flight at once
	lone        int           // tenants created one after another first
	hooks       bool          // the blueprint has migrate and seed hooks
	kubeconfig  string        // the cluster's; "" starts one
	qps         float64       // the server's --kube-qps
	burst       int           // the server's --kube-burst
	workers     int           // the server's --workers
	idle        time.Duration // each idle window
	timeout     time.Duration // bounds the whole run
	out         string        // also write the report here
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("kube", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.n, "n", 500, "tenants of the fleet")
	fs.IntVar(&c.concurrency, "concurrency", 16, "fleet creates (API calls) in flight at once")
	fs.IntVar(&c.lone, "lone", 5, "tenants created one after another before the fleet, each waited for until ready: the figure without queueing")
	fs.BoolVar(&c.hooks, "hooks", true, "give the blueprint migrate and seed hooks, which run as Jobs before the services start")
	fs.StringVar(&c.kubeconfig, "kubeconfig", "", "admin kubeconfig of a cluster to use (default: start a test cluster with scripts/kube)")
	fs.Float64Var(&c.qps, "kube-qps", 50, "the server's --kube-qps (its default is 50)")
	fs.IntVar(&c.burst, "kube-burst", 100, "the server's --kube-burst (its default is 100)")
	fs.IntVar(&c.workers, "workers", 8, "the server's --workers (its default is 8)")
	fs.DurationVar(&c.idle, "idle", 35*time.Second, "length of each idle window, longer than the reconciler's resync (30s) so that it holds one")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Minute, "bound on the whole run; past it the run stops and cleans up")
	fs.StringVar(&c.out, "out", "", "also write the markdown report to this file")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.n < 1 || c.n > 9999 || c.concurrency < 1 || c.lone < 1 || c.qps <= 0 || c.burst < 1 || c.workers < 1 || c.idle <= 0 || c.timeout <= 0 {
		return c, errors.New("want -n from 1 to 9999, -concurrency, -lone, -kube-burst and -workers of at least 1, and a positive -kube-qps, -idle and -timeout")
	}
	return c, nil
}

// run sets up the bench, measures and writes the report.
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
	if err := b.setUp(ctx); err != nil {
		return err
	}
	rep, err := b.measure(ctx)
	if err != nil {
		return err
	}
	return benchkit.WriteReport(stdout, cfg.out, rep.markdown())
}
