package reconcile

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/blueprint"
)

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
		return r.gone(ctx, name)
	}
	if err != nil {
		return fmt.Errorf("get tenant %q: %w", name, err)
	}
	r.noteRuntime(t)
	if t.Spec.Desired == stamp.DesiredSoftDeleted && !r.cfg.Clock.Now().Before(t.Spec.PurgeAt) {
		if t, err = r.purge(ctx, t); err != nil {
			return err
		}
	}
	var obs *stamp.Observed
	if t.Status.Phase != stamp.PhaseSleeping && t.Status.Phase != stamp.PhaseSuspended && t.Status.Phase != stamp.PhaseSoftDeleted {
		// A sleeping, suspended or deleted tenant runs nothing to look at: a pass
		// over it touches no file or process of the driver's.
		if obs, err = r.cfg.Driver.Observe(ctx, t.RuntimeName()); err != nil {
			return fmt.Errorf("observe tenant %q: %w", name, err)
		}
	}
	steps := Plan(t, obs)
	if len(steps) == 0 && r.sleepDue(ctx, t) {
		steps = []string{stamp.StepSleep}
	}
	if len(steps) == 0 {
		if asleep(t) {
			r.rest(ctx, name)
		}
		if t.Spec.Desired == stamp.DesiredSoftDeleted {
			r.queue.addAfter(name, t.Spec.PurgeAt.Sub(r.cfg.Clock.Now())) // to purge it then
		}
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
	start, kind := r.cfg.Clock.Now(), passKind(p.upgrade, steps, t.Status.Phase)
	err = p.run(ctx, steps)
	r.refillAfterClaim(name)
	if r.cfg.Observe != nil {
		r.cfg.Observe(kind, passOutcome(err), r.cfg.Clock.Now().Sub(start))
	}
	switch {
	case errors.Is(err, errStale):
		r.queue.add(name)
		return nil
	case errors.Is(err, errFailed):
		return nil
	case err == nil && asleep(p.t):
		r.rest(ctx, name)
	case err == nil && r.sleepDue(ctx, p.t):
		// Ready, and idle already (a short idle time): watched from
		// now on otherwise.
		r.queue.add(name)
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

// passKind names what a pass with steps over a tenant in phase does, for
// Config.Observe.
func passKind(upgrade bool, steps []string, phase string) string {
	switch {
	case upgrade:
		return "upgrade"
	case steps[0] == stamp.StepRemove:
		return "remove"
	case steps[0] == stamp.StepSleep:
		return "sleep"
	case steps[0] == stamp.StepSuspend:
		return "suspend"
	case phase == stamp.PhaseSleeping, phase == stamp.PhaseSuspended, phase == stamp.PhaseSoftDeleted:
		return "wake"
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
	// waking is set for a pass that wakes the tenant from scale to zero,
	// whose step events wait in deferred for the next write (see
	// stepEvent): a request waits on the pass, and nobody follows it.
	waking   bool
	deferred []*stamp.Event
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
	case steps[0] == stamp.StepSuspend, (p.t.Status.Phase == stamp.PhaseSuspended || p.t.Status.Phase == stamp.PhaseSoftDeleted) && steps[0] != stamp.StepRemove:
		// Being suspended or deleted, or resumed or undeleted: routers
		// answer 503 (or 404) until route.
	case steps[0] == stamp.StepSleep, p.t.Status.Phase == stamp.PhaseSleeping && steps[0] != stamp.StepRemove:
		// Going to sleep, or waking: routers hold the tenant's requests
		// while it is sleeping, so it stays so until route.
		if p.waking = steps[0] != stamp.StepSleep; p.waking {
			defer p.flushSteps(ctx)
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
	// Its outcome is recorded here, between steps, never from beside
	// them: a seed that failed while start ran must stop the instances
	// start made, not race it.
	seedCtx, cancelSeed := context.WithCancel(ctx)
	defer cancelSeed()
	var seed chan stepRun // the seed step's outcome while it runs
	// seeded records the seed's outcome once it is in (waiting for it
	// with wait) and says whether it failed the pass.
	seeded := func(wait bool) error {
		if seed == nil {
			return nil
		}
		var run stepRun
		if wait {
			run = <-seed
		} else {
			select {
			case run = <-seed:
			default:
				return nil
			}
		}
		seed = nil
		return p.record(ctx, run)
	}
	defer func() {
		if seed != nil { // the pass ended early: keep a seed that succeeded
			if run := <-seed; run.err == nil {
				p.record(ctx, run)
			}
		}
	}()
	// Allocate runs beside secrets and database (see startAllocate); its
	// outcome is recorded between steps once it is in (waiting for it
	// with wait), at the latest before the step after them.
	var allocating <-chan stepRun
	allocated := func(wait bool) error {
		if allocating == nil {
			return nil
		}
		var run stepRun
		if wait {
			run = <-allocating
		} else {
			select {
			case run = <-allocating:
			default:
				return nil
			}
		}
		allocating = nil
		return p.record(ctx, run)
	}
	defer func() {
		if allocating != nil { // the pass ended early: let the driver finish
			<-allocating
		}
	}()
	seedAfterHealth := false // the blueprint's seed runs after health
	for _, step := range steps {
		if err := seeded(step == stamp.StepRoute); err != nil {
			return err
		}
		if err := allocated(step != stamp.StepSecrets && step != stamp.StepDatabase); err != nil {
			return err
		}
		switch step {
		case stamp.StepAllocate:
			var err error
			if allocating, err = p.startAllocate(ctx, p.queued); err != nil {
				return err
			}
			p.queued = p.r.cfg.Clock.Now()
			continue
		case stamp.StepSeed:
			if p.seedAfterHealthy() {
				seedAfterHealth = true
				continue
			}
			seed = make(chan stepRun, 1)
			queued, started := p.queued, p.r.cfg.Clock.Now()
			p.startSeed(seedCtx)
			go func() { seed <- p.takeFrom(seedCtx, stamp.StepSeed, queued, started) }()
			continue
		case stamp.StepRetire:
			if wait := p.drainLeft(); wait > 0 {
				p.r.queue.finishAfter(p.t.Name, wait)
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
	return p.record(ctx, p.take(ctx, step, queued))
}

// stepRun is a step taken and not yet recorded.
type stepRun struct {
	step                      string
	queued, started, finished time.Time
	err                       error
}

// take takes one step.
func (p *pass) take(ctx context.Context, step string, queued time.Time) stepRun {
	return p.takeFrom(ctx, step, queued, p.r.cfg.Clock.Now())
}

// takeFrom takes one step whose work began at started.
func (p *pass) takeFrom(ctx context.Context, step string, queued, started time.Time) stepRun {
	err := p.do(ctx, step)
	return stepRun{step: step, queued: queued, started: started, finished: p.r.cfg.Clock.Now(), err: err}
}

// record records a step taken as an event, or its failure (see fail).
func (p *pass) record(ctx context.Context, r stepRun) error {
	step, queued, started, finished, err := r.step, r.queued, r.started, r.finished, r.err
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
	case step == stamp.StepRemove, step == stamp.StepSleep, step == stamp.StepSuspend:
		return nil // remove records its own event with the deletion, sleep and suspend theirs once stopped
	case step == stamp.StepRetire, step == stamp.StepRoute && !p.upgrade:
		return nil // recorded with the write that ends the upgrade or makes the tenant ready
	}
	return p.stepEvent(ctx, step, queued, started, finished)
}

// stepEvent records a step that succeeded; in a wake it waits for the
// pass's next write, so that the request held for the wake waits for
// one write (route's) rather than one per step. A crash loses the
// waiting events: they are timings, and no state depends on them.
func (p *pass) stepEvent(ctx context.Context, step string, queued, started, finished time.Time) error {
	e := &stamp.Event{
		Type: stamp.EventStep, Step: step, Status: stamp.StatusOK,
		QueuedAt: queued, StartedAt: started, FinishedAt: finished,
	}
	if p.waking {
		p.mu.Lock()
		p.deferred = append(p.deferred, e)
		p.mu.Unlock()
		return nil
	}
	return p.event(ctx, e)
}

// flushSteps writes the step events still waiting when a wake pass ends
// without a write to take them (it failed, or was cut short).
func (p *pass) flushSteps(ctx context.Context) {
	if err := p.event(context.WithoutCancel(ctx)); err != nil {
		p.log.Warn("record the step events of a wake", "err", err)
	}
}

// errFailed ends a pass whose tenant was marked failed: the failure is
// recorded and there is nothing to retry.
var errFailed = errors.New("tenant failed")

// fail records a failed step. A terminal failure marks the tenant failed
// and returns errFailed; a failure that cannot heal by itself (bad input
// to the driver, a missing executable) counts as terminal; any other error
// is recorded as a retry and returned for the caller to retry with backoff.
// Out of space is never terminal (see failure).
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
	// The failure and its event are one write: a crash leaves both or
	// neither. Our router follows at once (others within their poll).
	err = p.updateWith(ctx, func(st *stamp.TenantStatus) {
		st.Phase = stamp.PhaseFailed
		st.FailedStep = step
		st.Message = msg
		st.ObservedGeneration = p.t.Generation
		st.Endpoints = nil
	}, &stamp.Event{Type: stamp.EventTenantFailed, Step: step, Status: stamp.StatusFailed, Message: msg})
	if err != nil {
		return err
	}
	if err := p.syncRoute(ctx); err != nil {
		p.log.Error("sync router after a failure", "err", err)
	}
	if p.upgrade {
		p.moved()
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
		err := s.Stop(ctx, p.t.RuntimeName())
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
	obs, err := p.r.cfg.Driver.Observe(ctx, p.t.RuntimeName())
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
// what to report. An error wrapping ENOSPC is transient whatever else it
// says: a full disk (the driver's, a database's) heals once space is
// freed, and the tenant converges then.
func failure(err error) (msg string, terminal bool) {
	var term *terminalError
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return err.Error(), false
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
// event, which whoever may read the tenant sees: "no space left on
// device" for a full disk, plainly, a coded error's message, written for
// clients, or else a stable sentence pointing at the server log. An internal error's text (a store's or driver's, with addresses,
// paths and SQL) stays in that log (the "step failed" line, which names
// the pass).
func (p *pass) retryReason(err error) string {
	if errors.Is(err, syscall.ENOSPC) {
		return "no space left on device; the server log says where (pass " + p.id + ")"
	}
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
	case stamp.StepSleep:
		return p.sleep(ctx)
	case stamp.StepSuspend:
		return p.suspend(ctx)
	case stamp.StepLoad:
		return p.loadBackup(ctx)
	}
	return fmt.Errorf("unknown step %q", step)
}

// loaded loads the blueprint (see load) if it is not yet, and fails
// with why the tenant's parameters do not fit it, if they do not: what
// do does before any step but rollback and remove.
func (p *pass) loaded(ctx context.Context) error {
	if p.bp == nil {
		if err := p.load(ctx); err != nil {
			return err
		}
	}
	return p.paramsErr
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
// transaction: a write (a failure, the start or end of a move) and the
// events saying so are kept together or lost together, so a crash
// between them cannot leave a state that no event explains.
func (p *pass) updateWith(ctx context.Context, change func(*stamp.TenantStatus), events ...*stamp.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	change(&p.t.Status)
	events = append(slices.Clip(p.deferred), events...)
	for _, e := range events {
		e.Tenant, e.Generation = p.t.Name, p.t.Generation
	}
	err := p.r.cfg.Store.UpdateTenant(ctx, p.t, events...)
	if err == nil {
		p.deferred = nil
	}
	switch stamp.ErrorCode(err) {
	case "":
		return nil
	case stamp.ECONFLICT, stamp.ENOTFOUND:
		return errStale
	}
	return fmt.Errorf("save status: %w", err)
}

// event records events of the tenant that no write of its state goes
// with (a step's outcome, a retry), after the step events waiting for a
// write (see stepEvent); an event that explains a write is written with
// it, through updateWith.
func (p *pass) event(ctx context.Context, events ...*stamp.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	events = append(slices.Clip(p.deferred), events...)
	if len(events) == 0 {
		return nil
	}
	for _, e := range events {
		e.Tenant, e.Generation = p.t.Name, p.t.Generation
	}
	if err := p.r.cfg.Store.AppendEvents(ctx, events...); err != nil {
		return fmt.Errorf("record %s event: %w", events[len(events)-1].Type, err)
	}
	p.deferred = nil
	return nil
}

// moved tells Config.Moved that the tenant's move reached an outcome.
func (p *pass) moved() {
	if p.r.cfg.Moved != nil {
		p.r.cfg.Moved(p.t.Name)
	}
}
