// Package local is the driver that runs tenants as supervised processes on
// this host. It owns a directory holding the extracted bundles (shared by
// every tenant of a version), and per tenant its state, logs, task records
// and a writable work directory. Processes run in sessions of their own and
// outlive the control plane: a new Driver on the same directory re-adopts
// the live ones (by pid and start time, so a recycled pid is never taken
// for ours) and kills the ones no state knows of.
//
// Layout under Config.Dir:
//
//	bundles/<hex digest>/          extracted bundle, the working directory
//	tenants/<name>/state.json      applied runtime, ports, pids
//	tenants/<name>/logs/<id>.log   output of instance <id>, appended
//	tenants/<name>/tasks/<task>.*  task record (.json), output (.log)
//	tenants/<name>/work/           HOME and TMPDIR of the tenant's processes
//
// Plan limits (memory, cpu) are not enforced yet, and every tenant runs as
// the control plane's user.
package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bundle"
)

var (
	_ stamp.Driver    = (*Driver)(nil)
	_ stamp.LogReader = (*Driver)(nil)
	_ stamp.Preparer  = (*Driver)(nil)
)

// Config configures a Driver.
type Config struct {
	// Dir is the driver's root, e.g. <data>/local; created if missing.
	Dir string
	// Bundles hands out the archives to extract.
	Bundles stamp.BundleSource
	// PortMin and PortMax bound the loopback ports given to instances;
	// default 10000..19999, below Linux's ephemeral range.
	PortMin, PortMax int
	// StopTimeout is how long a stopping instance gets between SIGTERM and
	// SIGKILL; default 10s.
	StopTimeout time.Duration
	// Logger receives what supervision does (restarts, adoptions, kills);
	// default slog.Default().
	Logger *slog.Logger
}

// Driver runs tenants as supervised local processes. It implements
// stamp.Driver, stamp.Preparer and stamp.LogReader.
type Driver struct {
	cfg Config
	dir string // absolute Config.Dir: part of every process's marker
	log *slog.Logger

	mu      sync.Mutex
	tenants map[string]*tenant
	ports   map[int]string // allocated port -> tenant
	closed  bool
	closing chan struct{} // closed by Close
}

// tenant is the driver's hold on one tenant.
type tenant struct {
	name string
	dir  string

	// op serializes the operations that change the tenant (Apply,
	// Prepare, Remove, StopAll, starting and finishing tasks). Supervisors
	// never take it, so holding it while stopping one is safe.
	op sync.Mutex

	// mu guards the fields below; it is held only briefly.
	mu      sync.Mutex
	state   tenantState
	sups    map[string]*supervisor // by instance id
	stats   map[string]*stamp.ServiceObserved
	tasks   map[string]*proc // task processes this Driver started
	removed bool
}

// errClosed is returned by a Driver's methods after Close.
var errClosed = stamp.Errorf(stamp.EUNAVAILABLE, "the local driver is closed")

// New opens the driver rooted at cfg.Dir: it loads every tenant's state,
// kills processes carrying its marker that no state accounts for (left by a
// crash between starting a process and recording it), re-adopts the
// instances still alive and starts the applied ones that are not.
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
	d := &Driver{
		cfg:     cfg,
		dir:     dir,
		log:     cfg.Logger.With("driver", "local"),
		tenants: make(map[string]*tenant),
		ports:   make(map[int]string),
		closing: make(chan struct{}),
	}
	if err := d.load(); err != nil {
		return nil, err
	}
	d.killOrphans()
	for _, t := range d.tenants {
		t.op.Lock()
		d.resume(ctx, t)
		t.op.Unlock()
	}
	return d, nil
}

// load reads every tenant's state and rebuilds the set of used ports.
func (d *Driver) load() error {
	names, err := d.tenantDirs()
	if err != nil {
		return err
	}
	for _, name := range names {
		t := d.newTenant(name)
		if _, err := readJSON(t.statePath(), &t.state); err != nil {
			return fmt.Errorf("local driver: load tenant %s: %w", name, err)
		}
		for _, inst := range t.state.Instances {
			if inst.Port == 0 {
				continue
			}
			if other, ok := d.ports[inst.Port]; ok {
				return fmt.Errorf("local driver: port %d is recorded for both %s and %s", inst.Port, other, name)
			}
			d.ports[inst.Port] = name
		}
		d.tenants[name] = t
	}
	return nil
}

// killOrphans kills every process carrying this driver's marker that is
// not a recorded live instance or task, nor in the session of one.
func (d *Driver) killOrphans() {
	ours := make(map[int]bool)
	for _, t := range d.tenants {
		for _, inst := range t.state.Instances {
			if alive(inst.PID, inst.StartTime) {
				ours[inst.PID] = true
			}
		}
		for _, rec := range t.taskRecords() {
			if rec.Finished.IsZero() && alive(rec.PID, rec.StartTime) {
				ours[rec.PID] = true
			}
		}
	}
	for _, m := range scanMarked(d.dir) {
		if ours[m.pid] || ours[m.stat.session] {
			continue
		}
		if tenant, id, _ := strings.Cut(m.id, "/"); strings.HasPrefix(id, "task:") && d.tenants[tenant] != nil {
			// A task started but not recorded: the next RunTask of it
			// adopts it rather than running it a second time.
			continue
		}
		d.log.Warn("killing orphan process", "pid", m.pid, "instance", m.id)
		killGroup(m)
		(&proc{pid: m.pid, start: m.stat.start}).waitFor(killWait)
	}
}

