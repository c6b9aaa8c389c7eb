// Package reconcile converges tenants to their spec. The work item is only a
// tenant name; each pass reads the desired state from the store and the
// observed state from the driver, plans the steps between them (Plan, a pure
// function) and takes them, recording every step as an event. Every step is
// idempotent, so a crash at any point followed by a new pass converges to
// the same result.
package reconcile

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/blueprint"
	"github.com/stamphq/stamp/bundle"
	"github.com/stamphq/stamp/health"
	"github.com/stamphq/stamp/redact"
)

// RouteSyncer is told when a tenant's route changed, so the router serves
// it before the tenant is reported ready (or gone).
type RouteSyncer interface {
	// SyncTenant reads the tenant again and serves what it finds.
	SyncTenant(ctx context.Context, tenant string) error
}

// InFlightCounter is implemented by route syncers that proxy requests and
// count those in flight per endpoint: an upgrade waits for the old
// version's count to reach zero before stopping it.
type InFlightCounter interface {
	InFlight(endpoint string) int
}

// Config holds a Reconciler's dependencies and tunables.
type Config struct {
	Store   stamp.Store
	Driver  stamp.Driver
	Engines map[string]stamp.Engine // by engine name: "sqlite", "postgres"
	Routes  RouteSyncer             // optional
	// URL returns the address customers reach a tenant at.
	URL func(tenant string) string

	// Holder names this control-plane process in the leases it takes;
	// it must differ between processes sharing a store and stay the same
	// across restarts of one (so a restart keeps its own leases).
	Holder         string
	LeaseTTL       time.Duration // how long a lease lasts unrenewed; default 5s
	WatchInterval  time.Duration // how often the event log is read for new work; default 250ms
	Workers        int           // passes doing work at once (waits aside not counted); default 8
	HealthTimeout  time.Duration // how long a new instance may take to pass its health check; default 60s
	ResyncInterval time.Duration // every tenant is checked this often; default 30s
	// DrainDelay is how long an upgraded tenant's old version keeps
	// running after the route switched away from it, so that routers in
	// other processes follow the switch first; default 1s. Requests in
	// flight to it end before it stops: it gets SIGTERM, then the driver's
	// stop timeout.
	DrainDelay time.Duration
	// UIDs is the range of Unix users tenants run as, one each; the zero
	// range runs every tenant as the server's user.
	UIDs   UIDRange
	Clock  stamp.Clock
	Random io.Reader // secrets and uids; default crypto/rand
	Logger *slog.Logger
	// Moved, if set, is called when a tenant's move between versions
	// reached an outcome: its route serves the new version, or the move
	// was rolled back or failed. The release controller wakes on it.
	Moved func(tenant string)
	// Observe, if set, is called after every pass that took steps (a
	// pass with nothing to do is not reported), from the worker that ran
	// it, for metrics. kind is "provision", "upgrade" or "remove";
	// outcome is "done" (the steps ran, or the pass handed on to a later
	// one), "failed" (the tenant failed for good, or its upgrade was
	// rolled back), "stale" (the tenant changed under the pass) or
	// "error" (a transient error: the tenant is retried with backoff).
	Observe func(kind, outcome string, d time.Duration)
}

// Reconciler runs the reconcile loop. Create it with New, start it with Run.
type Reconciler struct {
	cfg   Config
	queue *queue

	mu         sync.Mutex
	blueprints map[string]*blueprint.Blueprint // by bundle digest
	versions   map[string]parsedVersion        // by name@version, once parsed
	failures   map[string]int                  // consecutive transient failures by tenant
	held       map[string]time.Time            // tenants whose lease this process holds, since when
	releasing  map[string]bool                 // tenants the driver is letting go of
	releases   sync.WaitGroup                  // driver releases in flight
	passes     map[string]*running             // the running pass of each tenant

	// slots holds one token per pass at work: Workers of them. A pass
	// waiting on its own tenant (waitAside) gives its token back and a
	// worker is added, so one tenant's long wait never holds the queue.
	slots   chan struct{}
	aside   chan struct{} // one per pass waiting aside: at most asidePerWorker × Workers
	workers sync.WaitGroup
	surplus atomic.Int32    // workers to end: one per waitAside that returned
	runCtx  context.Context // Run's, for the workers waitAside adds
}

// New returns a Reconciler; nothing runs until Run.
func New(cfg Config) *Reconciler {
	if cfg.Holder == "" {
		cfg.Holder = "stamp"
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 5 * time.Second
	}
	if cfg.WatchInterval <= 0 {
		cfg.WatchInterval = 250 * time.Millisecond
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.HealthTimeout <= 0 {
		cfg.HealthTimeout = 60 * time.Second
	}
	if cfg.ResyncInterval <= 0 {
		cfg.ResyncInterval = 30 * time.Second
	}
	if cfg.DrainDelay <= 0 {
		cfg.DrainDelay = time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = stamp.SystemClock{}
	}
	if cfg.Random == nil {
		cfg.Random = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.URL == nil {
		cfg.URL = func(string) string { return "" }
	}
	return &Reconciler{
		cfg:        cfg,
		queue:      newQueue(cfg.Clock.Now),
		blueprints: map[string]*blueprint.Blueprint{},
		versions:   map[string]parsedVersion{},
		failures:   map[string]int{},
		held:       map[string]time.Time{},
		releasing:  map[string]bool{},
		passes:     map[string]*running{},
		slots:      make(chan struct{}, cfg.Workers),
		aside:      make(chan struct{}, asidePerWorker*cfg.Workers),
	}
}

// Enqueue asks for a pass over tenant name.
func (r *Reconciler) Enqueue(name string) { r.queue.add(name) }

// Run works the queue with the configured number of workers until ctx ends.
// It starts with a pass over every tenant in the store and every tenant the
// driver holds (so leftovers of deleted tenants are removed), and repeats
// that every ResyncInterval.
func (r *Reconciler) Run(ctx context.Context) error {
	after, err := r.cfg.Store.LastEventSeq(ctx)
	if err != nil {
		return fmt.Errorf("read the event log position: %w", err)
	}
	if err := r.resync(ctx); err != nil {
		return err
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		r.renewLeases(ctx)
	}()
	go func() {
		defer wg.Done()
		r.watch(ctx, after)
	}()
	r.runCtx = ctx
	for range r.cfg.Workers {
		r.startWorker(ctx)
	}
	ticker := time.NewTicker(r.cfg.ResyncInterval)
	defer ticker.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-ticker.C:
			if err := r.resync(ctx); err != nil && ctx.Err() == nil {
				r.cfg.Logger.Error("resync", "err", err)
			}
		}
	}
	r.queue.shutDown()
	wg.Wait()
	r.workers.Wait()
	r.releases.Wait()
	return nil
}

