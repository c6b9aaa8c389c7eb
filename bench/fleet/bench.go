package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bench/internal/benchkit"
	"github.com/stamphq/stamp/httpapi"
	"golang.org/x/sync/errgroup"
)

// tenantNet is the server's --tenant-net with -isolation host: its
// default, which cleanup sweeps.
const tenantNet = "100.64.0.0/10"

// bench holds what one run built and started.
type bench struct {
	cfg  config
	log  io.Writer // progress
	root string    // module root
	tmp  string    // everything the run writes lives here
	srv  *benchkit.Server
	bp   string // the blueprint the tenants use
}

// newBench finds the module root and makes the run's temporary directory.
func newBench(ctx context.Context, cfg config, log io.Writer) (*bench, error) {
	root, err := benchkit.ModuleRoot(ctx)
	if err != nil {
		return nil, err
	}
	tmp, err := benchkit.TempDir("stamp-bench-fleet-")
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

// measure sets up, then creates and deletes the fleet, reading what the
// server holds at rest, with the fleet alive and after the deletes.
func (b *bench) measure(ctx context.Context) (*result, error) {
	res := &result{cfg: b.cfg, nproc: runtime.NumCPU(), goVersion: runtime.Version(), commit: benchkit.Commit(ctx, b.root), loadBefore: benchkit.LoadAverage()}
	var err error
	if res.isolation, err = b.setUp(ctx); err != nil {
		return nil, err
	}
	if res.atRest, err = b.held(ctx); err != nil {
		return nil, err
	}
	names := make([]string, b.cfg.n)
	for i := range names {
		names[i] = fmt.Sprintf("f-%d", i+1)
	}
	if res.creates, err = b.inTenths(ctx, "create", names, b.create); err != nil {
		return nil, err
	}
	if res.alive, err = b.held(ctx); err != nil {
		return nil, err
	}
	if res.deletes, err = b.inTenths(ctx, "delete", names, b.delete); err != nil {
		return nil, err
	}
	if err := b.waitNoProcess(ctx); err != nil {
		return nil, err
	}
	if res.after, res.settled, err = b.settle(ctx, res.atRest); err != nil {
		return nil, err
	}
	res.loadAfter = benchkit.LoadAverage()
	return res, nil
}

// setUp builds stamp and the ledger, starts the server and pushes the
// ledger's blueprint. It returns what the server says it enforces.
func (b *bench) setUp(ctx context.Context) ([]string, error) {
	b.progress("build stamp and ledger")
	stampBin, ledger := filepath.Join(b.tmp, "bin", "stamp"), filepath.Join(b.tmp, "bin", "ledger")
	for _, args := range [][]string{
		{"-o", stampBin, "./cmd/stamp"},
		{"-ldflags", "-X main.release=2", "-o", ledger, "./examples/ledger"},
	} {
		if err := benchkit.GoBuild(ctx, b.root, args...); err != nil {
			return nil, err
		}
	}
	dir, err := benchkit.BlueprintDir(filepath.Join(b.root, "examples/ledger/stamp.yaml"), ledger, filepath.Join(b.tmp, "blueprint"))
	if err != nil {
		return nil, err
	}
	// A block of tenant ports of its own, clear of the default block, the
	// end-to-end tests' and the kernel's ephemeral ports.
	size := 2 * b.cfg.n
	lo := 20000 + rand.IntN(32768-20000-size)
	flags := []string{"--ports", fmt.Sprintf("%d-%d", lo, lo+size-1)}
	if b.cfg.isolation == "none" {
		flags = append(flags, "--tenant-uids", "none", "--tenant-cgroups", "none", "--tenant-net", "none")
	}
	data := filepath.Join(b.tmp, "data")
	isolation, err := checkIsolation(ctx, stampBin, data, flags)
	if err != nil {
		return nil, err
	}
	b.progress("start stamp server %v", flags)
	srv, err := benchkit.StartServer(ctx, stampBin, data, filepath.Join(b.tmp, "server.log"), flags...)
	b.srv = srv // even on failure, so cleanup kills what did start
	if err != nil {
		return nil, err
	}
	b.bp, err = srv.Push(ctx, dir)
	return isolation, err
}

// checkIsolation runs `stamp server --check` with flags on data and
// returns its lines on users, limits and network.
func checkIsolation(ctx context.Context, stampBin, data string, flags []string) ([]string, error) {
	out, err := exec.CommandContext(ctx, stampBin, append([]string{"server", "--check", "--data", data}, flags...)...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("stamp server --check: %w\n%s", err, out)
	}
	var lines []string
	for line := range strings.Lines(string(out)) {
		for _, part := range []string{"users:", "limits:", "network:"} {
			if strings.HasPrefix(line, part) {
				lines = append(lines, strings.TrimSpace(line))
			}
		}
	}
	return lines, nil
}

// tenth is what one tenth of the creations or deletions took.
type tenth struct {
	tenants int
	wall    time.Duration   // from the first call to the last tenant done
	cpu     time.Duration   // the server's user and system CPU time over wall
	each    []time.Duration // each tenant's, from its call to done
}

// inTenths calls do for every name, a tenth of them at a time and
// -concurrency at once, and times each tenth.
func (b *bench) inTenths(ctx context.Context, what string, names []string, do func(ctx context.Context, name string) error) ([]tenth, error) {
	var tenths []tenth
	size := len(names) / 10
	for k := range 10 {
		part := names[k*size : (k+1)*size]
		if k == 9 {
			part = names[k*size:]
		}
		b.progress("%s tenants %d-%d of %d", what, k*size+1, k*size+len(part), len(names))
		t := tenth{tenants: len(part), each: make([]time.Duration, len(part))}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(b.cfg.concurrency)
		cpu0, err := b.srv.CPU()
		if err != nil {
			return nil, err
		}
		start := time.Now()
		for i, name := range part {
			g.Go(func() error {
				tctx, cancel := context.WithTimeout(gctx, b.cfg.timeout)
				defer cancel()
				t0 := time.Now()
				if err := do(tctx, name); err != nil {
					return err
				}
				t.each[i] = time.Since(t0)
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		t.wall = time.Since(start)
		cpu1, err := b.srv.CPU()
		if err != nil {
			return nil, err
		}
		t.cpu = cpu1 - cpu0
		tenths = append(tenths, t)
	}
	return tenths, nil
}

// create asks for tenant name and waits until it answers 200 through the
// router.
func (b *bench) create(ctx context.Context, name string) error {
	if _, err := b.srv.Client.CreateTenant(ctx, httpapi.CreateTenantRequest{Name: name, Blueprint: b.bp}); err != nil {
		return fmt.Errorf("create tenant %s: %w", name, err)
	}
	_, port, _ := net.SplitHostPort(b.srv.Router)
	if err := benchkit.WaitOK(ctx, "http://"+b.srv.Router+"/", name+".localhost:"+port, b.srv.Exited()); err != nil {
		return fmt.Errorf("tenant %s: %w", name, err)
	}
	return nil
}

// delete deletes tenant name and waits until the API no longer knows it.
func (b *bench) delete(ctx context.Context, name string) error {
	if _, err := b.srv.Client.DeleteTenant(ctx, name, httpapi.DeleteOptions{Purge: true}); err != nil {
		return fmt.Errorf("delete tenant %s: %w", name, err)
	}
	for {
		_, err := b.srv.Client.GetTenant(ctx, name)
		if stamp.ErrorCode(err) == stamp.ENOTFOUND {
			return nil
		}
		if err := b.srv.Alive(); err != nil {
			return err
		}
		if err := benchkit.Sleep(ctx, 50*time.Millisecond); err != nil {
			return fmt.Errorf("delete tenant %s: not gone: %w", name, err)
		}
	}
}

// waitNoProcess waits, up to -settle, until no tenant process of the
// server's data dir is left.
func (b *bench) waitNoProcess(ctx context.Context) error {
	deadline := time.Now().Add(b.cfg.settle)
	for {
		procs, err := benchkit.TenantProcs(b.srv.Data)
		if err != nil {
			return err
		}
		if len(procs) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d tenant processes still run %s after the last delete, such as pid %d (%s of %s)", len(procs), b.cfg.settle, procs[0].PID, procs[0].ID, procs[0].Tenant)
		}
		if err := benchkit.Sleep(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
}

// settle reads what the server holds every second until it is within the
// margins of atRest or -settle has passed, and returns the last reading
// and how long after the deletes it was taken.
func (b *bench) settle(ctx context.Context, atRest held) (held, time.Duration, error) {
	b.progress("wait up to %s for the server to give back what the tenants took", b.cfg.settle)
	start := time.Now()
	for {
		h, err := b.held(ctx)
		if err != nil {
			return h, 0, err
		}
		waited := time.Since(start)
		if len(excess(atRest, h, b.cfg.max)) == 0 || waited >= b.cfg.settle {
			return h, waited, nil
		}
		if err := benchkit.Sleep(ctx, time.Second); err != nil {
			return h, waited, err
		}
	}
}

// held reads what the server holds once the bench's own idle connections
// to it are closed: after closing them, until two readings 100ms apart
// agree on its open files, for a second at most.
func (b *bench) held(ctx context.Context) (held, error) {
	benchkit.CloseIdlePolls()
	b.srv.Client.HTTP.CloseIdleConnections()
	last, err := readHeld(b.srv.PID())
	for range 10 {
		if err != nil {
			return last, err
		}
		if err := benchkit.Sleep(ctx, 100*time.Millisecond); err != nil {
			return last, err
		}
		var h held
		if h, err = readHeld(b.srv.PID()); err == nil && h.fds == last.fds {
			return h, nil
		}
		last = h
	}
	return last, err
}

// cleanup kills the server and its tenants' processes, by pid, removes
// what its driver keeps on the host, and the temporary directory.
func (b *bench) cleanup() error {
	var errs []error
	if b.srv != nil {
		errs = append(errs, b.srv.Stop())
		_, err := benchkit.SweepHost(b.srv.Data, tenantNet, b.cfg.isolation == "host")
		errs = append(errs, err)
	}
	errs = append(errs, benchkit.RemoveAll(b.tmp))
	return errors.Join(errs...)
}

// progress writes one line of progress to the run's log.
func (b *bench) progress(format string, args ...any) { benchkit.Progress(b.log, format, args...) }
