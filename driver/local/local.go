// Package local is the driver that runs tenants as supervised processes on
// this host. It owns a directory holding the extracted bundles (shared by
// every tenant of a version), the registry of the ports it gave out, and
// per tenant its state, logs, task records and a writable work directory.
// Processes run in sessions of their own and outlive the control plane.
//
// Ownership is per tenant. Several Drivers may share the directory (one
// per control-plane process on this host, all on the same store), as long
// as each tenant is worked on by one of them at a time: the control plane's
// lease on the tenant decides which. New takes nothing up. The first call
// of Apply, Prepare, Observe or RunTask for a tenant takes it up: reads its
// state, kills its processes that nothing accounts for (left by a crash
// between starting a process and recording it), re-adopts its instances
// still alive (by pid and start time, so a recycled pid is never taken for
// ours), starts its applied instances that are not, and from then on
// restarts them when they exit. Release, or Close for every tenant, lets a
// tenant go and leaves its processes running for the next owner to take
// up. Nothing a Driver does at New or for one tenant touches another
// tenant's processes, so it never mistakes the processes another Driver
// has just started for orphans. Ports come from the shared registry, read
// and written under a file lock, so two Drivers never hand out one port.
//
// Layout under Config.Dir:
//
//	bundles/<hex digest>/          extracted bundle, root's, read-only to tenants
//	ports.journal, ports.lock      port -> "<tenant>/<instance>" as a journal
//	                               of changes, its lock (see portjournal.go)
//	netns/<name>                   the tenant's network namespace (Config.Network)
//	tenants/<name>/state.json      applied runtime, ports, pids, bind tokens, user, limits, address
//	tenants/<name>/logs/<id>.log   output of instance <id>, appended, rotated
//	                               by size to <id>.log.1 (newest), .2, ...
//	tenants/<name>/tasks/<task>.*  task record (.json), output (.log)
//	tenants/<name>/snapshots/      copies of data/ an upgrade took
//	tenants/<name>/data, tmp, exits  the tenant's own (see dirs.go)
//
// Isolation: a runtime with a UID runs every process of the tenant as
// that user; with Config.Cgroups, in the tenant's cgroup with its limits;
// with Config.Network (and a UID), in its network namespace.
package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bundle"
	"github.com/stamphq/stamp/driver/local/cgroup"
	"github.com/stamphq/stamp/driver/local/netns"
)

var (
	_ stamp.Driver    = (*Driver)(nil)
	_ stamp.LogReader = (*Driver)(nil)
	_ stamp.Preparer  = (*Driver)(nil)
	_ stamp.Releaser  = (*Driver)(nil)
	_ stamp.Stopper   = (*Driver)(nil)
)

// Config configures a Driver.
type Config struct {
	// Dir is the driver's root, e.g. <data>/local; created if missing.
	// Several Drivers may share it (see the package doc).
	Dir string
	// Bundles hands out the archives to extract.
	Bundles stamp.BundleSource
	// PortMin and PortMax bound the loopback ports given to instances;
	// default 10000..19999, below Linux's ephemeral range.
	PortMin, PortMax int
	// StopTimeout is how long a stopping instance gets between SIGTERM and
	// SIGKILL; default 10s.
	StopTimeout time.Duration
	// LogMaxSize is the size at which an instance's log is rotated;
	// default 10 MiB. LogFiles is how many files of it are kept, the log
	// included; default 3. An instance's output then takes at most about
	// LogMaxSize*LogFiles on disk (see logrotate.go for how and when).
	LogMaxSize int64
	LogFiles   int
	// Logger receives what supervision does (restarts, adoptions, kills);
	// default slog.Default().
	Logger *slog.Logger
	// OnExit, if set, is told at once when an instance's process ended
	// and is about to be restarted, so a watcher need not wait for its
	// next look. It runs on the instance's supervisor and must not block.
	OnExit func(tenant, service string)
	// Cgroups, if set, confines each tenant's processes to its limits
	// (see package cgroup); nil runs them unlimited.
	Cgroups *cgroup.Host
	// Network, if set, gives each tenant with a user of its own a network
	// namespace (see package netns), numbered by its uid; nil, or a
	// tenant without a user, runs on the host's loopback.
	Network *netns.Manager
}

