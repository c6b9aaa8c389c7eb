package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bench/internal/benchkit"
	"github.com/stamphq/stamp/httpapi"
)

const (
	tenant  = "loop"
	service = "web"
	// serve is the ledger's service command, replaced by crash.
	serve = "command: [bin/ledger, serve]"
	// crash serves on the first start, and exits 4 at once on every later
	// one, saying "starting" first: its log counts the starts.
	crash = `command: [sh, -c, "if [ -e ${tenant.dir}/served ]; then echo starting; echo 'config: DATABASE_URL is corrupt' >&2; exit 4; fi; ` +
		`touch ${tenant.dir}/served; exec $STAMP_BUNDLE/bin/ledger serve"]`
	// wait bounds each wait of the setup: the tenant being ready, the
	// incident showing the crash.
	wait = 2 * time.Minute
)

// bench holds what one run built and started.
type bench struct {
	cfg  config
	log  io.Writer // progress
	root string    // module root
	tmp  string    // everything the run writes lives here
	srv  *benchkit.Server
}

// newBench finds the module root and makes the run's temporary directory.
func newBench(ctx context.Context, cfg config, log io.Writer) (*bench, error) {
	root, err := benchkit.ModuleRoot(ctx)
	if err != nil {
		return nil, err
	}
	tmp, err := benchkit.TempDir("stamp-bench-crashloop-")
	if err != nil {
		return nil, err
	}
	// A server run as root gives each tenant a user of its own, which
	// must pass through to the data dir.
	if err := os.Chmod(tmp, 0o711); err != nil {
		return nil, errors.Join(fmt.Errorf("let tenants' users through %s: %w", tmp, err), benchkit.RemoveAll(tmp))
	}
	return &bench{cfg: cfg, log: log, root: root, tmp: tmp}, nil
}

// measure builds, starts the server and the tenant, and reads both
// windows.
func (b *bench) measure(ctx context.Context) (*result, error) {
	res := &result{nproc: runtime.NumCPU(), goVersion: runtime.Version(), commit: benchkit.Commit(ctx, b.root), load: benchkit.LoadAverage()}
	dir, err := b.build(ctx)
	if err != nil {
		return nil, err
	}
	if err := b.start(ctx, dir); err != nil {
		return nil, err
	}
	bp, err := b.srv.Push(ctx, dir)
	if err != nil {
		return nil, err
	}
	b.progress("create tenant %s of %s", tenant, bp)
	if _, err := b.srv.Client.CreateTenant(ctx, httpapi.CreateTenantRequest{Name: tenant, Blueprint: bp}); err != nil {
		return nil, fmt.Errorf("create tenant %s: %w", tenant, err)
	}
	if err := b.waitReady(ctx); err != nil {
		return nil, err
	}
	if err := benchkit.Sleep(ctx, b.cfg.settle); err != nil {
		return nil, err
	}
	b.progress("serving: window of %s", b.cfg.window)
	if res.serving, err = b.window(ctx); err != nil {
		return nil, err
	}
	if err := b.kill(); err != nil {
		return nil, err
	}
	if res.incident, err = b.waitIncident(ctx); err != nil {
		return nil, err
	}
	before, err := b.starts(ctx)
	if err != nil {
		return nil, err
	}
	b.progress("crash-looping: window of %s", b.cfg.window)
	if res.looping, err = b.window(ctx); err != nil {
		return nil, err
	}
	after, err := b.starts(ctx)
	if err != nil {
		return nil, err
	}
	res.starts = after - before
	return res, nil
}

// build compiles stamp and the ledger and writes the blueprint directory
// to push: the ledger's, its service command replaced by crash.
func (b *bench) build(ctx context.Context) (string, error) {
	b.progress("build stamp and ledger")
	ledger := filepath.Join(b.tmp, "bin", "ledger")
	for _, args := range [][]string{
		{"-o", filepath.Join(b.tmp, "bin", "stamp"), "./cmd/stamp"},
		{"-ldflags", "-X main.release=2", "-o", ledger, "./examples/ledger"},
	} {
		if err := benchkit.GoBuild(ctx, b.root, args...); err != nil {
			return "", err
		}
	}
	dir, err := benchkit.BlueprintDir(filepath.Join(b.root, "examples/ledger/stamp.yaml"), ledger, filepath.Join(b.tmp, "blueprint"))
	if err != nil {
		return "", err
	}
	manifest := filepath.Join(dir, "stamp.yaml")
	y, err := os.ReadFile(manifest)
	if err != nil {
		return "", err
	}
	if !strings.Contains(string(y), serve) {
		return "", fmt.Errorf("the ledger's blueprint has no %q to replace", serve)
	}
	return dir, os.WriteFile(manifest, []byte(strings.Replace(string(y), serve, crash, 1)), 0o644)
}