func (r *Reconciler) resync(ctx context.Context) error {
	tenants, err := r.cfg.Store.ListTenants(ctx)
	if err != nil {
		return fmt.Errorf("list tenants: %w", err)
	}
	held, err := r.cfg.Driver.Tenants(ctx)
	if err != nil {
		return fmt.Errorf("list tenants the driver holds: %w", err)
	}
	for _, t := range tenants {
		r.queue.add(t.Name)
	}
	for _, name := range held {
		r.queue.add(name)
	}
	return nil
}

func (r *Reconciler) startWorker(ctx context.Context) {
	r.workers.Add(1)
	go func() {
		defer r.workers.Done()
		r.work(ctx)
	}()
}

// work takes tenants off the queue and reconciles each, holding a slot
// while it does, until the queue shuts down or the worker is surplus.
func (r *Reconciler) work(ctx context.Context) {
	for !r.endSurplus() {
		name, queued, ok := r.queue.get()
		if !ok {
			return
		}
		r.slots <- struct{}{}
		err := r.reconcile(ctx, name, queued)
		<-r.slots
		r.queue.done(name)
		if ctx.Err() != nil {
			continue
		}
		r.mu.Lock()
		if err == nil {
			delete(r.failures, name)
			r.mu.Unlock()
			continue
		}
		r.failures[name]++
		n := r.failures[name]
		r.mu.Unlock()
		delay := backoff(n)
		r.cfg.Logger.Warn("reconcile failed; will retry", "tenant", name, "attempt", n, "retry_in", delay, "err", err)
		r.queue.addAfter(name, delay)
	}
}