// Driver runs tenants as supervised local processes. It implements
// stamp.Driver, stamp.Preparer, stamp.Releaser and stamp.LogReader.
type Driver struct {
	cfg   Config
	dir   string // absolute Config.Dir: part of every process's marker
	log   *slog.Logger
	ports *portRegistry
	// logCheck is how often instance logs are checked for rotation:
	// logCheckInterval, shorter in tests.
	logCheck time.Duration

	mu      sync.Mutex
	tenants map[string]*tenant // taken up, or being worked on
	closed  bool
}

// tenant is the driver's hold on one tenant.
type tenant struct {
	name string
	dir  string

	// op serializes the operations that change the tenant (taking it up,
	// Apply, Prepare, Remove, Release, StopAll, starting and finishing
	// tasks). Supervisors never take it, so holding it while stopping one
	// is safe.
	op sync.Mutex
	// gone is closed when the Driver drops its hold (Remove, Release,
	// Close), after dropped is set.
	gone chan struct{}

	// mu guards the fields below; it is held only briefly.
	mu      sync.Mutex
	loaded  bool  // taken up: state read, instances supervised
	dropped error // why the Driver let go of the tenant; nil while held
	state   tenantState
	sups    map[string]*supervisor // by instance id
	stats   map[string]*stamp.ServiceObserved
	tasks   map[string]*proc // task processes this Driver started
	// oomKills is the count of the tenant's out-of-memory kills already
	// put down to an exit (see supervisor.exited).
	oomKills uint64
	// setUp is what setUp last made the tenant ready for; nil until then.
	setUp *setUpKey
	// join are the files its processes write to join its cgroup (see
	// confine), once setUp has let them; none before.
	join []string
}

// errClosed is returned by a Driver's methods after Close.
var errClosed = stamp.Errorf(stamp.EUNAVAILABLE, "the local driver is closed")

// New opens the driver rooted at cfg.Dir, creating its directories. It
// takes no tenant up: each is taken up by the first call for it.
func New(ctx context.Context, cfg Config) (*Driver, error) {
	if cfg.Dir == "" {
		return nil, errors.New("local driver: Dir is empty")
	}
	if cfg.Bundles == nil {
		return nil, errors.New("local driver: Bundles is nil")
	}
	if cfg.PortMin == 0 && cfg.PortMax == 0 {
		cfg.PortMin, cfg.PortMax = 10000, 19999
	}
	if cfg.PortMin < 1 || cfg.PortMax > 65535 || cfg.PortMin > cfg.PortMax {
		return nil, fmt.Errorf("local driver: port range %d..%d is not within 1..65535", cfg.PortMin, cfg.PortMax)
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 10 * time.Second
	}
	if cfg.LogMaxSize <= 0 {
		cfg.LogMaxSize = defaultLogMaxSize
	}
	if cfg.LogFiles <= 0 {
		cfg.LogFiles = defaultLogFiles
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("local driver: %w", err)
	}
	for _, sub := range []string{"bundles", "tenants"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("local driver: %w", err)
		}
	}
	log := cfg.Logger.With("driver", "local")
	return &Driver{
		cfg:      cfg,
		dir:      dir,
		log:      log,
		logCheck: logCheckInterval,
		ports:    newPortRegistry(dir, cfg.PortMin, cfg.PortMax, log),
		tenants:  make(map[string]*tenant),
	}, nil
}

// takeUp makes t this Driver's: it reads t's state, kills t's orphans,
// brings the port registry in line with the state, and supervises every
// applied instance. A call whose ctx has ended takes nothing up: the
// control plane cancels a call on a tenant whose lease it lost before
// releasing the tenant, and that call must not take it back. t.op must be
// held.
func (d *Driver) takeUp(ctx context.Context, t *tenant) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("take up tenant %s: %w", t.name, err)
	}
	var st tenantState
	if _, err := readJSON(t.statePath(), &st); err != nil {
		return fmt.Errorf("take up tenant %s: %w", t.name, err)
	}
	// A tenant without a directory has no processes to sweep (they start
	// only once it exists, and Remove kills them before deleting it), so a
	// new tenant is spared a scan of every process on the host, and so is
	// one that Stop swept: nothing of it started since (see Swept).
	if _, err := os.Stat(t.dir); err == nil && !(st.Stopped && st.Swept) {
		d.killOrphans(t, st)
	}
	if err := d.ports.sync(t.name, st.Instances); err != nil {
		return fmt.Errorf("take up tenant %s: %w", t.name, err)
	}
	oom := d.oomKills(t.name)
	t.mu.Lock()
	t.state, t.oomKills = st, oom
	t.mu.Unlock()
	d.resume(ctx, t)
	t.mu.Lock()
	t.loaded = true
	t.mu.Unlock()
	return nil
}