// resume supervises every applied instance of t: adopted if its process
// lives, started otherwise. An instance that cannot start is logged and
// left out: one broken tenant must not keep the others down, and the
// reconciler, seeing it missing, applies it again and reports the error.
// t.op must be held.
func (d *Driver) resume(ctx context.Context, t *tenant) {
	rt := t.state.Runtime
	if rt == nil {
		return
	}
	bdir, err := d.bundleDir(ctx, rt.Bundle.Digest)
	if err != nil {
		d.log.Error("resume tenant", "tenant", t.name, "err", err)
		return
	}
	for _, inst := range t.state.Instances {
		svc := findService(rt, inst.Service)
		if inst.Hash == "" || svc == nil {
			continue
		}
		if err := d.supervise(t, inst, *svc, bdir); err != nil {
			d.log.Error("resume instance", "tenant", t.name, "instance", inst.ID, "err", err)
		}
	}
}

// Close stops supervising. Tenant processes keep running: a control-plane
// restart must not touch customers; the next New re-adopts them. Processes
// this Driver started stay its children, so one goroutine per such process
// waits to reap it until it exits. Calls after Close fail with EUNAVAILABLE.
func (d *Driver) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	close(d.closing)
	tenants := slices.Collect(maps.Values(d.tenants))
	d.mu.Unlock()
	for _, t := range tenants {
		t.op.Lock()
		for _, s := range t.supervisors() {
			s.stop(errDetach)
		}
		t.op.Unlock()
	}
	return nil
}

// StopAll stops every instance of every tenant (SIGTERM, then SIGKILL after
// StopTimeout) and their supervision; running tasks are left alone. State
// is kept: the instances stay applied, so Apply on this Driver or New on its
// directory starts them again.
func (d *Driver) StopAll(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return errClosed
	}
	tenants := slices.Collect(maps.Values(d.tenants))
	d.mu.Unlock()
	var wg sync.WaitGroup
	for _, t := range tenants {
		wg.Go(func() {
			t.op.Lock()
			defer t.op.Unlock()
			stopAll(t.supervisors())
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

// Tenants lists the tenants the driver holds a directory for.
func (d *Driver) Tenants(ctx context.Context) ([]string, error) {
	if d.isClosed() {
		return nil, errClosed
	}
	return d.tenantDirs()
}

func (d *Driver) tenantDirs() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(d.dir, "tenants"))
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
		sups:  make(map[string]*supervisor),
		stats: make(map[string]*stamp.ServiceObserved),
		tasks: make(map[string]*proc),
	}
}

// lockTenant returns tenant name with its op lock held, creating the
// driver's hold on it if needed (not its directory).
func (d *Driver) lockTenant(name string) (*tenant, error) {
	if err := stamp.ValidateName("tenant", name); err != nil {
		return nil, err
	}
	// A tenant removed while we waited for its lock is replaced in the
	// map by a fresh one, which the second round takes.
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
		if !t.removed && !d.isClosed() {
			return t, nil
		}
		t.op.Unlock()
	}
	return nil, stamp.Errorf(stamp.ECONFLICT, "tenant %s is being removed", name)
}

// tenantIfKnown returns the driver's hold on name, or nil.
func (d *Driver) tenantIfKnown(name string) *tenant {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.tenants[name]
}

func (t *tenant) statePath() string { return filepath.Join(t.dir, "state.json") }
func (t *tenant) logPath(id string) string {
	return filepath.Join(t.dir, "logs", id+".log")
}
func (t *tenant) workDir() string { return filepath.Join(t.dir, "work") }

// makeDirs creates the tenant's directories.
func (t *tenant) makeDirs() error {
	if err := os.MkdirAll(t.dir, 0o700); err != nil {
		return err
	}
	for _, sub := range []string{"logs", "tasks", "work"} {
		if err := os.MkdirAll(filepath.Join(t.dir, sub), 0o755); err != nil {
			return err
		}
	}
	return nil
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

// stopAll stops sups in parallel, each with its full grace period.
func stopAll(sups []*supervisor) {
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

// bundleDir returns the directory of the bundle digest, extracting it on
// first use.
func (d *Driver) bundleDir(ctx context.Context, digest string) (string, error) {
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
		return "", err
	}
	return dir, nil
}

// resolve returns argv with argv[0] made a path: relative to the bundle
// if it names a file in it, else looked up in PATH.
func resolve(argv []string, bundleDir string) ([]string, error) {
	if len(argv) == 0 {
		return nil, stamp.Errorf(stamp.EINVALID, "command is empty")
	}
	out := slices.Clone(argv)
	switch {
	case filepath.IsAbs(argv[0]):
	case strings.Contains(argv[0], "/"):
		out[0] = filepath.Join(bundleDir, argv[0])
	default:
		path, err := exec.LookPath(argv[0])
		if err != nil {
			return nil, stamp.Errorf(stamp.EUNPROCESSABLE, "command %q is not in the bundle and not found in PATH", argv[0])
		}
		out[0] = path
	}
	return out, nil
}

// environ is the environment of a process of t: the rendered env, then
// HOME, TMPDIR and PATH unless it sets them, then HOST, PORT (if port is
// not zero) and the marker, which are the driver's alone.
func (d *Driver) environ(t *tenant, id string, env map[string]string, port int) []string {
	m := map[string]string{"HOME": t.workDir(), "TMPDIR": t.workDir(), "PATH": os.Getenv("PATH")}
	if m["PATH"] == "" {
		m["PATH"] = "/usr/local/bin:/usr/bin:/bin"
	}
	maps.Copy(m, env)
	delete(m, "PORT")
	if port > 0 {
		m["PORT"] = strconv.Itoa(port)
	}
	m["HOST"] = "127.0.0.1"
	m[markerVar] = d.marker(t.name, id)
	out := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+m[k])
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