// endSurplus reports whether the calling worker should end, taking one
// from the surplus if so.
func (r *Reconciler) endSurplus() bool {
	for {
		n := r.surplus.Load()
		if n <= 0 {
			return false
		}
		if r.surplus.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// waitAside runs wait, a pass's long wait on its own tenant (new instances
// becoming healthy, requests to old ones draining), without holding a
// slot: a worker is added for the queue meanwhile, and one ends once the
// wait is over. Without it, Workers tenants whose new version never turns
// healthy would stop every other tenant for --health-timeout.
//
// At most asidePerWorker × Workers passes wait aside at once; past that a
// pass waits in its slot, as before, so a burst of creates does not start
// and probe every tenant of the queue at the same time.
func (r *Reconciler) waitAside(wait func() error) error {
	select {
	case r.aside <- struct{}{}:
		defer func() { <-r.aside }()
	default:
		return wait()
	}
	<-r.slots
	r.startWorker(r.runCtx) // not the pass's context, which ends with the pass
	err := wait()
	r.slots <- struct{}{}
	r.surplus.Add(1)
	return err
}

// asidePerWorker bounds the passes waiting aside, per worker.
const asidePerWorker = 4

// backoff is the delay before retry n (1-based): 200ms doubling to 30s.
func backoff(n int) time.Duration {
	d := 200 * time.Millisecond
	for i := 1; i < n && d < 30*time.Second; i++ {
		d *= 2
	}
	return min(d, 30*time.Second)
}

// errStale means the tenant changed under the pass; the pass ends quietly
// and the tenant is queued again.
var errStale = errors.New("tenant changed during the pass")

// terminalError is a step failure that retrying cannot fix (a hook exited
// non-zero, a service never became healthy): the tenant ends failed.
type terminalError struct{ msg string }

func (e *terminalError) Error() string { return e.msg }

func terminal(format string, args ...any) error {
	return &terminalError{msg: fmt.Sprintf(format, args...)}
}

// reconcile runs one pass over tenant name. A nil error means the pass
// reached a resting state (converged, failed for good, or handed on to a
// new pass); an error is transient and the caller retries with backoff.
func (r *Reconciler) reconcile(ctx context.Context, name string, queued time.Time) (err error) {
	ok, err := r.take(ctx, name)
	if err != nil {
		return fmt.Errorf("take lease of tenant %q: %w", name, err)
	}
	if !ok {
		// Another server owns it; try again once its lease could have
		// expired, in case that server died.
		r.queue.addAfter(name, r.cfg.LeaseTTL/2)
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	run := &running{cancel: cancel}
	r.mu.Lock()
	r.passes[name] = run
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.passes, name)
		r.mu.Unlock()
		if err != nil && errors.Is(context.Cause(ctx), errDeleting) {
			// Cut short on purpose: the pass that removes it is next.
			r.queue.add(name)
			err = nil
		}
	}()

	t, err := r.cfg.Store.GetTenant(ctx, name)
	if stamp.ErrorCode(err) == stamp.ENOTFOUND {
		// Nothing should exist for a tenant the store does not know; the
		// driver may still hold leftovers of one deleted by a crashed pass.
		if err := r.cfg.Driver.Remove(ctx, name); err != nil {
			return fmt.Errorf("remove leftovers of deleted tenant %q: %w", name, err)
		}
		r.give(ctx, name)
		return nil
	}
	if err != nil {
		return fmt.Errorf("get tenant %q: %w", name, err)
	}
	obs, err := r.cfg.Driver.Observe(ctx, name)
	if err != nil {
		return fmt.Errorf("observe tenant %q: %w", name, err)
	}
	steps := Plan(t, obs)
	if len(steps) == 0 {
		return nil
	}
	if steps[0] == stamp.StepRemove {
		r.mu.Lock()
		run.removing = true
		r.mu.Unlock()
	}
	id := newPassID()
	p := &pass{r: r, t: t, queued: queued, upgrade: isUpgrade(steps), id: id,
		log: r.cfg.Logger.With("tenant", name, "pass", id, "generation", t.Generation)}
	p.log.Debug("pass starts", "steps", steps)
	start := r.cfg.Clock.Now()
	err = p.run(ctx, steps)
	if r.cfg.Observe != nil {
		r.cfg.Observe(passKind(p.upgrade, steps), passOutcome(err), r.cfg.Clock.Now().Sub(start))
	}
	switch {
	case errors.Is(err, errStale):
		r.queue.add(name)
		return nil
	case errors.Is(err, errFailed):
		return nil
	}
	return err
}

// running is a pass at work on a tenant.
type running struct {
	cancel context.CancelCauseFunc
	// removing is set once the pass knows it removes the tenant: the
	// deletion that asked for it must not cancel it (see cancelIfDeleting).
	removing bool // guarded by Reconciler.mu
}

// passKind names what a pass with steps does, for Config.Observe.
func passKind(upgrade bool, steps []string) string {
	switch {
	case upgrade:
		return "upgrade"
	case steps[0] == stamp.StepRemove:
		return "remove"
	}
	return "provision"
}

// passOutcome names how a pass ended, for Config.Observe.
func passOutcome(err error) string {
	switch {
	case err == nil:
		return "done"
	case errors.Is(err, errFailed):
		return "failed"
	case errors.Is(err, errStale):
		return "stale"
	}
	return "error"
}

// QueueLen returns how many tenants wait for a worker: queued and not
// being worked on. Tenants waiting out a retry backoff or a lease held
// elsewhere are not counted until they are queued again.
func (r *Reconciler) QueueLen() int { return r.queue.len() }

// newPassID returns 8 random hex digits naming one pass in the logs.
func newPassID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// pass is one reconcile pass over one tenant: the state the steps share.
type pass struct {
	r      *Reconciler
	mu     sync.Mutex // serialises status writes of steps running side by side
	t      *stamp.Tenant
	queued time.Time // when the next step was queued
	// upgrade is set for a pass that moves the tenant between versions.
	upgrade bool
	// id names the pass in the server log; log carries it, the tenant and
	// the generation on every line.
	id  string
	log *slog.Logger

	bp      *blueprint.Blueprint
	ref     stamp.BundleRef
	in      blueprint.RenderInput
	runtime *stamp.Runtime
	// connLimit is the connection limit of the tenant's database roles
	// (see connectionLimit), once the database step worked it out.
	connLimit int
	// paramsErr is why the tenant's parameters do not fit its version;
	// every step but a rollback fails with it (see load).
	paramsErr error
}

func (p *pass) run(ctx context.Context, steps []string) error {
	switch {
	case p.upgrade:
		if !p.t.Upgrading() {
			if err := p.beginUpgrade(ctx); err != nil {
				return err
			}
			// The move now knows whether it recreates.
			steps = upgradeSteps(p.t.Status.Upgrade, p.t.Status.MigratedVersion)
		}
	case steps[0] != stamp.StepRemove && p.t.Status.Phase != stamp.PhaseProvisioning:
		err := p.update(ctx, func(st *stamp.TenantStatus) {
			st.Phase = stamp.PhaseProvisioning
			st.FailedStep, st.Message = "", ""
		})
		if err != nil {
			return err
		}
	}
	// The seed hook runs beside start and health: it only writes data,
	// and nothing reaches the tenant before route, which waits for it.
	// That takes one process run off the path a new customer waits on.
	seedCtx, cancelSeed := context.WithCancel(ctx)
	defer cancelSeed()
	var seed chan error // the seed step's outcome while it runs
	waitSeed := func() error {
		if seed == nil {
			return nil
		}
		err := <-seed
		seed = nil
		return err
	}
	defer waitSeed()         // never leave the seed goroutine behind
	seedAfterHealth := false // the blueprint's seed runs after health
	for _, step := range steps {
		switch step {
		case stamp.StepSeed:
			if p.seedAfterHealthy() {
				seedAfterHealth = true
				continue
			}
			seed = make(chan error, 1)
			go func(queued time.Time) { seed <- p.step(seedCtx, stamp.StepSeed, queued) }(p.queued)
			continue
		case stamp.StepRoute:
			if err := waitSeed(); err != nil {
				return err
			}
		case stamp.StepRetire:
			if wait := p.drainLeft(); wait > 0 {
				p.r.queue.addAfter(p.t.Name, wait)
				return nil
			}
		}
		if err := p.step(ctx, step, p.queued); err != nil {
			cancelSeed() // the seed run goes on in the driver; a retry finds it
			return err
		}
		if step == stamp.StepRemove {
			return nil // the tenant and its events' subject are gone
		}
		p.queued = p.r.cfg.Clock.Now()
		if step == stamp.StepHealth && seedAfterHealth {
			if err := p.step(ctx, stamp.StepSeed, p.queued); err != nil {
				return err
			}
			p.queued = p.r.cfg.Clock.Now()
		}
	}
	return nil // route recorded tenant.ready, or retire tenant.upgraded
}

// step takes one step and records it as an event, or records its failure
// (see fail). queued is when the step became ready to run.
func (p *pass) step(ctx context.Context, step string, queued time.Time) error {
	started := p.r.cfg.Clock.Now()
	err := p.do(ctx, step)
	finished := p.r.cfg.Clock.Now()
	if err != nil {
		if ctx.Err() != nil {
			// Cancelled: a deletion, a lost lease or a shutdown ended the pass.
			p.log.Debug("step cut short", "step", step, "duration", finished.Sub(started), "cause", context.Cause(ctx))
		} else {
			p.log.Warn("step failed", "step", step, "duration", finished.Sub(started), "err", err)
		}
		return p.fail(ctx, step, queued, started, finished, err)
	}
	p.log.Debug("step done", "step", step, "wait", started.Sub(queued), "duration", finished.Sub(started))
	switch {
	case step == stamp.StepRemove:
		return nil // remove records its own event before the record goes
	case step == stamp.StepRetire, step == stamp.StepRoute && !p.upgrade:
		return nil // recorded with the write that ends the upgrade or makes the tenant ready
	}
	return p.stepEvent(ctx, step, queued, started, finished)
}

// stepEvent records a step that succeeded.
func (p *pass) stepEvent(ctx context.Context, step string, queued, started, finished time.Time) error {
	return p.event(ctx, &stamp.Event{
		Type: stamp.EventStep, Step: step, Status: stamp.StatusOK,
		QueuedAt: queued, StartedAt: started, FinishedAt: finished,
	})
}

// errFailed ends a pass whose tenant was marked failed: the failure is
// recorded and there is nothing to retry.
var errFailed = errors.New("tenant failed")

// fail records a failed step. A terminal failure marks the tenant failed
// and returns errFailed; a failure that cannot heal by itself (bad input
// to the driver, a missing executable) counts as terminal; any other error
// is recorded as a retry and returned for the caller to retry with backoff.
func (p *pass) fail(ctx context.Context, step string, queued, started, finished time.Time, err error) error {
	if errors.Is(err, errStale) || errors.Is(err, errFailed) || ctx.Err() != nil {
		return err
	}
	msg, terminal := failure(err)
	if !terminal {
		msg := fmt.Sprintf("%s: %s (will retry)", step, p.retryReason(err))
		if evErr := p.event(ctx, &stamp.Event{Type: stamp.EventRetry, Step: step, Status: stamp.StatusFailed, Message: msg,
			QueuedAt: queued, StartedAt: started, FinishedAt: finished}); evErr != nil {
			p.log.Error("record retry event", "err", evErr)
		}
		return fmt.Errorf("%s step of tenant %q: %w", step, p.t.Name, err)
	}
	if evErr := p.event(ctx, &stamp.Event{Type: stamp.EventStep, Step: step, Status: stamp.StatusFailed, Message: msg,
		QueuedAt: queued, StartedAt: started, FinishedAt: finished}); evErr != nil {
		return evErr
	}
	if u := p.t.Status.Upgrade; p.upgrade && p.t.Upgrading() && u.SwitchedAt.IsZero() && step != stamp.StepRollback {
		return p.failUpgrade(ctx, step, msg)
	}
	msg += "\n" + p.stopFailed(ctx)
	err = p.update(ctx, func(st *stamp.TenantStatus) {
		st.Phase = stamp.PhaseFailed
		st.FailedStep = step
		st.Message = msg
		st.ObservedGeneration = p.t.Generation
		st.Endpoints = nil
	})
	if err != nil {
		return err
	}
	// Our router says it failed before the failure is reported.
	if err := p.syncRoute(ctx); err != nil {
		p.log.Error("sync router after a failure", "err", err)
	}
	if err := p.event(ctx, &stamp.Event{Type: stamp.EventTenantFailed, Step: step, Status: stamp.StatusFailed, Message: msg}); err != nil {
		return err
	}
	return errFailed
}

// stopFailed stops what runs of a tenant that failed: it serves no one, and an
// instance left running would hold on to its data, memory and address
// (and keep writing, half migrated) with no one watching. It returns the
// line the failure's message ends with: that the instances are stopped,
// or what still runs and why.
func (p *pass) stopFailed(ctx context.Context) string {
	if s, ok := p.r.cfg.Driver.(stamp.Stopper); ok {
		err := s.Stop(ctx, p.t.Name)
		if err == nil {
			return "its instances are stopped"
		}
		p.log.Error("stop the instances of a failed tenant", "err", err)
		return fmt.Sprintf("its instances could not be stopped (%s): %s", stamp.ErrorMessage(err), p.stillRunning(ctx))
	}
	return "this driver cannot stop a tenant and keep it: " + p.stillRunning(ctx)
}

// stillRunning says which instances of the tenant run now.
func (p *pass) stillRunning(ctx context.Context) string {
	obs, err := p.r.cfg.Driver.Observe(ctx, p.t.Name)
	if err != nil {
		return "what still runs is unknown (" + stamp.ErrorMessage(err) + ")"
	}
	var ids []string
	for _, name := range slices.Sorted(maps.Keys(obs.Services)) {
		for _, inst := range obs.Services[name].Instances {
			ids = append(ids, inst.ID)
		}
	}
	if len(ids) == 0 {
		return "none of its instances runs"
	}
	return "still running: " + strings.Join(ids, ", ")
}

// failure tells whether err is terminal (retrying cannot fix it) and
// what to report.
func failure(err error) (msg string, terminal bool) {
	var term *terminalError
	switch {
	case errors.As(err, &term):
		return term.msg, true
	case stamp.ErrorCode(err) == stamp.EINVALID, stamp.ErrorCode(err) == stamp.EUNPROCESSABLE,
		stamp.ErrorCode(err) == stamp.ETOOLARGE: // a stored bundle over a limit stays over it
		return stamp.ErrorMessage(err), true
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, fs.ErrNotExist) && isExecError(err):
		return err.Error(), true
	}
	return err.Error(), false
}