// killOrphans kills the processes of t carrying this driver's marker that
// nothing accounts for: not a live instance or unfinished task recorded in
// st or t's task records, nor in the session of one (an app's children),
// nor a task run whose intent file says it started without being recorded
// (the next RunTask of it adopts it). Other tenants' processes are not
// looked at: they may be another Driver's, started a moment ago. It
// returns how many marked processes it left running.
func (d *Driver) killOrphans(t *tenant, st tenantState) (left int) {
	ours := make(map[int]bool)
	for _, inst := range st.Instances {
		if !st.Stopped && alive(inst.PID, inst.StartTime) {
			ours[inst.PID] = true
		}
	}
	for _, rec := range t.taskRecords() {
		if rec.Finished.IsZero() && alive(rec.PID, rec.StartTime) {
			ours[rec.PID] = true
		}
	}
	for _, m := range d.markedOf(t.name, st.UID) {
		_, id, _ := strings.Cut(m.id, "/")
		if ours[m.pid] || ours[m.stat.session] {
			left++
			continue
		}
		if task, ok := strings.CutPrefix(id, "task:"); ok && t.startingTask(task) {
			left++
			continue
		}
		d.log.Warn("killing orphan process", "pid", m.pid, "instance", m.id)
		killGroup(m)
		(&proc{pid: m.pid, start: m.stat.start}).waitFor(killWait)
	}
	return left
}

// unsweep clears t's Swept durably, before anything of t starts. t.op
// must be held.
func (t *tenant) unsweep() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.state.Swept {
		return nil
	}
	t.state.Swept = false
	return t.save()
}

// resume supervises every applied instance of t: adopted if its process
// lives, started otherwise. An instance that cannot start is logged and
// left out: one broken instance must not keep the others down, and the
// reconciler, seeing it missing, applies it again and reports the error.
// t.op must be held.
func (d *Driver) resume(ctx context.Context, t *tenant) {
	t.mu.Lock()
	st := tenantState{Runtime: t.state.Runtime, Others: t.state.Others}
	insts := slices.Clone(t.state.Instances)
	stopped := t.state.Stopped
	t.mu.Unlock()
	if stopped {
		return
	}
	for _, inst := range insts {
		rt := st.runtime(inst.Revision)
		if inst.Hash == "" || rt == nil || findService(rt, inst.Service) == nil {
			continue
		}
		bdir, err := d.bundleDir(ctx, rt.Bundle)
		if err != nil {
			d.log.Error("resume instance", "tenant", t.name, "instance", inst.ID, "err", err)
			continue
		}
		if err := d.supervise(t, inst, *findService(rt, inst.Service), bdir); err != nil {
			d.log.Error("resume instance", "tenant", t.name, "instance", inst.ID, "err", err)
		}
	}
}

// Release lets tenant go: its supervision ends (an instance that exits is
// no longer restarted) and the Driver forgets it. Its processes keep
// running and its files stay as they are, for the tenant's next owner to
// take up; on this Driver, the next call for tenant takes it up again. A
// running RunTask of the tenant returns EUNAVAILABLE, leaving the task
// running. Releasing a tenant the Driver does not hold does nothing.
func (d *Driver) Release(ctx context.Context, tenant string) error {
	t := d.tenantIfKnown(tenant)
	if t == nil {
		return nil
	}
	t.op.Lock()
	defer t.op.Unlock()
	if t.dropCause() == nil {
		d.detach(t, stamp.Errorf(stamp.EUNAVAILABLE, "tenant %s was released by this driver", tenant))
	}
	return nil
}

// detach ends the supervision of t's instances, leaving them running, and
// drops t. t.op must be held.
func (d *Driver) detach(t *tenant, cause error) {
	for _, s := range t.supervisors() {
		s.stop(errDetach)
	}
	d.drop(t, cause)
}

