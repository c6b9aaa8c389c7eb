package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bench/internal/benchkit"
	"github.com/stamphq/stamp/blueprint"
	"github.com/stamphq/stamp/httpapi"
	"golang.org/x/sync/errgroup"
)

const (
	// maxFleet bounds -tenants: the tenant port block must fit in
	// 25000-32767, below the kernel's ephemeral ports.
	maxFleet = 7000
	// sparePorts are tenant ports beyond one per tenant.
	sparePorts = 100
	// perTenantMemKiB is what the fleet needs per tenant: a ledger process
	// is about 15 MiB resident; the rest is headroom for the hooks that
	// run while it is created.
	perTenantMemKiB = 20 << 10
	// reserveMemKiB is left to the server, the bench and the machine.
	reserveMemKiB = 1 << 20
	// service is the ledger's one service, whose process a kill ends.
	service = "web"
)

// bench holds what one run built and started.
type bench struct {
	cfg  config
	log  io.Writer // progress
	root string    // module root
	tmp  string    // everything the run writes lives here
	// stamp is the built stamp binary; bpDir the blueprint pushed and bp
	// that blueprint, parsed.
	stamp string
	bpDir string
	bp    *blueprint.Blueprint
	// servers are every server started and not yet stopped.
	servers []*benchkit.Server
}

// newBench finds the module root and makes the run's temporary directory.
func newBench(ctx context.Context, cfg config, log io.Writer) (*bench, error) {
	root, err := benchkit.ModuleRoot(ctx)
	if err != nil {
		return nil, err
	}
	tmp, err := benchkit.TempDir("stamp-bench-monitor-")
	if err != nil {
		return nil, err
	}
	return &bench{cfg: cfg, log: log, root: root, tmp: tmp, stamp: filepath.Join(tmp, "bin", "stamp")}, nil
}

// measure runs the whole benchmark: machine, floor, fleet, kills.
func (b *bench) measure(ctx context.Context) (*result, error) {
	res := &result{asked: b.cfg.tenants}
	var err error
	if res.machine, err = readMachine(ctx, b.root); err != nil {
		return nil, err
	}
	if res.tenants, res.scaled, err = fitFleet(b.cfg.tenants, b.cfg.kills, res.machine.memAvailKiB); err != nil {
		return nil, err
	}
	if res.scaled != "" {
		b.progress("%s", res.scaled)
	}
	if err := b.build(ctx); err != nil {
		return nil, err
	}
	web := b.bp.Services[service]
	if web == nil || web.Health == nil {
		return nil, fmt.Errorf("blueprint %s has no %s service with a health probe", b.bp.Ref(), service)
	}
	res.blueprint, res.probe = b.bp.Ref(), *web.Health
	if _, err := exec.LookPath("ss"); err != nil {
		return nil, fmt.Errorf("the probes are counted with ss (iproute2): %w", err)
	}
	if res.floor, err = b.floor(ctx); err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	if err := b.fleet(ctx, res); err != nil {
		return nil, fmt.Errorf("fleet of %d: %w", res.tenants, err)
	}
	return res, nil
}

// fitFleet returns how many of the asked tenants the machine can hold
// with memAvailKiB available and, if fewer, why. Below 50 the cut is
// exact; above, it rounds down to a multiple of 50. A fleet too small for
// the kills is refused.
func fitFleet(asked, kills int, memAvailKiB int64) (int, string, error) {
	need := int64(asked)*perTenantMemKiB + reserveMemKiB
	if memAvailKiB >= need {
		return asked, "", nil
	}
	n := int(max(0, (memAvailKiB-reserveMemKiB)/perTenantMemKiB))
	if n >= 100 {
		n -= n % 50
	}
	if n < kills || n < 1 {
		return 0, "", fmt.Errorf("%d tenants need about %d MiB (%d MiB each and %d MiB spare) and MemAvailable is %d MiB, enough for %d: fewer than -kills %d; free memory or ask fewer",
			asked, need>>10, perTenantMemKiB>>10, reserveMemKiB>>10, memAvailKiB>>10, n, kills)
	}
	return n, fmt.Sprintf("-tenants %d need about %d MiB (%d MiB each and %d MiB spare) but MemAvailable is %d MiB: running %d tenants instead",
		asked, need>>10, perTenantMemKiB>>10, reserveMemKiB>>10, memAvailKiB>>10, n), nil
}

