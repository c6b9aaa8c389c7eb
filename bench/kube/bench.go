package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// blueprintName is the name of the blueprint the bench pushes.
const blueprintName = "kbench"

// bench holds what one run built and started.
type bench struct {
	cfg      config
	log      io.Writer // progress
	root     string    // module root
	tmp      string    // everything the run writes lives here
	instance string    // the server's --kube-instance
	cl       *cluster
	px       *proxy
	tr       *tracker
	srv      *benchkit.Server
}

// newBench finds the module root and makes the run's temporary directory.
func newBench(ctx context.Context, cfg config, log io.Writer) (*bench, error) {
	root, err := benchkit.ModuleRoot(ctx)
	if err != nil {
		return nil, err
	}
	tmp, err := benchkit.TempDir("stamp-bench-kube-")
	if err != nil {
		return nil, err
	}
	instance := fmt.Sprintf("kb%05x", rand.IntN(1<<20))
	return &bench{cfg: cfg, log: log, root: root, tmp: tmp, instance: instance}, nil
}

func (b *bench) progress(format string, args ...any) { benchkit.Progress(b.log, format, args...) }

// setUp builds stamp, starts (or reaches) the cluster, the watch, the
// proxy and the server, and pushes the blueprint.
func (b *bench) setUp(ctx context.Context) error {
	b.progress("build stamp")
	bin := filepath.Join(b.tmp, "bin", "stamp")
	if err := benchkit.GoBuild(ctx, b.root, "-o", bin, "./cmd/stamp"); err != nil {
		return err
	}
	var err error
	if b.cfg.kubeconfig == "" {
		b.progress("start a test cluster (scripts/kube)")
		b.cl, err = startCluster(ctx, b.root, filepath.Join(b.tmp, "cluster"))
	} else {
		b.cl, err = connectCluster(b.cfg.kubeconfig)
	}
	if err != nil {
		return err
	}
	if b.tr, err = startTracker(ctx, b.cl.config, b.instance); err != nil {
		return err
	}
	if b.px, err = startProxy(b.cl.config, b.instance); err != nil {
		return err
	}
	kubeconfig := filepath.Join(b.tmp, "proxy.kubeconfig")
	if err := b.px.writeKubeconfig(kubeconfig); err != nil {
		return err
	}
	b.progress("start stamp server --driver kubernetes --kube-instance %s", b.instance)
	b.srv, err = benchkit.StartServer(ctx, bin, filepath.Join(b.tmp, "data"), filepath.Join(b.tmp, "server.log"),
		"--driver", "kubernetes", "--kubeconfig", kubeconfig, "--kube-instance", b.instance,
		"--kube-qps", strconv.FormatFloat(b.cfg.qps, 'g', -1, 64), "--kube-burst", strconv.Itoa(b.cfg.burst),
		"--workers", strconv.Itoa(b.cfg.workers), "--health-timeout", "5m",
		// A killed server leaves no standby router behind to find.
		"--router-standby=false")
	if err != nil {
		return err
	}
	dir := filepath.Join(b.tmp, "blueprint")
	if err := writeBlueprint(dir, b.cfg.hooks); err != nil {
		return err
	}
	_, err = b.srv.Push(ctx, dir)
	return err
}

// writeBlueprint writes into dir a blueprint of one public service
// image with a health check and a generated secret, with migrate and
// seed hooks if hooks is set. Its plan is small enough that 500 tenants'
// pods fit the test cluster's one simulated node (64 CPUs, 256Gi).
func writeBlueprint(dir string, hooks bool) error {
	y := `name: ` + blueprintName + `
version: 1.0.0
plans:
  small: { memory: 64Mi, cpu: 0.1, replicas: 1 }
secrets:
  session_key: { generate: 16 }
services:
  web:
    image: registry.example/kbench:1.0.0
    command: [kbench, serve]
    port: 8080
    public: true
    env:
      SESSION_KEY: ${secret.session_key}
      DATA: ${tenant.dir}
    health: { http: /healthz, interval: 1s, timeout: 1s }
`
	if hooks {
		y += `hooks:
  migrate: [kbench, migrate]
  seed: [kbench, seed]
`
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write blueprint: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "stamp.yaml"), []byte(y), 0o644); err != nil {
		return fmt.Errorf("write blueprint: %w", err)
	}
	return nil
}

// cleanup kills the server, stops the proxy and the watch, stops the
// cluster if the bench started it or else deletes the instance's
// namespaces, and removes the temporary directory.
func (b *bench) cleanup() error {
	var errs []error
	if b.srv != nil {
		errs = append(errs, b.srv.Stop())
	}
	if b.px != nil {
		errs = append(errs, b.px.Close())
	}
	if b.tr != nil {
		b.tr.Close()
	}
	if b.cl != nil {
		if b.cl.started() {
			errs = append(errs, b.cl.stop())
		} else if b.cl.client != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			errs = append(errs, b.cl.deleteInstance(ctx, b.instance))
			cancel()
		}
	}
	errs = append(errs, benchkit.RemoveAll(b.tmp))
	return errors.Join(errs...)
}