// drop forgets t, giving cause to whoever still holds it. t.op must be
// held.
func (d *Driver) drop(t *tenant, cause error) {
	t.mu.Lock()
	t.dropped, t.loaded = cause, false
	t.mu.Unlock()
	close(t.gone)
	d.mu.Lock()
	if d.tenants[t.name] == t {
		delete(d.tenants, t.name)
	}
	d.mu.Unlock()
}

// Close releases every tenant (see Release): tenant processes keep
// running, since a control-plane restart must not touch customers, and
// whoever takes the tenants up next re-adopts them. Processes this Driver
// started stay its children, so one goroutine per such process waits to
// reap it until it exits. Calls after Close fail with EUNAVAILABLE.
func (d *Driver) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	tenants := slices.Collect(maps.Values(d.tenants))
	d.mu.Unlock()
	for _, t := range tenants {
		t.op.Lock()
		if t.dropCause() == nil {
			d.detach(t, errClosed)
		}
		t.op.Unlock()
	}
	return d.ports.close()
}

// StopAll stops every instance of every tenant under the directory
// (SIGTERM, then SIGKILL after StopTimeout); running tasks are left alone.
// The supervision of tenants this Driver holds ends; the others are not
// taken up (that would start their dead instances only to stop them) but
// stopped from their state: each recorded process, and any process marked
// as one of their instances. It is meant for a control plane stopping the
// tenants of the whole host, and must not run while another Driver on the
// directory holds tenants. State is kept: the instances stay applied, so
// Apply, or the next take-up of the tenant, starts them again.
func (d *Driver) StopAll(ctx context.Context) error {
	if d.isClosed() {
		return errClosed
	}
	names, err := tenantDirs(d.dir)
	if err != nil {
		return fmt.Errorf("stop all instances: %w", err)
	}
	d.mu.Lock()
	for name := range d.tenants {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	d.mu.Unlock()
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Go(func() {
			t, err := d.lockTenant(ctx, name, false)
			if err != nil {
				return // closed meanwhile, or removed
			}
			defer t.op.Unlock()
			if t.isLoaded() {
				d.stopAll(t, t.supervisors())
			} else {
				d.stopRecorded(t)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop all instances: %w", ctx.Err())
	}
}

// stopRecorded stops the instances of t, which is not taken up, from its
// state file. t.op must be held.
func (d *Driver) stopRecorded(t *tenant) {
	var st tenantState
	if _, err := readJSON(t.statePath(), &st); err != nil {
		d.log.Error("stop instances", "tenant", t.name, "err", err)
		return
	}
	var wg sync.WaitGroup
	var ids []string
	for _, inst := range st.Instances {
		ids = append(ids, inst.ID)
		wg.Go(func() {
			if p := adopt(inst.PID, inst.StartTime, inst.StartedAt); p != nil {
				terminate(p, d.cfg.StopTimeout)
			}
		})
	}
	wg.Wait()
	d.killMarked(t.name, st.UID, ids...)
}

// Tenants lists the tenants with a directory under Dir, whichever Driver
// holds them, and the tenants of which a process runs with no directory
// left (only a crash or a hand-deleted directory leaves one): removing them
// kills it.
func (d *Driver) Tenants(ctx context.Context) ([]string, error) {
	if d.isClosed() {
		return nil, errClosed
	}
	// Processes first: a tenant's directory is made before its processes
	// start, so one found with a process and no directory has none.
	procs := scanMarked(d.dir)
	names, err := tenantDirs(d.dir)
	if err != nil {
		return nil, err
	}
	for _, m := range procs {
		tenant, _, _ := strings.Cut(m.id, "/")
		if stamp.ValidateName("tenant", tenant) == nil && !slices.Contains(names, tenant) {
			names = append(names, tenant)
		}
	}
	// A cgroup or a network namespace whose tenant has no directory (a
	// crash, or a directory deleted by hand) is listed too, so that
	// removing the tenant removes them.
	var leftovers []string
	if d.cfg.Cgroups != nil {
		groups, err := d.cfg.Cgroups.List()
		if err != nil {
			return nil, err
		}
		leftovers = append(leftovers, groups...)
	}
	if d.cfg.Network != nil {
		spaces, err := d.cfg.Network.List()
		if err != nil {
			return nil, err
		}
		leftovers = append(leftovers, spaces...)
	}
	for _, name := range leftovers {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// tenantDirs lists the tenant directories under root.
func tenantDirs(root string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(root, "tenants"))
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && stamp.ValidateName("tenant", e.Name()) == nil {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

func (d *Driver) isClosed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closed
}

func (d *Driver) newTenant(name string) *tenant {
	return &tenant{
		name:  name,
		dir:   filepath.Join(d.dir, "tenants", name),
		gone:  make(chan struct{}),
		sups:  make(map[string]*supervisor),
		stats: make(map[string]*stamp.ServiceObserved),
		tasks: make(map[string]*proc),
	}
}

// lockTenant returns tenant name with its op lock held, creating the
// driver's hold on it if needed (not its directory) and, with takeUp,
// taking it up if this Driver has not yet.
func (d *Driver) lockTenant(ctx context.Context, name string, takeUp bool) (*tenant, error) {
	if err := stamp.ValidateName("tenant", name); err != nil {
		return nil, err
	}
	// A tenant dropped while we waited for its lock is replaced in the
	// map by a fresh one, which the next round takes.
	for range 3 {
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			return nil, errClosed
		}
		t := d.tenants[name]
		if t == nil {
			t = d.newTenant(name)
			d.tenants[name] = t
		}
		d.mu.Unlock()
		t.op.Lock()
		if t.dropCause() != nil {
			t.op.Unlock()
			continue
		}
		if takeUp && !t.isLoaded() {
			if err := d.takeUp(ctx, t); err != nil {
				d.drop(t, err) // it holds nothing yet
				t.op.Unlock()
				return nil, err
			}
		}
		return t, nil
	}
	return nil, stamp.Errorf(stamp.ECONFLICT, "tenant %s is being removed or released", name)
}

// relock takes t.op again for an operation that let go of it meanwhile,
// failing with the reason if the Driver dropped t in between.
func (t *tenant) relock() error {
	t.op.Lock()
	if err := t.dropCause(); err != nil {
		t.op.Unlock()
		return err
	}
	return nil
}

// tenantIfKnown returns the driver's hold on name, or nil.
func (d *Driver) tenantIfKnown(name string) *tenant {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.tenants[name]
}

func (t *tenant) isLoaded() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.loaded
}

func (t *tenant) dropCause() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dropped
}

func (t *tenant) statePath() string { return filepath.Join(t.dir, "state.json") }
func (t *tenant) logPath(id string) string {
	return filepath.Join(t.dir, "logs", id+".log")
}

// save writes t.state. t.mu must be held.
func (t *tenant) save() error {
	if err := writeJSON(t.statePath(), &t.state); err != nil {
		return fmt.Errorf("save state of %s: %w", t.name, err)
	}
	return nil
}

// instance returns the state of instance id, or nil. t.mu must be held.
func (t *tenant) instance(id string) *instanceState {
	for i := range t.state.Instances {
		if t.state.Instances[i].ID == id {
			return &t.state.Instances[i]
		}
	}
	return nil
}

// supervisors returns t's supervisors.
func (t *tenant) supervisors() []*supervisor {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Collect(maps.Values(t.sups))
}

// stopAll stops sups, instances of t, in parallel, each with its full
// grace period, then kills what their processes left running (children
// that escaped their process group). t.op must be held.
func (d *Driver) stopAll(t *tenant, sups []*supervisor) {
	if len(sups) == 0 {
		return
	}
	stopSups(sups)
	ids := make([]string, len(sups))
	for i, s := range sups {
		ids[i] = s.id
	}
	d.killMarked(t.name, t.recordedUID(), ids...)
}

// stopSups stops sups in parallel, each with its full grace period.
func stopSups(sups []*supervisor) {
	var wg sync.WaitGroup
	for _, s := range sups {
		wg.Go(func() { s.stop(errStop) })
	}
	wg.Wait()
}

func findService(rt *stamp.Runtime, name string) *stamp.Service {
	for i := range rt.Services {
		if rt.Services[i].Name == name {
			return &rt.Services[i]
		}
	}
	return nil
}

var hexDigest = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// bundleDir returns the directory of the bundle ref, extracting it on
// first use. An extraction that fails for want of space leaves nothing
// behind and says so, wrapping ENOSPC (see bundle.Extract): a retry
// extracts it once there is room.
func (d *Driver) bundleDir(ctx context.Context, ref stamp.BundleRef) (string, error) {
	digest := ref.Digest
	if !hexDigest.MatchString(digest) {
		return "", stamp.Errorf(stamp.EINVALID, "bundle digest %q is not sha256:<64 hex digits>", digest)
	}
	dir := filepath.Join(d.dir, "bundles", strings.TrimPrefix(digest, "sha256:"))
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	content, err := d.cfg.Bundles.BundleContent(ctx, digest)
	if err != nil {
		return "", fmt.Errorf("fetch bundle %s: %w", digest, err)
	}
	if got := bundle.Digest(content); got != digest {
		return "", fmt.Errorf("fetch bundle %s: content has digest %s", digest, got)
	}
	if err := bundle.Extract(content, dir); err != nil {
		return "", fmt.Errorf("bundle %s@%s: %w", ref.Name, ref.Version, err)
	}
	return dir, nil
}

// resolve returns argv with argv[0] made a path: relative to the bundle
// if it names a file in it, else looked up in path, the PATH of a tenant
// (isolated: with a user of its own; see lookPath).
func resolve(argv []string, bundleDir, path string, isolated bool) ([]string, error) {
	if len(argv) == 0 {
		return nil, stamp.Errorf(stamp.EINVALID, "command is empty")
	}
	out := slices.Clone(argv)
	switch {
	case filepath.IsAbs(argv[0]):
	case strings.Contains(argv[0], "/"):
		out[0] = filepath.Join(bundleDir, argv[0])
	default:
		found, err := lookPath(argv[0], path, isolated)
		if err != nil {
			return nil, stamp.Errorf(stamp.EUNPROCESSABLE, "command %q is not in the bundle and not found in the PATH tenants get (%s)", argv[0], path)
		}
		out[0] = found
	}
	return out, nil
}

// path is the PATH t's processes get and whether t has a user of its own
// (see TenantPATH).
func (t *tenant) path() (path string, isolated bool) {
	t.mu.Lock()
	isolated = t.state.UID != 0
	t.mu.Unlock()
	return TenantPATH(os.Getenv("PATH"), isolated), isolated
}

// vars are the values of the instance variables (stamp.InstanceVar) for
// a process of t listening on port (0: none) at host.
func (t *tenant) vars(host string, port int) map[string]string {
	v := map[string]string{stamp.VarHost: host, stamp.VarTenantDir: t.dataDir()}
	if port > 0 {
		v[stamp.VarPort] = strconv.Itoa(port)
		v[stamp.VarListen] = net.JoinHostPort(host, v[stamp.VarPort])
	}
	return v
}

// environ is the environment of a process of t: the rendered env with
// instance variables filled from vars, then HOME, TMPDIR and PATH (path,
// see TenantPATH) unless it sets them, then HOST, PORT (if vars has one
// and not noPort, the service's port_env: false), STAMP_BUNDLE (the
// extracted bundle, no longer the working directory) and the marker,
// which are the driver's alone.
func (d *Driver) environ(t *tenant, id string, env, vars map[string]string, bundleDir, path string, noPort bool) map[string]string {
	m := map[string]string{"HOME": t.dataDir(), "TMPDIR": t.tmpDir(), "PATH": path}
	for k, v := range env {
		m[k] = stamp.ExpandInstanceVars(v, vars)
	}
	if !noPort {
		delete(m, "PORT")
		if port := vars[stamp.VarPort]; port != "" {
			m["PORT"] = port
		}
	}
	m["HOST"] = vars[stamp.VarHost]
	m["STAMP_BUNDLE"] = bundleDir
	m[markerVar] = d.marker(t.name, id)
	return m
}

// envList returns env as a process takes it, "NAME=value" sorted by name.
func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// expandAll returns args with the instance variables filled from vars.
func expandAll(args []string, vars map[string]string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = stamp.ExpandInstanceVars(a, vars)
	}
	return out
}

// marker is the value of markerVar for process id of tenant.
func (d *Driver) marker(tenant, id string) string {
	return d.dir + "|" + tenant + "/" + id
}

// removeAll deletes path; missing is fine.
func removeAll(path string) error {
	if err := os.RemoveAll(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