// build compiles stamp and the ledger, and writes the directory to push:
// its stamp.yaml without the build line, next to the prebuilt binary.
func (b *bench) build(ctx context.Context) error {
	b.progress("build stamp and ledger")
	ledger := filepath.Join(b.tmp, "bin", "ledger")
	for _, args := range [][]string{
		{"-o", b.stamp, "./cmd/stamp"},
		// The release the blueprint's build line names.
		{"-ldflags", "-X main.release=2", "-o", ledger, "./examples/ledger"},
	} {
		if err := benchkit.GoBuild(ctx, b.root, args...); err != nil {
			return err
		}
	}
	dir, err := benchkit.BlueprintDir(filepath.Join(b.root, "examples/ledger/stamp.yaml"), ledger, filepath.Join(b.tmp, "blueprint"))
	if err != nil {
		return err
	}
	b.bpDir = dir
	if b.bp, err = blueprint.Load(dir); err != nil {
		return fmt.Errorf("load the ledger's blueprint: %w", err)
	}
	return nil
}

// startServer starts a server named name (its directory under the run's)
// with a block of ports for tenants, and pushes the ledger to it.
func (b *bench) startServer(ctx context.Context, name string, tenants int) (*benchkit.Server, string, error) {
	dir := filepath.Join(b.tmp, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	ports := portBlock(tenants + sparePorts)
	b.progress("%s: start stamp server (--ports %s)", name, ports)
	srv, err := benchkit.StartServer(ctx, b.stamp, filepath.Join(dir, "data"), filepath.Join(dir, "server.log"), "--ports", ports)
	if srv != nil {
		b.servers = append(b.servers, srv) // even on failure, so cleanup kills what did start
	}
	if err != nil {
		return nil, "", err
	}
	if _, err := srv.Push(ctx, b.bpDir); err != nil {
		return nil, "", err
	}
	return srv, ports, nil
}

// portBlock returns a random block of n tenant ports in 25000-32767:
// clear of the default block (10000-19999), the end-to-end tests'
// (20000-24999) and the kernel's ephemeral ports (from 32768).
func portBlock(n int) string {
	lo := 25000 + rand.IntN(32768-25000-n+1)
	return fmt.Sprintf("%d-%d", lo, lo+n-1)
}

// floor measures a server with no tenant over an idle window.
func (b *bench) floor(ctx context.Context) (_ window, err error) {
	srv, _, err := b.startServer(ctx, "floor", 0)
	if err != nil {
		return window{}, err
	}
	defer func() {
		if serr := b.stopServer(srv); serr != nil && err == nil {
			err = serr
		}
	}()
	if err := benchkit.Sleep(ctx, b.cfg.settle); err != nil {
		return window{}, err
	}
	b.progress("floor: idle window of %s, no tenant", b.cfg.window)
	return b.idle(ctx, srv, 0, "")
}

// fleet creates the fleet on a server of its own, measures its idle
// window, profiles it, kills processes and checks what followed.
func (b *bench) fleet(ctx context.Context, res *result) (err error) {
	srv, ports, err := b.startServer(ctx, "fleet", res.tenants)
	if err != nil {
		return err
	}
	defer func() {
		if serr := b.stopServer(srv); serr != nil && err == nil {
			err = serr
		}
	}()
	res.ports = ports
	tenants := names("t", res.tenants)
	start := time.Now()
	if err := b.createTenants(ctx, srv, tenants); err != nil {
		return err
	}
	res.setup = time.Since(start)
	b.progress("fleet: all %d ready after %.1f s; settle %s so the monitor has seen each", len(tenants), res.setup.Seconds(), b.cfg.settle)
	if err := benchkit.Sleep(ctx, b.cfg.settle); err != nil {
		return err
	}
	b.progress("fleet: idle window of %s", b.cfg.window)
	if res.fleet, err = b.idle(ctx, srv, len(tenants), ports); err != nil {
		return err
	}
	if res.memory, err = srv.Memory(); err != nil {
		return err
	}
	if b.cfg.perf > 0 {
		b.progress("fleet: profile the server for %s (perf record)", b.cfg.perf)
		if res.profile, err = b.profile(ctx, srv); err != nil {
			return err
		}
	}
	res.killLoadBefore = benchkit.LoadAverage()
	if res.kills, err = b.killAll(ctx, srv, tenants); err != nil {
		return err
	}
	res.killLoadAfter = benchkit.LoadAverage()
	return b.check(ctx, srv, tenants, res)
}

// names returns prefix-0001, prefix-0002, ...
func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%04d", prefix, i+1)
	}
	return out
}

