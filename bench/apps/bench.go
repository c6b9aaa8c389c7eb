package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bench/internal/benchkit"
	"github.com/stamphq/stamp/blueprint"
	"github.com/stamphq/stamp/httpapi"
)

// bench holds what one run built and started.
type bench struct {
	cfg     config
	log     io.Writer               // progress
	root    string                  // module root
	tmp     string                  // everything the run writes lives here
	stamp   string                  // the stamp binary, once built
	pg      *benchkit.Cluster       // nil until an app needs it
	floorDB *benchkit.PostgresFloor // nil until an app needs it
	servers []*benchkit.Server
}

// newBench finds the module root, makes the run's temporary directory
// (open to the tenants' users and the postgres user, which must pass
// through it) and builds stamp.
func newBench(ctx context.Context, cfg config, log io.Writer) (*bench, error) {
	root, err := benchkit.ModuleRoot(ctx)
	if err != nil {
		return nil, err
	}
	tmp, err := benchkit.TempDir("stamp-bench-apps-")
	if err != nil {
		return nil, err
	}
	b := &bench{cfg: cfg, log: log, root: root, tmp: tmp, stamp: filepath.Join(tmp, "stamp")}
	if err := os.Chmod(tmp, 0o711); err != nil {
		return b, err
	}
	benchkit.Progress(log, "build ./cmd/stamp")
	return b, benchkit.GoBuild(ctx, root, "-o", b.stamp, "./cmd/stamp")
}

// appResult is what the run measured of one app.
type appResult struct {
	app          *app
	floor, stamp []sample
	checks       string // the server's report of what it isolates
}

// measure sets up a server for a, pushes its blueprint and alternates
// floor samples and tenant creations, one at a time.
func (b *bench) measure(ctx context.Context, a *app) (*appResult, error) {
	dir := filepath.Join(b.tmp, a.name)
	bp, err := b.buildBlueprint(ctx, a, filepath.Join(dir, "blueprint"))
	if err != nil {
		return nil, err
	}
	var flags []string
	if a.postgres {
		if err := b.startPostgres(ctx); err != nil {
			return nil, err
		}
		flags = append(flags, "--tenant-postgres", b.pg.URL)
	}
	benchkit.Progress(b.log, "%s: start stamp server", a.name)
	srv, err := benchkit.StartServer(ctx, b.stamp, filepath.Join(dir, "data"), filepath.Join(dir, "server.log"), flags...)
	if srv != nil {
		b.servers = append(b.servers, srv)
	}
	if err != nil {
		return nil, err
	}
	if _, err := srv.Push(ctx, bp); err != nil {
		return nil, err
	}
	res := &appResult{app: a}
	if out, err := exec.CommandContext(ctx, b.stamp, append([]string{"server", "--check", "--data", srv.Data}, flags...)...).CombinedOutput(); err == nil {
		for line := range strings.Lines(string(out)) {
			if !strings.HasPrefix(line, "secrets:") { // names the run's key file
				res.checks += line
			}
		}
	}
	for i := range b.cfg.samples {
		n := int64(i + 1)
		f, err := b.floorSample(ctx, a, bp, filepath.Join(dir, "floor"), n)
		if err != nil {
			return nil, fmt.Errorf("floor sample %d: %w", n, err)
		}
		s, err := b.stampSample(ctx, srv, a, n)
		if err != nil {
			return nil, fmt.Errorf("tenant b-%d: %w", n, err)
		}
		res.floor, res.stamp = append(res.floor, f), append(res.stamp, s)
		benchkit.Progress(b.log, "%s %d/%d: by hand %s, stamp %s", a.name, n, b.cfg.samples, benchkit.MS(f.took()), benchkit.MS(s.took()))
	}
	return res, nil
}

// buildBlueprint copies a's example directory (without bin/) to dir and
// runs its blueprint's build there, as `stamp blueprint push` does.
func (b *bench) buildBlueprint(ctx context.Context, a *app, dir string) (string, error) {
	src := filepath.Join(b.root, a.example)
	entries, err := os.ReadDir(src)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		content, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), content, 0o644); err != nil {
			return "", err
		}
	}
	bp, err := blueprint.Load(dir)
	if err != nil {
		return "", fmt.Errorf("%s: %w", a.example, err)
	}
	if len(bp.Build) > 0 {
		benchkit.Progress(b.log, "%s: build %v", a.name, bp.Build)
		cmd := exec.CommandContext(ctx, bp.Build[0], bp.Build[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("build %s: %w\n%s", a.example, err, out)
		}
	}
	return dir, nil
}