// start starts the server with a block of ports in 25000-32767, clear of
// the default block, the end-to-end tests' and the kernel's ephemeral
// ports.
func (b *bench) start(ctx context.Context, dir string) error {
	lo := 25000 + rand.IntN(32768-25000-10)
	ports := fmt.Sprintf("%d-%d", lo, lo+9)
	b.progress("start stamp server (--ports %s)", ports)
	srv, err := benchkit.StartServer(ctx, filepath.Join(b.tmp, "bin", "stamp"), filepath.Join(b.tmp, "data"), filepath.Join(b.tmp, "server.log"),
		"--ports", ports, "--incident-grace", "1s")
	b.srv = srv // even on failure, so cleanup kills what did start
	return err
}

// waitReady waits until the tenant is ready; failed is an error.
func (b *bench) waitReady(ctx context.Context) error {
	return b.poll(ctx, "tenant "+tenant+" to be ready", func() (bool, error) {
		t, err := b.srv.Client.GetTenant(ctx, tenant)
		if err != nil {
			return false, err
		}
		if t.Status.Phase == stamp.PhaseFailed {
			return false, fmt.Errorf("tenant %s failed at step %s: %s", tenant, t.Status.FailedStep, t.Status.Message)
		}
		return t.Ready(), nil
	})
}

// kill sends SIGKILL to the tenant's ledger process, by its pid, checked
// to be the tenant's just before.
func (b *bench) kill() error {
	procs, err := benchkit.TenantProcs(b.srv.Data)
	if err != nil {
		return err
	}
	if len(procs) != 1 || procs[0].Tenant != tenant {
		return fmt.Errorf("tenant processes %v, want the one %s of %s", procs, service, tenant)
	}
	if _, ok := benchkit.TenantProcOf(b.srv.Data, procs[0].PID); !ok {
		return fmt.Errorf("the %s process of %s (pid %d) went before the kill", service, tenant, procs[0].PID)
	}
	b.progress("kill %s of %s (pid %d): its next starts crash", procs[0].ID, tenant, procs[0].PID)
	return syscall.Kill(procs[0].PID, syscall.SIGKILL)
}

// waitIncident waits until the tenant's open incident shows the crash
// (its exit status and last lines), and returns its id.
func (b *bench) waitIncident(ctx context.Context) (string, error) {
	var id string
	err := b.poll(ctx, "the incident to show the crash", func() (bool, error) {
		list, err := b.srv.Client.Incidents(ctx, stamp.IncidentFilter{Tenant: tenant})
		if err != nil {
			return false, err
		}
		for _, inc := range list {
			if inc.State == stamp.IncidentOpen && strings.Contains(inc.Message, "exit status 4") && strings.Contains(inc.LastLogs, "DATABASE_URL is corrupt") {
				id = inc.ID
				return true, nil
			}
		}
		return false, nil
	})
	return id, err
}

// starts counts the starts of the crashing service so far, by the
// "starting" lines of its log.
func (b *bench) starts(ctx context.Context) (int, error) {
	rc, err := b.srv.Client.Logs(ctx, tenant, service, stamp.LogOptions{})
	if err != nil {
		return 0, fmt.Errorf("logs of %s: %w", tenant, err)
	}
	defer rc.Close()
	out, err := io.ReadAll(rc)
	if err != nil {
		return 0, fmt.Errorf("logs of %s: %w", tenant, err)
	}
	return strings.Count(string(out), "starting\n"), nil
}

// window reads the server's CPU over one window in which the bench sends
// it nothing.
func (b *bench) window(ctx context.Context) (window, error) {
	w := window{loadBefore: benchkit.LoadAverage()}
	cpu0, err := b.srv.CPU()
	if err != nil {
		return w, err
	}
	t0 := time.Now()
	if err := benchkit.Sleep(ctx, b.cfg.window); err != nil {
		return w, err
	}
	cpu1, err := b.srv.CPU()
	if err != nil {
		return w, err
	}
	w.wall, w.cpu, w.loadAfter = time.Since(t0), cpu1-cpu0, benchkit.LoadAverage()
	return w, b.srv.Alive()
}

// poll calls cond every 250ms until it holds or fails, or wait passes.
func (b *bench) poll(ctx context.Context, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(wait)
	for {
		if err := b.srv.Alive(); err != nil {
			return err
		}
		ok, err := cond()
		if ok || err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up after %s waiting for %s", wait, what)
		}
		if err := benchkit.Sleep(ctx, 250*time.Millisecond); err != nil {
			return fmt.Errorf("wait for %s: %w", what, err)
		}
	}
}

// cleanup kills the server and its tenant's processes, by pid, removes
// what its driver keeps on the host, and the temporary directory.
func (b *bench) cleanup() error {
	var errs []error
	if b.srv != nil {
		errs = append(errs, b.srv.Stop())
		// The server runs with the default --tenant-net.
		_, err := benchkit.SweepHost(b.srv.Data, "100.64.0.0/10", true)
		errs = append(errs, err)
	}
	errs = append(errs, benchkit.RemoveAll(b.tmp))
	return errors.Join(errs...)
}

// progress writes one line of progress to the run's log.
func (b *bench) progress(format string, args ...any) { benchkit.Progress(b.log, format, args...) }
