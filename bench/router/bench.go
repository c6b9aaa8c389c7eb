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
	"runtime"
	"strings"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bench/internal/benchkit"
	"github.com/stamphq/stamp/httpapi"
)

const (
	// tenantName is the one tenant of the run.
	tenantName = "acme"
	// path is what every request asks for: the ledger's cheapest page,
	// a small JSON of known length, so that the proxies' work shows.
	path = "/version"
)

// The fronts of the one instance.
const (
	direct    = "direct"
	viaNginx  = "nginx"
	viaRouter = "stamp server's router"
	// viaStampRouter is `stamp router` over a store of the one tenant:
	// the data plane without the control plane beside it.
	viaStampRouter = "stamp router"
	// viaBare and viaBareFlush are bareproxy, the floor of a Go reverse
	// proxy, with FlushInterval 0 as the router has it and with -1.
	viaBare      = "bare Go proxy"
	viaBareFlush = "bare Go proxy, flush -1"
	// viaFast is fastproxy, a proxy on fasthttp instead of net/http.
	viaFast = "fasthttp proxy"
)

// frontOrder is the order of the fronts in the grid and its report.
var frontOrder = []string{direct, viaNginx, viaRouter, viaStampRouter, viaBare, viaBareFlush, viaFast}

// serverFlags turn tenant isolation off: the instance is then a plain
// process on a loopback port, as the one nginx proxies to must be.
var serverFlags = []string{"--tenant-uids", "none", "--tenant-cgroups", "none", "--tenant-net", "none"}

// bench holds what one run built and started.
type bench struct {
	cfg   config
	log   io.Writer // progress
	root  string    // module root
	tmp   string    // everything the run writes lives here
	stamp string    // the stamp binary
	bare  string    // the bareproxy binary
	fast  string    // the fastproxy binary

	server   *benchkit.Server
	tenant   *stamp.Tenant // as the server had it once ready
	endpoint string        // its instance's host:port
	nginxBin string        // empty when there is no nginx
	// noNginx says why nginx is not measured; empty when it is.
	noNginx string
	nginx   *nginx
	// procs are every `stamp router`, bareproxy and fastproxy started,
	// for cleanup.
	procs []*proxyProc
	// oneRoute is the `stamp router` over the one tenant; bares the bare
	// proxies, FlushInterval 0 then -1; fastProxy the fasthttp one.
	oneRoute  front
	bares     []front
	fastProxy front
}

// newBench finds the module root and makes the run's temporary directory,
// open to passing through (0711): nginx's workers run as nobody.
func newBench(ctx context.Context, cfg config, log io.Writer) (*bench, error) {
	root, err := benchkit.ModuleRoot(ctx)
	if err != nil {
		return nil, err
	}
	tmp, err := benchkit.TempDir("stamp-bench-router-")
	if err != nil {
		return nil, err
	}
	b := &bench{cfg: cfg, log: log, root: root, tmp: tmp, stamp: filepath.Join(tmp, "bin", "stamp"),
		bare: filepath.Join(tmp, "bin", "bareproxy"), fast: filepath.Join(tmp, "bin", "fastproxy")}
	if err := os.Chmod(tmp, 0o711); err != nil {
		return nil, errors.Join(fmt.Errorf("open the temporary directory to nginx's workers: %w", err), benchkit.RemoveAll(tmp))
	}
	return b, nil
}