// retryReason says why a step will be retried, for its tenant.retry
// event, which whoever may read the tenant sees: a coded error's message,
// written for clients, or else a stable sentence pointing at the server
// log. An internal error's text (a store's or driver's, with addresses,
// paths and SQL) stays in that log (the "step failed" line, which names
// the pass).
func (p *pass) retryReason(err error) string {
	var e *stamp.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "an internal error; the server log has it (pass " + p.id + ")"
}

// isExecError reports whether err comes from starting a program (a
// *fs.PathError of the fork/exec operation).
func isExecError(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && pe.Op == "fork/exec"
}

func (p *pass) do(ctx context.Context, step string) error {
	if step != stamp.StepRemove && p.bp == nil {
		if err := p.load(ctx); err != nil {
			return err
		}
	}
	if p.paramsErr != nil && step != stamp.StepRollback && step != stamp.StepRemove {
		return p.paramsErr
	}
	switch step {
	case stamp.StepAllocate:
		return p.allocate(ctx)
	case stamp.StepSecrets:
		return p.secrets(ctx)
	case stamp.StepDatabase:
		return p.databases(ctx)
	case stamp.StepMigrate:
		return p.migrate(ctx)
	case stamp.StepSeed:
		return p.seed(ctx)
	case stamp.StepStart:
		return p.start(ctx)
	case stamp.StepHealth:
		return p.health(ctx)
	case stamp.StepRoute:
		return p.route(ctx)
	case stamp.StepRemove:
		return p.remove(ctx)
	case stamp.StepCheck:
		return p.check(ctx)
	case stamp.StepSnapshot:
		return p.snapshot(ctx)
	case stamp.StepRestore:
		return p.restore(ctx)
	case stamp.StepRetire:
		return p.retire(ctx)
	case stamp.StepRollback:
		return p.rollback(ctx)
	case stamp.StepStop:
		return p.stop(ctx)
	}
	return fmt.Errorf("unknown step %q", step)
}