// createTenants creates the tenants, 16 API calls at a time, and waits
// until every one is ready.
func (b *bench) createTenants(ctx context.Context, srv *benchkit.Server, tenants []string) error {
	b.progress("fleet: create %d tenants of %s (setup, not measured)", len(tenants), b.bp.Ref())
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, name := range tenants {
		g.Go(func() error {
			if _, err := srv.Client.CreateTenant(gctx, httpapi.CreateTenantRequest{Name: name, Blueprint: b.bp.Name, Version: b.bp.Version}); err != nil {
				return fmt.Errorf("create tenant %s: %w", name, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return srv.WaitReady(ctx, tenants, 500*time.Millisecond, func(ready, total int) { b.progress("  %d of %d ready", ready, total) })
}

// idle measures srv over an idle window, in which the bench sends it
// nothing: its CPU time and, with tenants (on ports), theirs, the probe
// requests they received and the TCP connections the machine accepted.
func (b *bench) idle(ctx context.Context, srv *benchkit.Server, tenants int, ports string) (window, error) {
	w := window{tenants: tenants, loadBefore: benchkit.LoadAverage()}
	var before map[int]time.Duration
	var reqs0 map[string]int64
	var err error
	if tenants > 0 {
		// Read before the window starts, so that reading a thousand
		// processes' times and connections costs the window nothing.
		if before, err = tenantCPU(srv.Data); err != nil {
			return w, err
		}
		if reqs0, err = tenantRequests(ctx, ports); err != nil {
			return w, err
		}
	}
	opens0, err := passiveOpens()
	if err != nil {
		return w, err
	}
	cpu0, err := srv.CPU()
	if err != nil {
		return w, err
	}
	t0 := time.Now()
	if err := benchkit.Sleep(ctx, b.cfg.window); err != nil {
		return w, err
	}
	cpu1, err := srv.CPU()
	if err != nil {
		return w, err
	}
	w.wall, w.cpu = time.Since(t0), cpu1-cpu0
	opens1, err := passiveOpens()
	if err != nil {
		return w, err
	}
	w.accepted = opens1 - opens0
	w.loadAfter = benchkit.LoadAverage()
	if err := srv.Alive(); err != nil {
		return w, err
	}
	if w.rssKiB, err = benchkit.RSSKiB(srv.PID()); err != nil {
		return w, err
	}
	if tenants > 0 {
		reqs1, err := tenantRequests(ctx, ports)
		if err != nil {
			return w, err
		}
		w.requests, w.conns = received(reqs0, reqs1), len(reqs1)
		after, err := tenantCPU(srv.Data)
		if err != nil {
			return w, err
		}
		for pid, t := range after {
			if t0, ok := before[pid]; ok {
				w.procs++
				w.procsCPU += t - t0
			}
		}
	}
	return w, nil
}

// tenantCPU reads the CPU time of every tenant process of data dir data.
func tenantCPU(data string) (map[int]time.Duration, error) {
	procs, err := benchkit.TenantProcs(data)
	if err != nil {
		return nil, err
	}
	out := make(map[int]time.Duration, len(procs))
	for _, p := range procs {
		t, err := benchkit.CPUTime(p.PID)
		if errors.Is(err, os.ErrNotExist) {
			continue // exited since the scan
		}
		if err != nil {
			return nil, err
		}
		out[p.PID] = t
	}
	return out, nil
}

// profile samples the server's stacks with perf for -perf and sorts the
// samples by the part of the server they belong to. Without a working
// perf it says why in the result instead of failing the run.
func (b *bench) profile(ctx context.Context, srv *benchkit.Server) (*profile, error) {
	if _, err := exec.LookPath("perf"); err != nil {
		return &profile{skipped: "no perf on PATH"}, nil
	}
	data := filepath.Join(b.tmp, "perf.data")
	defer os.Remove(data)
	cpu0, err := srv.CPU()
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	rctx, cancel := context.WithTimeout(ctx, b.cfg.perf+time.Minute)
	defer cancel()
	rec := exec.CommandContext(rctx, "perf", "record", "-e", "cpu-clock", "-F", fmt.Sprint(perfHz), "-g",
		"-p", fmt.Sprint(srv.PID()), "-o", data, "--", "sleep", fmt.Sprintf("%.3f", b.cfg.perf.Seconds()))
	if out, err := rec.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return &profile{skipped: fmt.Sprintf("perf record failed: %v: %s", err, lastLine(out))}, nil
	}
	cpu1, err := srv.CPU()
	if err != nil {
		return nil, err
	}
	wall := time.Since(t0)
	script := exec.CommandContext(rctx, "perf", "script", "-i", data, "-F", "comm,tid,ip,sym")
	var stderr strings.Builder
	script.Stderr = &stderr
	out, err := script.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := script.Start(); err != nil {
		return &profile{skipped: fmt.Sprintf("perf script: %v", err)}, nil
	}
	p, err := parseProfile(out)
	if werr := script.Wait(); err == nil && werr != nil {
		err = fmt.Errorf("%w: %s", werr, lastLine([]byte(stderr.String())))
	}
	if err != nil {
		return &profile{skipped: fmt.Sprintf("perf script failed: %v", err)}, nil
	}
	p.wall, p.cpu = wall, cpu1-cpu0
	return p, nil
}

// perfHz is the profile's sampling rate per thread.
const perfHz = 999

// lastLine returns the last non-empty line of out.
func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// killAll kills -kills tenants' processes, one at a time, each of another
// tenant picked at random, waiting for each kill's incident to open and
// resolve and then a random pause of up to a probe interval, so that kills
// fall at every point of the probe schedules.
func (b *bench) killAll(ctx context.Context, srv *benchkit.Server, tenants []string) ([]*kill, error) {
	procs, err := benchkit.TenantProcs(srv.Data)
	if err != nil {
		return nil, err
	}
	pids := map[string]int{}
	for _, p := range procs {
		if strings.HasPrefix(p.ID, service+"-0@") {
			pids[p.Tenant] = p.PID
		}
	}
	after, err := lastSeq(ctx, srv.Client)
	if err != nil {
		return nil, err
	}
	b.progress("fleet: kill %d tenants' %s process, one at a time", b.cfg.kills, service)
	var kills []*kill
	for i, j := range rand.Perm(len(tenants))[:b.cfg.kills] {
		name := tenants[j]
		pid, ok := pids[name]
		if !ok {
			return kills, fmt.Errorf("tenant %s runs no %s process to kill", name, service)
		}
		k, err := b.killOne(ctx, srv, name, pid, after)
		if err != nil {
			return kills, err
		}
		kills = append(kills, k)
		if (i+1)%10 == 0 {
			b.progress("  %d of %d kills", i+1, b.cfg.kills)
		}
		if err := benchkit.Sleep(ctx, time.Duration(rand.Int64N(int64(b.bp.Services[service].Health.Interval)))); err != nil {
			return kills, err
		}
	}
	return kills, nil
}

// killOne sends SIGKILL to pid, tenant name's process, and follows the
// tenant's events after sequence number after until its incident opened
// and resolved, each within -kill-wait. An incident that does not come is
// recorded in the kill, not returned as an error: the checks report it.
func (b *bench) killOne(ctx context.Context, srv *benchkit.Server, name string, pid int, after int64) (*kill, error) {
	if p, ok := benchkit.TenantProcOf(srv.Data, pid); !ok || p.Tenant != name {
		return nil, fmt.Errorf("pid %d is no longer tenant %s's process", pid, name)
	}
	k := &kill{tenant: name, pid: pid}
	k.at = time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return nil, fmt.Errorf("kill pid %d of %s: %w", pid, name, err)
	}
	opened, err := b.waitEvent(ctx, srv, name, after, func(e *stamp.Event) bool {
		return e.Type == stamp.EventIncidentOpened && !e.Time.Before(k.at)
	})
	if err != nil || opened == nil {
		return k, err
	}
	k.incident, k.opened = opened.Incident, opened.Time
	resolved, err := b.waitEvent(ctx, srv, name, opened.Seq, func(e *stamp.Event) bool {
		return e.Type == stamp.EventIncidentResolved && e.Incident == k.incident
	})
	if err != nil || resolved == nil {
		return k, err
	}
	k.resolved = resolved.Time
	inc, err := srv.Client.Incident(ctx, k.incident)
	if err != nil {
		return nil, fmt.Errorf("get incident %s of %s: %w", k.incident, name, err)
	}
	k.checked, k.cause = inc.OpenedAt, inc.Cause
	return k, nil
}

// waitEvent polls tenant name's events after sequence number after until
// one matches, and returns it; nil if none did within -kill-wait.
func (b *bench) waitEvent(ctx context.Context, srv *benchkit.Server, name string, after int64, match func(*stamp.Event) bool) (*stamp.Event, error) {
	deadline := time.Now().Add(b.cfg.killWait)
	for time.Now().Before(deadline) {
		events, err := srv.Client.Events(ctx, stamp.EventFilter{Tenant: name, AfterSeq: after, Limit: 100})
		if err != nil {
			return nil, fmt.Errorf("read events of %s: %w", name, err)
		}
		for _, e := range events {
			if match(e) {
				return e, nil
			}
			after = e.Seq
		}
		if len(events) < 100 {
			if err := benchkit.Sleep(ctx, pollEvery); err != nil {
				return nil, err
			}
		}
	}
	return nil, srv.Alive()
}

// pollEvery is how often the bench reads a killed tenant's events. It
// does not bound the figures' resolution: they are the events' own times.
const pollEvery = 20 * time.Millisecond

// lastSeq returns the sequence number of the last event logged.
func lastSeq(ctx context.Context, c *httpapi.Client) (int64, error) {
	events, err := allEvents(ctx, c, 0)
	if err != nil || len(events) == 0 {
		return 0, err
	}
	return events[len(events)-1].Seq, nil
}

// allEvents reads the event log after sequence number after, a page at a
// time.
func allEvents(ctx context.Context, c *httpapi.Client, after int64) ([]*stamp.Event, error) {
	var all []*stamp.Event
	for {
		page, err := c.Events(ctx, stamp.EventFilter{AfterSeq: after, Limit: 1000})
		if err != nil {
			return nil, fmt.Errorf("read events after %d: %w", after, err)
		}
		if len(page) == 0 {
			return all, nil
		}
		all = append(all, page...)
		after = page[len(page)-1].Seq
	}
}

// lateWait is how long the checks wait after the last kill, so that an
// incident opened twice has the time to show.
const lateWait = 5 * time.Second

// check reads the event log of the kill phase and matches it with the
// kills, and looks for incidents left open and tenants not running
// exactly one process.
func (b *bench) check(ctx context.Context, srv *benchkit.Server, tenants []string, res *result) error {
	if len(res.kills) == 0 {
		return nil
	}
	if err := benchkit.Sleep(ctx, lateWait); err != nil {
		return err
	}
	b.progress("fleet: read the event log and check")
	events, err := allEvents(ctx, srv.Client, 0)
	if err != nil {
		return err
	}
	res.spurious = analyze(res.kills, events, res.kills[0].at)
	open, err := srv.Client.Incidents(ctx, stamp.IncidentFilter{Open: true, Limit: 1000})
	if err != nil {
		return fmt.Errorf("list open incidents: %w", err)
	}
	for _, inc := range open {
		res.openAtEnd = append(res.openAtEnd, fmt.Sprintf("%s of %s (%s, opened %s): %s", inc.ID, inc.Tenant, inc.Cause, inc.OpenedAt.Format("15:04:05.000"), inc.Message))
	}
	procs, err := benchkit.TenantProcs(srv.Data)
	if err != nil {
		return err
	}
	res.leaks = leaks(procs, tenants, res.kills)
	return srv.Alive()
}

// leaks lists the tenants that do not run exactly one process of their
// service, and the killed ones that still run the killed process.
func leaks(procs []benchkit.TenantProc, tenants []string, kills []*kill) []string {
	byTenant := map[string][]benchkit.TenantProc{}
	for _, p := range procs {
		byTenant[p.Tenant] = append(byTenant[p.Tenant], p)
	}
	killed := map[string]int{}
	for _, k := range kills {
		killed[k.tenant] = k.pid
	}
	var out []string
	for _, name := range tenants {
		ps := byTenant[name]
		switch {
		case len(ps) != 1 || !strings.HasPrefix(ps[0].ID, service+"-0@"):
			var ids []string
			for _, p := range ps {
				ids = append(ids, fmt.Sprintf("%s (pid %d)", p.ID, p.PID))
			}
			out = append(out, fmt.Sprintf("%s runs %d processes %v, want one %s", name, len(ps), ids, service))
		case killed[name] == ps[0].PID:
			out = append(out, fmt.Sprintf("%s still runs pid %d, which was killed", name, ps[0].PID))
		}
	}
	return out
}

// stopServer kills srv by its pid and every tenant process of its data
// dir, and forgets it.
func (b *bench) stopServer(srv *benchkit.Server) error {
	for i, s := range b.servers {
		if s == srv {
			b.servers = append(b.servers[:i], b.servers[i+1:]...)
			return srv.Stop()
		}
	}
	return nil
}

// cleanup stops every server still running, their tenants, and removes
// the temporary directory.
func (b *bench) cleanup() error {
	var errs []error
	for len(b.servers) > 0 {
		errs = append(errs, b.stopServer(b.servers[0]))
	}
	errs = append(errs, benchkit.RemoveAll(b.tmp))
	return errors.Join(errs...)
}

// progress writes one line of progress to the run's log.
func (b *bench) progress(format string, args ...any) { benchkit.Progress(b.log, format, args...) }