// setUp builds stamp, the ledger, bareproxy and fastproxy, starts the
// server, creates the tenant and waits until it is ready, and starts in
// front of its instance nginx (or notes why not), `stamp router` over a
// store of the tenant alone, the bare proxies and the fasthttp one.
func (b *bench) setUp(ctx context.Context) error {
	b.progress("build stamp, the ledger, bareproxy and fastproxy")
	ledger := filepath.Join(b.tmp, "bin", "ledger")
	for _, args := range [][]string{{"-o", b.stamp, "./cmd/stamp"}, {"-ldflags", "-X main.release=2", "-o", ledger, "./examples/ledger"}, {"-o", b.bare, "./bench/router/bareproxy"}, {"-o", b.fast, "./bench/router/fastproxy"}} {
		if err := benchkit.GoBuild(ctx, b.root, args...); err != nil {
			return err
		}
	}
	bp, err := benchkit.BlueprintDir(filepath.Join(b.root, "examples", "ledger", "stamp.yaml"), ledger, filepath.Join(b.tmp, "blueprint"))
	if err != nil {
		return err
	}
	b.progress("start stamp server and create tenant %s", tenantName)
	srv, err := benchkit.StartServer(ctx, b.stamp, filepath.Join(b.tmp, "data"), filepath.Join(b.tmp, "server.log"), serverFlags...)
	b.server = srv // even on failure, so cleanup kills what did start
	if err != nil {
		return err
	}
	name, err := srv.Push(ctx, bp)
	if err != nil {
		return err
	}
	if _, err := srv.Client.CreateTenant(ctx, httpapi.CreateTenantRequest{Name: tenantName, Blueprint: name}); err != nil {
		return fmt.Errorf("create tenant %s: %w", tenantName, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := srv.WaitReady(wctx, []string{tenantName}, 50*time.Millisecond, func(int, int) {}); err != nil {
		return err
	}
	if b.tenant, err = srv.Client.GetTenant(ctx, tenantName); err != nil {
		return fmt.Errorf("read tenant %s: %w", tenantName, err)
	}
	if len(b.tenant.Status.Endpoints) != 1 {
		return fmt.Errorf("tenant %s has endpoints %q, want one", tenantName, b.tenant.Status.Endpoints)
	}
	b.endpoint = b.tenant.Status.Endpoints[0]

	if err := b.startNginx(ctx); err != nil {
		return err
	}
	if b.oneRoute, err = b.startRoutes(ctx, 1); err != nil {
		return err
	}
	for _, flush := range []time.Duration{0, -1} {
		f, err := b.startBare(ctx, flush)
		if err != nil {
			return err
		}
		b.bares = append(b.bares, f)
	}
	b.fastProxy, err = b.startFast(ctx)
	return err
}

// startNginx starts nginx in front of the instance, or notes why there
// is none.
func (b *bench) startNginx(ctx context.Context) error {
	var err error
	if b.nginxBin, err = findNginx(ctx, b.root); err != nil {
		b.noNginx = err.Error()
		b.progress("nginx: skipped, none installed (%v)", err)
		return nil
	}
	b.progress("start nginx (%s) in front of %s", b.nginxBin, b.endpoint)
	b.nginx, err = startNginx(ctx, b.nginxBin, filepath.Join(b.tmp, "nginx"), b.endpoint, runtime.NumCPU(), hostOf(""), path)
	return err
}

// hostOf returns the Host header naming the tenant on a front at addr
// (its port): the router needs it, nginx and the ledger ignore it.
func hostOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	if port == "" {
		return tenantName + ".localhost"
	}
	return tenantName + ".localhost:" + port
}

// front is one way to the instance, measured in turn.
type front struct {
	name string
	addr string
	// cpu reads the CPU time the proxy has used; nil for direct.
	cpu func() (time.Duration, error)
}

// fronts returns the fronts of the grid, nginx's only if it runs.
func (b *bench) fronts() []front {
	fs := []front{{name: direct, addr: b.endpoint}}
	if b.nginx != nil {
		fs = append(fs, front{name: viaNginx, addr: b.nginx.addr, cpu: b.nginx.cpu})
	}
	one := b.oneRoute
	one.name = viaStampRouter
	fs = append(fs, front{name: viaRouter, addr: b.server.Router, cpu: b.server.CPU}, one)
	fs = append(fs, b.bares...)
	return append(fs, b.fastProxy)
}

// measure runs the grid, then the route-table cells.
func (b *bench) measure(ctx context.Context) (*report, error) {
	rep := &report{cfg: b.cfg, machine: b.readMachine(ctx), noNginx: b.noNginx, loadBefore: benchkit.LoadAverage()}
	if b.nginx != nil {
		rep.nginx = fmt.Sprintf("%s with %d workers", b.nginx.version, b.nginx.workers)
	}
	for _, conns := range b.cfg.conns {
		cells, err := b.measureTurns(ctx, b.fronts(), conns, b.cfg.window)
		if err != nil {
			return nil, err
		}
		rep.cells = append(rep.cells, cells...)
	}
	if b.cfg.routes > 0 {
		var err error
		if rep.routes, err = b.measureRouteTable(ctx); err != nil {
			return nil, err
		}
	}
	rep.loadAfter = benchkit.LoadAverage()
	return rep, nil
}

// measureTurns measures fronts at conns connections: a warm-up of each,
// then cfg.blocks slices of window each, the fronts taking turns at
// going first, so that the machine's drift falls on all alike.
func (b *bench) measureTurns(ctx context.Context, fronts []front, conns int, window time.Duration) ([]cell, error) {
	cells := make([]cell, len(fronts))
	for i, f := range fronts {
		cells[i] = cell{front: f.name, conns: conns, res: &loadResult{}}
		if err := b.warm(ctx, f, conns); err != nil {
			return nil, fmt.Errorf("%s, %d connections: warm up: %w", f.name, conns, err)
		}
	}
	slice := window / time.Duration(b.cfg.blocks)
	for blk := range b.cfg.blocks {
		b.progress("%d connections: block %d of %d", conns, blk+1, b.cfg.blocks)
		for k := range fronts {
			i := (blk + k) % len(fronts)
			if err := b.load(ctx, fronts[i], &cells[i], slice); err != nil {
				return nil, fmt.Errorf("%s, %d connections: %w", fronts[i].name, conns, err)
			}
		}
	}
	return cells, nil
}

// warm loads front for the warm-up, not measured: connections open on
// both sides of a proxy, caches fill.
func (b *bench) warm(ctx context.Context, f front, conns int) error {
	if b.cfg.warmup <= 0 {
		return nil
	}
	_, err := runLoad(ctx, target{addr: f.addr, host: hostOf(f.addr), path: path}, conns, b.cfg.warmup)
	return err
}

// load loads front with c.conns connections for window and adds what it
// measured to c, the proxy's CPU time around it included.
func (b *bench) load(ctx context.Context, f front, c *cell, window time.Duration) error {
	var cpu0 time.Duration
	if f.cpu != nil {
		var err error
		if cpu0, err = f.cpu(); err != nil {
			return err
		}
	}
	res, err := runLoad(ctx, target{addr: f.addr, host: hostOf(f.addr), path: path}, c.conns, window)
	if err != nil {
		return err
	}
	if f.cpu != nil {
		cpu1, err := f.cpu()
		if err != nil {
			return err
		}
		c.cpu += cpu1 - cpu0
	}
	c.res.add(res)
	return b.server.Alive()
}

// measureRouteTable measures `stamp router` over 1 route (the grid's)
// and over cfg.routes, both running, taking turns as the fronts of the
// grid do. Over the two windows the larger table's full reload, every
// 30s, comes at least once, and its CPU is taken from whichever router
// is measured.
func (b *bench) measureRouteTable(ctx context.Context) ([]cell, error) {
	many, err := b.startRoutes(ctx, b.cfg.routes)
	if err != nil {
		return nil, err
	}
	b.progress("route tables: 1 and %s routes", thousands(b.cfg.routes))
	cells, err := b.measureTurns(ctx, []front{b.oneRoute, many}, b.cfg.routesConns, b.cfg.routesWindow)
	if err != nil {
		return nil, err
	}
	cells[0].routes, cells[1].routes = 1, b.cfg.routes
	return cells, nil
}

// startRoutes starts `stamp router` over a new store of routes tenants,
// the measured one among them, and returns its front. It runs until
// cleanup.
func (b *bench) startRoutes(ctx context.Context, routes int) (front, error) {
	name := routesFront(routes)
	b.progress("%s: fill its store and start it", name)
	dir := routesDir(b.tmp, routes)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return front{}, fmt.Errorf("make the router's data dir: %w", err)
	}
	if err := fillStore(ctx, filepath.Join(dir, "stamp.db"), b.tenant, routes); err != nil {
		return front{}, err
	}
	addr, err := benchkit.FreePort()
	if err != nil {
		return front{}, err
	}
	cmd := exec.Command(b.stamp, "router", "--data", dir, "--router-listen", addr, "--log-level", "warn")
	return b.startProxy(ctx, name, cmd, addr, filepath.Join(dir, "router.log"))
}