// load resolves the tenant's bundle and blueprint and the parts of the
// render input that need no side effects.
func (p *pass) load(ctx context.Context) error {
	bp, ref, err := p.r.blueprint(ctx, p.t.Spec.Blueprint, p.t.Spec.Version)
	if err != nil {
		return err
	}
	p.bp, p.ref = bp, ref
	// The spec's parameters may have been set for another version: this
	// one's defaults fill what the tenant never set.
	// Parameters that do not fit fail every step but the rollback of a
	// move to this version (a change made after the move was accepted):
	// undoing the move must not fail on them, or the old version, which
	// serves, would be stopped as failed.
	params, err := bp.TenantParams(p.t.Spec.Params)
	if err != nil {
		p.paramsErr = terminal("%s does not fit tenant %s: %s", bp.Ref(), p.t.Name, stamp.ErrorMessage(err))
		params = bp.KnownParams(p.t.Spec.Params)
	}
	p.in = blueprint.RenderInput{
		Tenant:       p.t.Name,
		Bundle:       ref,
		Plan:         p.t.Spec.Plan,
		Params:       params,
		Secrets:      map[string]string{},
		DatabaseURLs: map[string]string{},
		URL:          p.r.cfg.URL(p.t.Name),
	}
	return nil
}

// Blueprint returns the parsed blueprint of name@version, parsing each
// bundle once. A version that does not exist is a terminal error.
func (r *Reconciler) Blueprint(ctx context.Context, name, version string) (*blueprint.Blueprint, error) {
	bp, _, err := r.blueprint(ctx, name, version)
	return bp, err
}

// blueprint returns the parsed blueprint of name@version, parsing each
// bundle once.
func (r *Reconciler) blueprint(ctx context.Context, name, version string) (*blueprint.Blueprint, stamp.BundleRef, error) {
	r.mu.Lock()
	cached, ok := r.versions[name+"@"+version]
	r.mu.Unlock()
	if ok {
		// name@version is immutable: its digest never changes.
		return cached.bp, cached.ref, nil
	}
	b, err := r.cfg.Store.GetBundle(ctx, name, version)
	if stamp.ErrorCode(err) == stamp.ENOTFOUND {
		return nil, stamp.BundleRef{}, terminal("blueprint %s@%s does not exist", name, version)
	}
	if err != nil {
		return nil, stamp.BundleRef{}, fmt.Errorf("get blueprint %s@%s: %w", name, version, err)
	}
	ref := stamp.BundleRef{Name: b.Name, Version: b.Version, Digest: b.Digest}
	r.mu.Lock()
	bp := r.blueprints[b.Digest]
	r.mu.Unlock()
	if bp != nil {
		r.mu.Lock()
		r.versions[name+"@"+version] = parsedVersion{bp, ref}
		r.mu.Unlock()
		return bp, ref, nil
	}
	content, err := r.cfg.Store.BundleContent(ctx, b.Digest)
	if err != nil {
		return nil, ref, fmt.Errorf("read bundle %s: %w", b.Ref(), err)
	}
	data, err := bundle.ReadFile(content, blueprint.FileName)
	if err != nil {
		return nil, ref, terminal("bundle %s: %s", b.Ref(), stamp.ErrorMessage(err))
	}
	bp, err = blueprint.Parse(blueprint.FileName, data)
	if err != nil {
		return nil, ref, terminal("blueprint %s: %s", b.Ref(), err)
	}
	r.mu.Lock()
	r.blueprints[b.Digest] = bp
	r.versions[name+"@"+version] = parsedVersion{bp, ref}
	r.mu.Unlock()
	return bp, ref, nil
}

// parsedVersion is a blueprint version, parsed, and its bundle.
type parsedVersion struct {
	bp  *blueprint.Blueprint
	ref stamp.BundleRef
}

func (p *pass) allocate(ctx context.Context) error {
	if err := p.ensureUID(ctx); err != nil {
		return err
	}
	prep, ok := p.r.cfg.Driver.(stamp.Preparer)
	if !ok {
		return nil
	}
	rt, err := p.shape()
	if err != nil {
		return err
	}
	if err := prep.Prepare(ctx, rt); err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	return nil
}