// startPostgres starts the run's cluster, once.
func (b *bench) startPostgres(ctx context.Context) error {
	if b.pg != nil {
		return nil
	}
	benchkit.Progress(b.log, "start PostgreSQL")
	var err error
	if b.pg, err = benchkit.StartCluster(ctx, b.root, filepath.Join(b.tmp, "pg")); err != nil {
		return err
	}
	b.floorDB, err = benchkit.NewPostgresFloor(ctx, b.pg.URL)
	return err
}

// floorSample does by hand what a tenant creation does, in a fresh
// directory under parent, and removes what it made afterwards.
func (b *bench) floorSample(ctx context.Context, a *app, bp, parent string, n int64) (s sample, err error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.timeout)
	defer cancel()
	dir := filepath.Join(parent, strconv.FormatInt(n, 10))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return s, err
	}
	defer os.RemoveAll(dir)
	if a.postgres {
		defer func() { err = errors.Join(err, b.floorDB.Drop(ctx, n)) }()
	}
	s = sample{n: n, start: time.Now()}
	err = a.byHand(ctx, b, bp, dir, &s)
	return s, err
}

// stampSample creates tenant b-<n> of a and times it from just before the
// API call to the first 200 of the app's health check through the
// router; it then reads the tenant's steps from the event log and deletes
// it, outside the timing.
func (b *bench) stampSample(ctx context.Context, srv *benchkit.Server, a *app, n int64) (sample, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.timeout)
	defer cancel()
	name := "b-" + strconv.FormatInt(n, 10)
	_, port, _ := net.SplitHostPort(srv.Router)
	s := sample{n: n, start: time.Now()}
	if _, err := srv.Client.CreateTenant(ctx, httpapi.CreateTenantRequest{Name: name, Blueprint: a.name}); err != nil {
		return s, err
	}
	if err := benchkit.WaitOK(ctx, "http://"+srv.Router+a.health, name+".localhost:"+port, srv.Exited()); err != nil {
		if tn, gerr := srv.Client.GetTenant(context.WithoutCancel(ctx), name); gerr == nil {
			return s, fmt.Errorf("%w; the tenant is %s (failed step %q: %s)", err, tn.Status.Phase, tn.Status.FailedStep, tn.Status.Message)
		}
		return s, err
	}
	s.end = time.Now()
	events, err := srv.Client.Events(ctx, stamp.EventFilter{Tenant: name, Limit: 1000})
	if err != nil {
		return s, err
	}
	for _, e := range events {
		if e.Type == stamp.EventStep && e.Status == stamp.StatusOK {
			s.steps = append(s.steps, step{name: e.Step, took: e.FinishedAt.Sub(e.StartedAt)})
		}
	}
	return s, deleteTenant(ctx, srv, name)
}

// deleteTenant deletes name and waits until it is gone.
func deleteTenant(ctx context.Context, srv *benchkit.Server, name string) error {
	if _, err := srv.Client.DeleteTenant(ctx, name, httpapi.DeleteOptions{Purge: true}); err != nil {
		return err
	}
	for {
		_, err := srv.Client.GetTenant(ctx, name)
		if stamp.ErrorCode(err) == stamp.ENOTFOUND {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("delete %s: not gone: %w", name, ctx.Err())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cleanup deletes what tenants are left through each server's API, stops
// the servers and their tenants' processes, the cluster, and removes the
// temporary directory. It runs on every exit path.
func (b *bench) cleanup() error {
	var errs []error
	for _, srv := range b.servers {
		if srv.Client != nil && srv.Alive() == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			tenants, err := srv.Client.ListTenants(ctx)
			for _, tn := range tenants {
				err = errors.Join(err, deleteTenant(ctx, srv, tn.Name))
			}
			cancel()
			errs = append(errs, err)
		}
		errs = append(errs, srv.Stop(), sweepHost(srv.Data))
	}
	if b.floorDB != nil {
		b.floorDB.Close()
	}
	if b.pg != nil {
		errs = append(errs, b.pg.Stop())
	}
	errs = append(errs, benchkit.RemoveAll(b.tmp))
	return errors.Join(errs...)
}