// startBare starts bareproxy with FlushInterval flush in front of the
// instance and returns its front. It runs until cleanup.
func (b *bench) startBare(ctx context.Context, flush time.Duration) (front, error) {
	name := viaBare
	if flush != 0 {
		name = viaBareFlush
	}
	b.progress("%s: start it", name)
	addr, err := benchkit.FreePort()
	if err != nil {
		return front{}, err
	}
	cmd := exec.Command(b.bare, "-listen", addr, "-upstream", b.endpoint, "-flush-interval", flush.String())
	return b.startProxy(ctx, name, cmd, addr, filepath.Join(b.tmp, fmt.Sprintf("bareproxy-flush%s.log", flush)))
}

// startFast starts fastproxy in front of the instance and returns its
// front. It runs until cleanup.
func (b *bench) startFast(ctx context.Context) (front, error) {
	b.progress("%s: start it", viaFast)
	addr, err := benchkit.FreePort()
	if err != nil {
		return front{}, err
	}
	cmd := exec.Command(b.fast, "-listen", addr, "-upstream", b.endpoint)
	return b.startProxy(ctx, viaFast, cmd, addr, filepath.Join(b.tmp, "fastproxy.log"))
}

// startProxy starts cmd, a proxy that listens on addr, logging to
// logPath, keeps it for cleanup and waits until it proxies; name is its
// front's.
func (b *bench) startProxy(ctx context.Context, name string, cmd *exec.Cmd, addr, logPath string) (front, error) {
	p, err := startProxyProc(ctx, cmd, addr, logPath, hostOf(""), path)
	if p != nil {
		b.procs = append(b.procs, p)
	}
	if err != nil {
		return front{}, fmt.Errorf("%s: %w", name, err)
	}
	return front{name: name, addr: addr, cpu: func() (time.Duration, error) { return benchkit.CPUTime(p.proc.PID()) }}, nil
}

// readMachine reads the machine's figures and the commit of the module.
func (b *bench) readMachine(ctx context.Context) machine {
	m := machine{nproc: runtime.NumCPU(), cpu: cpuModel(), goVersion: runtime.Version(), commit: benchkit.Commit(ctx, b.root)}
	m.memTotalKiB, _ = benchkit.MemTotalKiB() // 0: unknown
	if k, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(k))
	}
	return m
}

// cleanup stops nginx, the routers, the other proxies and the server,
// kills the tenant's processes and removes the temporary directory. It
// runs whatever the run's context became (Ctrl-C ends that one).
func (b *bench) cleanup() error {
	errs := []error{b.nginx.stop()}
	for _, p := range b.procs {
		p.stop()
	}
	if b.server != nil {
		errs = append(errs, b.server.Stop())
	}
	errs = append(errs, benchkit.RemoveAll(b.tmp))
	return errors.Join(errs...)
}

// progress writes one line of progress to the run's log.
func (b *bench) progress(format string, args ...any) { benchkit.Progress(b.log, format, args...) }