// shape is the tenant's runtime without commands' arguments or env, which
// need secrets and databases not made yet: enough for a driver to set up
// directories, the bundle and ports.
func (p *pass) shape() (*stamp.Runtime, error) {
	_, plan, err := p.bp.ResolvePlan(p.t.Spec.Plan)
	if err != nil {
		return nil, terminal("%s", stamp.ErrorMessage(err))
	}
	rt := &stamp.Runtime{Tenant: p.t.Name, Revision: p.t.Spec.Revision(), Bundle: p.ref, UID: p.t.Status.UID, Limits: plan.Limits(), Outbound: plan.Outbound}
	for _, name := range p.bp.ServiceNames() {
		s := p.bp.Services[name]
		rt.Services = append(rt.Services, stamp.Service{
			Name: name, Port: s.Port, Public: s.Public, Replicas: plan.Replicas,
			Memory: plan.Memory, CPU: plan.CPU,
		})
	}
	return rt, nil
}

// secrets generates every secret the blueprint declares and the tenant
// lacks, plus a password per database, and keeps them in the store.
func (p *pass) secrets(ctx context.Context) error {
	have, err := p.r.cfg.Store.Secrets(ctx, p.t.Name)
	if err != nil {
		return fmt.Errorf("read secrets: %w", err)
	}
	missing, err := p.bp.GenerateSecrets(p.r.cfg.Random, have)
	if err != nil {
		return fmt.Errorf("generate secrets: %w", err)
	}
	if missing == nil {
		missing = map[string]string{}
	}
	for name := range p.bp.Databases {
		key := dbPasswordKey(name)
		if _, ok := have[key]; ok {
			continue
		}
		buf := make([]byte, 24)
		if _, err := io.ReadFull(p.r.cfg.Random, buf); err != nil {
			return fmt.Errorf("generate password of database %s: %w", name, err)
		}
		missing[key] = hex.EncodeToString(buf)
	}
	if err := p.secretParams(have, missing); err != nil {
		return err
	}
	for k, v := range missing {
		have[k] = v
	}
	if len(missing) > 0 {
		if err := p.r.cfg.Store.PutSecrets(ctx, p.t.Name, missing); err != nil {
			return fmt.Errorf("store secrets: %w", err)
		}
	}
	p.in.Secrets = have
	p.in.Params = p.withSecretParams(have)
	return nil
}

// database names database name of the tenant to its engine.
func (p *pass) database(name string) stamp.DatabaseSpec {
	return stamp.DatabaseSpec{Tenant: p.t.Name, Name: name, Password: p.in.Secrets[dbPasswordKey(name)], UID: p.t.Status.UID, ConnectionLimit: p.connLimit}
}

// dbPasswordKey names the generated password of a database among the
// tenant's secrets; the dot keeps it apart from blueprint secret names.
func dbPasswordKey(db string) string { return "db." + db + ".password" }

func (p *pass) databases(ctx context.Context) error {
	limit, err := p.connectionLimit(ctx)
	if err != nil {
		return err
	}
	p.connLimit = limit
	for name, db := range p.bp.Databases {
		engine := p.r.cfg.Engines[db.Engine]
		if engine == nil {
			return terminal("database %s needs engine %q, which this server does not provide", name, db.Engine)
		}
		url, err := engine.Ensure(ctx, p.database(name))
		if err != nil {
			return fmt.Errorf("ensure database %s: %w", name, err)
		}
		p.in.DatabaseURLs[name] = url
	}
	return nil
}

func (p *pass) migrate(ctx context.Context) error {
	if p.upgrade && !p.t.Status.Upgrade.Migrating && (len(p.bp.Hooks.Migrate) > 0 || p.t.Status.Upgrade.Recreate) {
		// From here on a failure restores the snapshot: a migration that
		// failed half way may have changed the schema. Without a migrate
		// hook nothing is restored in a blue/green move, since the old
		// version serves on and writes meanwhile: putting the snapshot
		// back would lose those writes. A recreate move restores anyway:
		// the old version stopped before the snapshot, so nothing is
		// lost, and the new one may have changed its data at start.
		if err := p.update(ctx, func(st *stamp.TenantStatus) { st.Upgrade.Migrating = true }); err != nil {
			return err
		}
	}
	if err := p.hook(ctx, "migrate", fmt.Sprintf("migrate-%s-g%d", p.t.Spec.Version, p.t.Generation)); err != nil {
		return err
	}
	return p.update(ctx, func(st *stamp.TenantStatus) { st.MigratedVersion = p.t.Spec.Version })
}

func (p *pass) seed(ctx context.Context) error {
	if err := p.hook(ctx, "seed", fmt.Sprintf("seed-g%d", p.t.Generation)); err != nil {
		return err
	}
	return p.update(ctx, func(st *stamp.TenantStatus) { st.Seeded = true })
}

// redact hides the tenant's secrets and database URLs in s (a hook's
// output), which goes into events any API client can read.
func (p *pass) redact(s string) string {
	var values []string
	for _, m := range []map[string]string{p.in.Secrets, p.in.DatabaseURLs} {
		values = slices.AppendSeq(values, maps.Values(m))
	}
	return redact.String(s, values)
}

// hook runs a blueprint hook as a driver task under a stable name, so a
// retry after a crash finds the earlier run instead of starting another.
// The name holds the generation: within one the hook runs once; a new one
// (an operator's retry of a failed tenant) runs it anew. Seed runs anew
// only until it succeeded once (status.seeded).
func (p *pass) hook(ctx context.Context, hook, taskName string) error {
	task, err := p.bp.Hook(hook, p.in)
	if err != nil {
		return terminal("render %s hook: %s", hook, err)
	}
	if task == nil {
		return nil
	}
	task.Name = taskName
	task.UID = p.t.Status.UID
	res, err := p.r.cfg.Driver.RunTask(ctx, p.t.Name, task)
	if err != nil {
		return fmt.Errorf("run %s hook: %w", hook, err)
	}
	if res.ExitCode != 0 {
		return terminal("%s hook exited with code %d; last output:\n%s", hook, res.ExitCode, p.redact(res.Output))
	}
	return nil
}

func (p *pass) start(ctx context.Context) error {
	rt, err := p.bp.Render(p.in)
	if err != nil {
		return terminal("render runtime: %s", err)
	}
	rt.Revision = p.t.Spec.Revision()
	rt.UID = p.t.Status.UID
	if err := p.r.cfg.Driver.Apply(ctx, rt); err != nil {
		return fmt.Errorf("start instances: %w", err)
	}
	p.runtime = rt
	return nil
}

// health waits until every instance with a health check passes it.
func (p *pass) health(ctx context.Context) error {
	deadline := time.Now().Add(p.r.cfg.HealthTimeout)
	for _, svc := range p.runtime.Services {
		if svc.Health == nil {
			continue
		}
		running, err := p.waitRunning(ctx, svc.Name, deadline)
		if err != nil {
			return err
		}
		for _, inst := range running {
			url := "http://" + inst.Endpoint + svc.Health.Path
			// Poll briskly: a new tenant's first answer is what the
			// customer waits for; the blueprint interval is for watching.
			err := p.r.waitAside(func() error {
				return health.WaitHealthy(ctx, nil, url, 5*time.Millisecond, svc.Health.Timeout, p.r.cfg.HealthTimeout)
			})
			if err == nil {
				continue
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			msg := fmt.Sprintf("service %s (%s) did not become healthy: %s", svc.Name, inst.ID, err)
			if hint := p.listenHint(ctx, svc, inst); hint != "" {
				msg += "; " + hint
			}
			if last, _ := p.r.cfg.Driver.Observe(ctx, p.t.Name); last != nil && last.Services[svc.Name] != nil && last.Services[svc.Name].LastExit != "" {
				so := last.Services[svc.Name]
				msg += fmt.Sprintf("; it restarted %d times, last exit: %s", so.Restarts, so.LastExit)
			}
			return terminal("%s", msg)
		}
	}
	return nil
}

// listenHint says where instance inst of svc listens, if not at its
// endpoint and the driver can tell, and why the endpoint is not on svc's
// declared port if it is not; "" otherwise.
func (p *pass) listenHint(ctx context.Context, svc stamp.Service, inst stamp.Instance) string {
	lr, ok := p.r.cfg.Driver.(stamp.ListenReporter)
	if !ok {
		return ""
	}
	addrs, err := lr.Listening(ctx, p.t.Name, inst.ID)
	if err != nil {
		return "" // it does not run: the exit says more
	}
	hint := health.ListenHint(svc.Name, inst.Endpoint, addrs)
	_, port, _ := net.SplitHostPort(inst.Endpoint)
	if hint != "" && svc.Port > 0 && port != strconv.Itoa(svc.Port) {
		hint += fmt.Sprintf("; %s was given port %s, not its declared port %d, which an instance gets only in a network namespace of the tenant's own "+
			"and while no other instance of the tenant holds it (a second replica, the other version during an upgrade): "+
			"have the app listen on ${listen} (or ${host} and ${port}, or $HOST and $PORT)", inst.ID, port, svc.Port)
	}
	return hint
}

// waitRunning returns the running instances of the pass's revision of
// service name, waiting (aside) until there is one or deadline passes. A
// service that exits at once spends most of its time between restarts:
// that is a failure to become healthy, ended by the health timeout, not
// a transient error to retry the pass for ever.
func (p *pass) waitRunning(ctx context.Context, name string, deadline time.Time) ([]stamp.Instance, error) {
	var running []stamp.Instance
	var last *stamp.ServiceObserved
	look := func() error {
		obs, err := p.r.cfg.Driver.Observe(ctx, p.t.Name)
		if err != nil {
			return fmt.Errorf("observe: %w", err)
		}
		if last = obs.Services[name]; last != nil {
			running = instancesOf(last, p.runtime.Revision)
		}
		return nil
	}
	if err := look(); err != nil || len(running) > 0 {
		return running, err
	}
	err := p.r.waitAside(func() error {
		for len(running) == 0 {
			if !time.Now().Before(deadline) {
				msg := fmt.Sprintf("service %s has no running instance after %s", name, p.r.cfg.HealthTimeout)
				if last != nil && last.LastExit != "" {
					msg += fmt.Sprintf("; it restarted %d times, last exit: %s", last.Restarts, last.LastExit)
				}
				return terminal("%s", msg)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
			if err := look(); err != nil {
				return err
			}
		}
		return nil
	})
	return running, err
}

func (p *pass) route(ctx context.Context) error {
	started := p.r.cfg.Clock.Now()
	obs, err := p.r.cfg.Driver.Observe(ctx, p.t.Name)
	if err != nil {
		return fmt.Errorf("observe: %w", err)
	}
	var endpoints []string
	for _, svc := range p.runtime.Services {
		if so := obs.Services[svc.Name]; svc.Public && so != nil {
			for _, inst := range instancesOf(so, p.runtime.Revision) {
				endpoints = append(endpoints, inst.Endpoint)
			}
		}
	}
	url := ""
	if len(endpoints) > 0 {
		url = p.r.cfg.URL(p.t.Name)
	}
	now := p.r.cfg.Clock.Now()
	var events []*stamp.Event
	if !p.upgrade {
		// The step's event and tenant.ready go with the write that makes
		// the tenant ready: a crash after it leaves nothing to redo, so
		// without them the tenant would be ready with no record of it.
		events = []*stamp.Event{
			{Type: stamp.EventStep, Step: stamp.StepRoute, Status: stamp.StatusOK, QueuedAt: p.queued, StartedAt: started, FinishedAt: now},
			{Type: stamp.EventTenantReady, Message: url},
		}
	}
	err = p.updateWith(ctx, func(st *stamp.TenantStatus) {
		st.Version = p.t.Spec.Version
		st.Revision = p.runtime.Revision
		st.Config = p.t.Spec.Config()
		if p.upgrade {
			// The old version runs on until retired: the upgrade is
			// not over, but the route now serves the new one.
			st.Upgrade.SwitchedAt = now
		} else {
			st.Phase = stamp.PhaseReady
			st.ObservedGeneration = p.t.Generation
		}
		st.FailedStep, st.Message = "", ""
		st.Endpoints = endpoints
		st.URL = url
		st.ReadyAt = now
		st.Limits = obs.Limits
	}, events...)
	if err != nil {
		return err
	}
	if err := p.syncRoute(ctx); err != nil {
		return err
	}
	if p.upgrade {
		p.moved()
		p.reportExposed(ctx)
		return nil
	}
	p.reportExposed(ctx)
	// Instances of another revision left by a crash (or an upgrade
	// interrupted before it was recorded) no longer serve: they go.
	if err := p.r.cfg.Driver.Retire(ctx, p.t.Name, p.runtime.Revision); err != nil {
		return fmt.Errorf("stop instances of other versions: %w", err)
	}
	return nil
}

// reportExposed records a tenant.exposed warning for each listener of the
// tenant's instances the driver finds reachable without the router. It
// only warns: the tenant serves, and the operator decides.
func (p *pass) reportExposed(ctx context.Context) {
	er, ok := p.r.cfg.Driver.(stamp.ExposureReporter)
	if !ok {
		return
	}
	lines, err := er.Exposed(ctx, p.t.Name)
	if err != nil {
		p.log.Warn("look for instances listening beyond loopback", "err", err)
		return
	}
	for _, line := range lines {
		p.log.Warn("instance reachable without the router", "listener", line)
		if err := p.event(ctx, &stamp.Event{Type: stamp.EventTenantExposed, Message: line}); err != nil {
			p.log.Warn("record tenant.exposed", "err", err)
		}
	}
}

// remove releases everything the tenant holds, then deletes its record.
func (p *pass) remove(ctx context.Context) error {
	started := p.r.cfg.Clock.Now()
	if err := p.r.cfg.Driver.Remove(ctx, p.t.Name); err != nil {
		return fmt.Errorf("remove instances: %w", err)
	}
	bp, _, err := p.r.blueprint(ctx, p.t.Spec.Blueprint, p.t.Spec.Version)
	var term *terminalError
	if err != nil && !errors.As(err, &term) {
		return err
	}
	if bp != nil {
		for name, db := range bp.Databases {
			engine := p.r.cfg.Engines[db.Engine]
			if engine == nil {
				// It may well exist, made by a server that had the engine:
				// keep the tenant until a server that has it drops it.
				return fmt.Errorf("drop database %s: this server has no %s engine (start it with --tenant-%s)", name, db.Engine, db.Engine)
			}
			if err := engine.Drop(ctx, stamp.DatabaseSpec{Tenant: p.t.Name, Name: name}); err != nil {
				return fmt.Errorf("drop database %s: %w", name, err)
			}
		}
	}
	if err := p.resolveIncidents(ctx); err != nil {
		return err
	}
	// Recorded before the record goes, so that routers, which follow the
	// log, look the tenant up again and find it gone.
	if err := p.stepEvent(ctx, stamp.StepRemove, p.queued, started, p.r.cfg.Clock.Now()); err != nil {
		return err
	}
	err = p.r.cfg.Store.DeleteTenant(ctx, p.t.Name, p.t.ResourceVersion)
	switch stamp.ErrorCode(err) {
	case "", stamp.ENOTFOUND:
	case stamp.ECONFLICT:
		return errStale
	default:
		return fmt.Errorf("delete tenant record: %w", err)
	}
	// Our router drops the route before the deletion is reported done.
	if err := p.syncRoute(ctx); err != nil {
		p.log.Error("sync router after delete", "err", err)
	}
	if err := p.event(ctx, &stamp.Event{Type: stamp.EventTenantDeleted}); err != nil {
		return err
	}
	p.r.give(ctx, p.t.Name)
	return nil
}

// syncRoute has this server's router serve what the store now says of
// the tenant, before the pass reports it.
func (p *pass) syncRoute(ctx context.Context) error {
	if p.r.cfg.Routes == nil {
		return nil
	}
	if err := p.r.cfg.Routes.SyncTenant(ctx, p.t.Name); err != nil {
		return fmt.Errorf("sync router: %w", err)
	}
	return nil
}

// update changes the tenant's status with change and writes it; a
// concurrent change of the tenant ends the pass. Steps running side by
// side (seed beside start and health) write the status only through it.
func (p *pass) update(ctx context.Context, change func(*stamp.TenantStatus)) error {
	return p.updateWith(ctx, change)
}

// updateWith is update that appends events of the tenant in the same
// transaction: a write that ends a move (an upgrade or its rollback) and
// the events saying so are kept together or lost together, so a crash
// between them cannot leave a finished move with no record of it.
func (p *pass) updateWith(ctx context.Context, change func(*stamp.TenantStatus), events ...*stamp.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	change(&p.t.Status)
	for _, e := range events {
		e.Tenant, e.Generation = p.t.Name, p.t.Generation
	}
	err := p.r.cfg.Store.UpdateTenant(ctx, p.t, events...)
	switch stamp.ErrorCode(err) {
	case "":
		return nil
	case stamp.ECONFLICT, stamp.ENOTFOUND:
		return errStale
	}
	return fmt.Errorf("save status: %w", err)
}

func (p *pass) event(ctx context.Context, e *stamp.Event) error {
	e.Tenant = p.t.Name
	e.Generation = p.t.Generation
	if err := p.r.cfg.Store.AppendEvents(ctx, e); err != nil {
		return fmt.Errorf("record %s event: %w", e.Type, err)
	}
	if e.Type == stamp.EventTenantRolledBack || e.Type == stamp.EventTenantFailed && p.upgrade {
		p.moved()
	}
	return nil
}

// moved tells Config.Moved that the tenant's move reached an outcome.
func (p *pass) moved() {
	if p.r.cfg.Moved != nil {
		p.r.cfg.Moved(p.t.Name)
	}
}
