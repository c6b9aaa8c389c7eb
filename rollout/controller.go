package rollout

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/blueprint"
)

// Counters reads the cumulative requests and 5xx answers the router gave
// for a tenant; a release gate compares them over its soak.
type Counters func(tenant string) (requests, errors5xx uint64)

// Store is the part of stamp.Store a Controller uses: the releases it
// advances, the tenants and bundles they move, the incidents that halt
// them, the events it appends and a lease per release.
type Store interface {
	stamp.ReleaseStore
	stamp.TenantStore
	stamp.BundleStore
	stamp.IncidentStore
	stamp.EventLog
	stamp.LeaseStore
}

// Config holds a Controller's dependencies.
type Config struct {
	Store Store
	// Holder names this control-plane process in the leases it takes on
	// releases, as reconcile.Config.Holder does for tenants.
	Holder   string
	LeaseTTL time.Duration // default 5s
	Interval time.Duration // how often releases are advanced; default 250ms
	Counters Counters      // optional: without it the 5xx gate is not checked
	Enqueue  func(tenant string)
	Clock    stamp.Clock
	Logger   *slog.Logger
}

// Controller advances releases. Each release is advanced by one
// control-plane process at a time: the holder of its lease.
type Controller struct {
	cfg Config

	wake chan struct{} // Wake's signal to Run

	mu        sync.Mutex
	baselines map[string]map[string][2]uint64 // release id -> tenant -> counters at gate start
}

// Wake asks for a round now rather than at the next tick: the reconciler
// calls it when a tenant's move ended, so the release takes its next
// tenant at once. It never blocks.
func (c *Controller) Wake() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// NewController returns a Controller; nothing runs until Run.
func NewController(cfg Config) *Controller {
	if cfg.Holder == "" {
		cfg.Holder = "stamp"
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 5 * time.Second
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 250 * time.Millisecond
	}
	if cfg.Enqueue == nil {
		cfg.Enqueue = func(string) {}
	}
	if cfg.Clock == nil {
		cfg.Clock = stamp.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Controller{cfg: cfg, wake: make(chan struct{}, 1), baselines: map[string]map[string][2]uint64{}}
}

// Run advances every unfinished release each Interval, and when woken,
// until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	ticker := time.NewTicker(c.cfg.Interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		case <-c.wake:
		}
		releases, err := c.cfg.Store.ListReleases(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.cfg.Logger.Error("list releases", "err", err)
			}
			continue
		}
		for _, r := range releases {
			if r.Finished() {
				continue
			}
			if err := c.advance(ctx, r.ID); err != nil && ctx.Err() == nil {
				c.cfg.Logger.Error("advance release", "release", r.ID, "err", err)
			}
		}
	}
}

// advance takes one round of steps on release id, if this process holds
// (or can take) its lease.
func (c *Controller) advance(ctx context.Context, id string) error {
	key := "release/" + id
	ok, err := c.cfg.Store.TryLease(ctx, key, c.cfg.Holder, c.cfg.LeaseTTL)
	if err != nil || !ok {
		return err
	}
	for range 3 {
		r, err := c.cfg.Store.GetRelease(ctx, id)
		if err != nil {
			return err
		}
		err = c.step(ctx, r)
		if stamp.ErrorCode(err) == stamp.ECONFLICT {
			continue // an operator changed the release meanwhile
		}
		if err == nil && r.Finished() {
			if err := c.cfg.Store.ReleaseLease(ctx, key, c.cfg.Holder); err != nil {
				c.cfg.Logger.Warn("give up release lease", "release", id, "err", err)
			}
			c.mu.Lock()
			delete(c.baselines, id)
			c.mu.Unlock()
		}
		return err
	}
	return nil
}

// round is one step over a release: the tenants it read and the events
// to record once the release is written.
type round struct {
	c       *Controller
	ctx     context.Context
	r       *stamp.Release
	tenants map[string]*stamp.Tenant // read so far; nil for a tenant that is gone
	listed  bool                     // tenants holds every tenant
	err     error                    // the first store error; the round writes nothing
	events  []*stamp.Event
	now     time.Time
	changed bool
	yank    *bool // whether the release's version is yanked, once read
}

// tenant returns tenant name as the store has it now, or nil if it is
// gone. A round reads only the tenants it acts on (those moving and those
// it may start), so its cost does not grow with the fleet. A store error
// is kept in rd.err and reads as nil.
func (rd *round) tenant(name string) *stamp.Tenant {
	if t, ok := rd.tenants[name]; ok || rd.listed {
		return t
	}
	t, err := rd.c.cfg.Store.GetTenant(rd.ctx, name)
	switch {
	case stamp.ErrorCode(err) == stamp.ENOTFOUND:
		t = nil
	case err != nil:
		if rd.err == nil {
			rd.err = fmt.Errorf("get tenant %s: %w", name, err)
		}
		return nil
	}
	rd.tenants[name] = t
	return t
}

// readAll reads every tenant at once, cheaper than one by one when a
// round needs many (a large wave's gate).
func (rd *round) readAll() {
	if rd.listed {
		return
	}
	list, err := rd.c.cfg.Store.ListTenants(rd.ctx)
	if err != nil {
		if rd.err == nil {
			rd.err = fmt.Errorf("list tenants: %w", err)
		}
		return
	}
	rd.tenants = make(map[string]*stamp.Tenant, len(list))
	for _, t := range list {
		rd.tenants[t.Name] = t
	}
	rd.listed = true
}

func (rd *round) event(typ, tenant, status, format string, args ...any) {
	rd.events = append(rd.events, &stamp.Event{Type: typ, Release: rd.r.ID, Tenant: tenant, Status: status, Message: fmt.Sprintf(format, args...)})
}

// setTenant moves release tenant i to state with message, and records it.
func (rd *round) setTenant(i int, state, format string, args ...any) {
	rt := &rd.r.Status.Tenants[i]
	rt.State, rt.Message = state, fmt.Sprintf(format, args...)
	if state != stamp.ReleaseTenantUpgrading && state != stamp.ReleaseTenantRollingBack {
		rt.FinishedAt = rd.now
	}
	rd.changed = true
	msg := state
	if rt.Message != "" {
		msg += ": " + rt.Message
	}
	rd.event(stamp.EventReleaseTenant, rt.Name, "", "%s", msg)
}

// step advances r as far as it can now, writes it if it changed and then
// records its events.
func (c *Controller) step(ctx context.Context, r *stamp.Release) error {
	rd := &round{c: c, ctx: ctx, r: r, tenants: map[string]*stamp.Tenant{}, now: c.cfg.Clock.Now()}
	var moves []*stamp.Tenant // tenants whose spec must name another version
	if r.Status.StartedAt.IsZero() {
		r.Status.StartedAt, rd.changed = rd.now, true
	}
	rd.observe()
	switch {
	case r.Spec.Aborted && r.Status.State != stamp.ReleaseRollingBack:
		moving := 0
		for i, rt := range r.Status.Tenants {
			switch rt.State {
			case stamp.ReleaseTenantPending:
				rd.setTenant(i, stamp.ReleaseTenantSkipped, "the release was aborted")
			case stamp.ReleaseTenantUpgrading, stamp.ReleaseTenantRollingBack:
				moving++
			}
		}
		if moving > 0 {
			// Moves under way finish (or roll back) by themselves; the
			// release ends once they have, so its record says how.
			if msg := fmt.Sprintf("aborting: %d move(s) under way finish first", moving); r.Status.Message != msg {
				r.Status.Message, rd.changed = msg, true
			}
			break
		}
		rd.finish(stamp.ReleaseAborted, stamp.EventReleaseAborted, "aborted by an operator")
	case r.Status.State == stamp.ReleaseRollingBack:
		moves = rd.rollBack()
	case r.Spec.Paused:
		if r.Status.State != stamp.ReleasePaused {
			r.Status.State, rd.changed = stamp.ReleasePaused, true
			rd.event(stamp.EventReleasePaused, "", "", "%s", cmp.Or(r.Status.Message, "paused by an operator"))
		}
	default:
		if r.Status.State == stamp.ReleasePaused {
			r.Status.State, r.Status.Message, rd.changed = stamp.ReleaseRunning, "", true
			rd.event(stamp.EventReleaseResumed, "", "", "resumed")
		}
		moves = rd.roll()
		if r.Status.State == stamp.ReleaseRollingBack {
			moves = append(moves, rd.rollBack()...) // a gate failed just now
		}
	}
	if rd.err != nil {
		return rd.err // decided on tenants it could not read: nothing is written
	}
	if rd.changed {
		// The release first, with the events of what it decided in the
		// same transaction, so that its history never disagrees with its
		// state: a crash after it re-applies the moves it records; a
		// crash before leaves the tenants and the log as they were.
		if err := c.cfg.Store.UpdateRelease(ctx, r, rd.events...); err != nil {
			return err
		}
	} else if len(rd.events) > 0 {
		if err := c.cfg.Store.AppendEvents(ctx, rd.events...); err != nil {
			return fmt.Errorf("record events of release %s: %w", r.ID, err)
		}
	}
	for _, t := range moves {
		if err := c.move(ctx, t, r); err != nil {
			return err
		}
	}
	return nil
}

// move writes the version tenant t was given by the release (a new
// generation) and wakes the reconciler.
func (c *Controller) move(ctx context.Context, t *stamp.Tenant, r *stamp.Release) error {
	// The request is written with the move, before the reconciler is
	// woken, so that it precedes the reconciler's events of the move.
	err := c.cfg.Store.UpdateTenant(ctx, t, &stamp.Event{Type: stamp.EventTenantUpgradeRequested, Tenant: t.Name, Release: r.ID,
		Generation: t.Generation, Message: fmt.Sprintf("version %s by release %s", t.Spec.Version, r.ID)})
	switch stamp.ErrorCode(err) {
	case "":
	case stamp.ECONFLICT, stamp.ENOTFOUND:
		return nil // the next round sees the tenant as it is now
	default:
		return fmt.Errorf("move tenant %s to %s: %w", t.Name, t.Spec.Version, err)
	}
	c.cfg.Enqueue(t.Name)
	return nil
}

// serves reports whether t's route serves version: it is ready on it, or
// upgrading to it with the route switched (the old version only drains),
// or asleep on it (a tenant that slept is moved and goes back to sleep:
// the next request wakes it on version).
func serves(t *stamp.Tenant, version string) bool {
	if t.Status.Version != version || t.Spec.Version != version {
		return false
	}
	u := t.Status.Upgrade
	switch t.Status.Phase {
	case stamp.PhaseReady, stamp.PhaseSleeping:
		return !t.Upgrading()
	case stamp.PhaseUpgrading:
		return u != nil && u.To == version && !u.SwitchedAt.IsZero() && u.FailedStep == ""
	}
	return false
}

// observe updates the state of every tenant the release moved from what
// the tenant's status says now.
func (rd *round) observe() {
	r := rd.r
	for i, rt := range r.Status.Tenants {
		moving := rt.State == stamp.ReleaseTenantUpgrading || rt.State == stamp.ReleaseTenantRollingBack
		if !moving {
			continue
		}
		t := rd.tenant(rt.Name)
		if t == nil {
			rd.setTenant(i, stamp.ReleaseTenantSkipped, "the tenant was deleted")
			continue
		}
		target := r.Spec.Version
		if rt.State == stamp.ReleaseTenantRollingBack {
			target = rt.From
		}
		if t.Generation < rt.Generation {
			continue // the move is not written yet; roll writes it
		}
		u := t.Status.Upgrade
		switch {
		case serves(t, target):
			if rt.State == stamp.ReleaseTenantRollingBack {
				rd.setTenant(i, stamp.ReleaseTenantRolledBack, "back on %s", rt.From)
			} else {
				rd.setTenant(i, stamp.ReleaseTenantUpgraded, "")
			}
		case u != nil && u.To == target && u.Result == stamp.UpgradeRolledBack && u.FailedStep == stamp.StepCheck:
			rd.setTenant(i, stamp.ReleaseTenantSkipped, "it was not healthy before the upgrade, so it was not upgraded: %s", u.Message)
		case u != nil && u.To == target && u.Result != "" && u.Result != stamp.UpgradeSucceeded:
			rd.setTenant(i, stamp.ReleaseTenantFailed, "%s at step %s: %s", u.Result, u.FailedStep, u.Message)
		case t.Status.Phase == stamp.PhaseFailed && t.Status.ObservedGeneration == t.Generation:
			rd.setTenant(i, stamp.ReleaseTenantFailed, "failed at step %s: %s", t.Status.FailedStep, t.Status.Message)
		case t.Spec.Version != target:
			rd.setTenant(i, stamp.ReleaseTenantSkipped, "its version was changed to %s outside the release", t.Spec.Version)
		}
	}
}

// roll starts the pending tenants of the current wave, up to MaxParallel
// moving at once, and gates the wave once none is left moving. It returns
// the tenants whose spec it changed, to be written after the release.
func (rd *round) roll() []*stamp.Tenant {
	r := rd.r
	if r.Status.State == "" {
		r.Status.State, rd.changed = stamp.ReleaseRunning, true
	}
	var moves []*stamp.Tenant
	for r.Status.Wave < len(r.Spec.Waves) {
		w := r.Status.Wave
		moving := 0
		for _, rt := range r.Status.Tenants {
			if rt.State != stamp.ReleaseTenantUpgrading {
				continue
			}
			moving++
			if t := rd.tenant(rt.Name); t != nil && t.Generation < rt.Generation {
				// Recorded but not written (a crash in between).
				moves = append(moves, rd.moveTo(t, r.Spec.Version, rt.Generation))
			}
		}
		for i := range r.Status.Tenants {
			rt := &r.Status.Tenants[i]
			if rt.State != stamp.ReleaseTenantPending || rt.Wave != w || moving >= max(r.Spec.MaxParallel, 1) {
				continue
			}
			t := rd.tenant(rt.Name)
			switch {
			case t == nil || t.Spec.Desired == stamp.DesiredDeleted:
				rd.setTenant(i, stamp.ReleaseTenantSkipped, "the tenant was deleted")
			case t.Spec.Desired == stamp.DesiredSuspended:
				rd.setTenant(i, stamp.ReleaseTenantSkipped, "the tenant was suspended")
			case t.Spec.Desired == stamp.DesiredSoftDeleted:
				rd.setTenant(i, stamp.ReleaseTenantSkipped, "the tenant was deleted")
			case t.Spec.Pin != "" && t.Spec.Pin != r.Spec.Version:
				rd.setTenant(i, stamp.ReleaseTenantSkipped, "pinned to version %s", t.Spec.Pin)
			case t.Status.Version == "":
				rd.setTenant(i, stamp.ReleaseTenantSkipped, "it has never served (it is %s), so it is not upgraded", t.Status.Phase)
			case t.Status.Version == r.Spec.Version && t.Spec.Version == r.Spec.Version && !t.Upgrading():
				rd.setTenant(i, stamp.ReleaseTenantUpgraded, "it was on %s already", r.Spec.Version)
			case t.Upgrading() || t.Spec.Version != t.Status.Version:
				// busy with another move: later
			case downgrade(t, &r.Spec):
				// Moved past the release's version since it was created.
				rd.setTenant(i, stamp.ReleaseTenantSkipped, "%s", downgradeReason(t.Spec.Version, r.Spec.Version))
			case rd.yanked():
				rd.pauseYanked()
				return moves
			default:
				rt.From, rt.StartedAt, rt.Generation = t.Status.Version, rd.now, t.Generation+1
				if blueprint.CompareVersions(r.Spec.Version, rt.From) < 0 {
					rd.setTenant(i, stamp.ReleaseTenantUpgrading, "from %s, a downgrade", rt.From)
				} else {
					rd.setTenant(i, stamp.ReleaseTenantUpgrading, "from %s", rt.From)
				}
				moves = append(moves, rd.moveTo(t, r.Spec.Version, rt.Generation))
				moving++
			}
		}
		if moving > 0 || slices.ContainsFunc(r.Status.Tenants, func(rt stamp.ReleaseTenant) bool {
			return rt.State == stamp.ReleaseTenantPending && rt.Wave == w
		}) {
			return moves
		}
		if !rd.gate(w) {
			return moves
		}
	}
	rd.finish(stamp.ReleaseSucceeded, stamp.EventReleaseSucceeded, "every wave passed its gate")
	return moves
}

// yanked reports whether the release's version was yanked since the
// release was created, reading it once a round. A store error is kept in
// rd.err and reads as yanked, so that nothing moves on a guess.
func (rd *round) yanked() bool {
	if rd.yank == nil {
		b, err := rd.c.cfg.Store.GetBundle(rd.ctx, rd.r.Spec.Blueprint, rd.r.Spec.Version)
		if err != nil {
			if rd.err == nil {
				rd.err = fmt.Errorf("get blueprint %s@%s: %w", rd.r.Spec.Blueprint, rd.r.Spec.Version, err)
			}
			return true
		}
		rd.yank = &b.Yanked
	}
	return *rd.yank
}

// pauseYanked pauses the release because its version was yanked: it
// moves no further tenant to it until an operator unyanks the version and
// resumes the release, or aborts it.
func (rd *round) pauseYanked() {
	r := rd.r
	msg := fmt.Sprintf("%s@%s was yanked, so no further tenant moves to it; unyank it and resume the release, or abort it",
		r.Spec.Blueprint, r.Spec.Version)
	r.Spec.Paused, r.Status.State, r.Status.Message, rd.changed = true, stamp.ReleasePaused, msg, true
	rd.event(stamp.EventReleasePaused, "", "", "%s", msg)
}

// moveTo returns t with its spec naming version at generation gen.
func (rd *round) moveTo(t *stamp.Tenant, version string, gen int64) *stamp.Tenant {
	c := *t
	c.Spec.Version, c.Generation = version, gen
	return &c
}

// gate judges wave w, whose tenants are all done: it passes (true, and
// the next wave starts) once every tenant of it stayed upgraded, serving
// and free of new incidents for the soak with a 5xx rate under the limit. A failed tenant or
// gate stops the release: rolled back or paused, as the spec says.
func (rd *round) gate(w int) bool {
	r := rd.r
	var names, failed []string
	for _, rt := range r.Status.Tenants {
		if rt.Wave != w {
			continue
		}
		switch rt.State {
		case stamp.ReleaseTenantFailed:
			failed = append(failed, rt.Name+" ("+rt.Message+")")
		case stamp.ReleaseTenantUpgraded:
			names = append(names, rt.Name)
		}
	}
	if len(failed) > 0 {
		rd.failGate(w, fmt.Sprintf("%d tenant(s) failed to upgrade: %s", len(failed), joinShort(failed)))
		return false
	}
	if len(names) == 0 {
		// Nothing moved (every tenant of the wave skipped): there is no
		// new version to watch, and a soak would only delay the next wave.
		rd.event(stamp.EventReleaseGate, "", stamp.StatusOK, "wave %d (%s) moved no tenant: nothing to soak", w+1, FormatWave(r.Spec.Waves[w]))
		rd.nextWave()
		return true
	}
	if len(names) > 20 {
		rd.readAll()
	}
	for _, name := range names {
		t := rd.tenant(name)
		if t == nil || !serves(t, r.Spec.Version) {
			phase := "gone"
			if t != nil {
				phase = t.Status.Phase
			}
			rd.failGate(w, fmt.Sprintf("tenant %s is %s while the wave soaks", name, phase))
			return false
		}
	}
	if reason := rd.incidents(w); reason != "" {
		rd.failGate(w, reason)
		return false
	}
	c := rd.c
	c.mu.Lock()
	base := c.baselines[r.ID]
	c.mu.Unlock()
	if r.Status.GateSince.IsZero() || base == nil {
		// The soak starts now (again, after a restart: the counters'
		// start was not kept).
		base = map[string][2]uint64{}
		for _, name := range names {
			base[name] = rd.counters(name)
		}
		c.mu.Lock()
		c.baselines[r.ID] = base
		c.mu.Unlock()
		r.Status.GateSince, rd.changed = rd.now, true
	}
	var reqs, errs uint64
	for _, name := range names {
		now, then := rd.counters(name), base[name]
		reqs += now[0] - then[0]
		errs += now[1] - then[1]
	}
	if reqs > 0 && float64(errs)/float64(reqs) > r.Spec.MaxErrorRate {
		rd.failGate(w, fmt.Sprintf("the router answered %d of %d requests to the wave's tenants with 5xx (%.1f%%, the limit is %.1f%%)",
			errs, reqs, 100*float64(errs)/float64(reqs), 100*r.Spec.MaxErrorRate))
		return false
	}
	if rd.now.Sub(r.Status.GateSince) < time.Duration(r.Spec.Soak) {
		return false
	}
	rd.event(stamp.EventReleaseGate, "", stamp.StatusOK, "wave %d (%s): %d tenant(s) healthy for %s, %d of %d requests 5xx",
		w+1, FormatWave(r.Spec.Waves[w]), len(names), r.Spec.Soak, errs, reqs)
	rd.nextWave()
	return true
}

// nextWave ends the current wave, whose gate passed, and starts the next.
func (rd *round) nextWave() {
	r := rd.r
	r.Status.Wave++
	r.Status.GateSince = time.Time{}
	rd.changed = true
	rd.c.mu.Lock()
	delete(rd.c.baselines, r.ID)
	rd.c.mu.Unlock()
	if r.Status.Wave < len(r.Spec.Waves) {
		rd.event(stamp.EventReleaseWave, "", "", "wave %d (%s) starts", r.Status.Wave+1, FormatWave(r.Spec.Waves[r.Status.Wave]))
	}
}

// incidents returns why wave w is not healthy, or "": the incidents of the
// tenants it moved opened since their move began, resolved ones too. The
// health monitor of whichever server holds a tenant opens them (an exit at
// once, failing probes after the incident grace), so the gate sees live
// health, not the phase the reconciler last wrote. A crash the driver
// restarted from counts although its incident resolved a second later:
// the new version was not healthy for the whole soak. An incident older
// than the move is the tenant's own trouble, not the release's. A store
// error is kept in rd.err.
func (rd *round) incidents(w int) string {
	started := map[string]time.Time{}
	for _, rt := range rd.r.Status.Tenants {
		if rt.Wave == w && rt.State == stamp.ReleaseTenantUpgraded && !rt.StartedAt.IsZero() {
			started[rt.Name] = rt.StartedAt
		}
	}
	if len(started) == 0 {
		return ""
	}
	// The wave's tenants since the first of its moves, from the index on
	// (tenant, opened_at): the rest of the fleet's incidents, however
	// many, cannot push the wave's own past the limit.
	f := stamp.IncidentFilter{Limit: maxIncidents}
	for name, at := range started {
		f.Tenants = append(f.Tenants, name)
		if f.OpenedSince.IsZero() || at.Before(f.OpenedSince) {
			f.OpenedSince = at
		}
	}
	list, err := rd.c.cfg.Store.ListIncidents(rd.ctx, f)
	if err != nil {
		if rd.err == nil {
			rd.err = fmt.Errorf("list incidents: %w", err)
		}
		return ""
	}
	var found []string
	for _, inc := range list {
		if since, ok := started[inc.Tenant]; ok && !inc.OpenedAt.Before(since) {
			found = append(found, fmt.Sprintf("%s: %s %s (%s, %s: %s)", inc.Tenant, inc.ID, inc.State, cmp.Or(inc.Service, "tenant"), inc.Cause, inc.Message))
		}
	}
	if len(found) == 0 {
		return ""
	}
	slices.Sort(found)
	return fmt.Sprintf("%d incident(s) on the wave's tenants since their upgrade: %s", len(found), joinShort(found))
}

// maxIncidents is how many incidents a gate reads, newest first: more
// than any gate needs to fail.
const maxIncidents = 5000

func (rd *round) counters(tenant string) [2]uint64 {
	if rd.c.cfg.Counters == nil {
		return [2]uint64{}
	}
	reqs, errs := rd.c.cfg.Counters(tenant)
	return [2]uint64{reqs, errs}
}

// failGate stops the release at wave w for reason.
func (rd *round) failGate(w int, reason string) {
	r := rd.r
	msg := fmt.Sprintf("wave %d (%s) failed its gate: %s", w+1, FormatWave(r.Spec.Waves[w]), reason)
	rd.event(stamp.EventReleaseGate, "", stamp.StatusFailed, "%s", msg)
	r.Status.Message, r.Status.GateSince, rd.changed = msg, time.Time{}, true
	if r.Spec.OnFailure == stamp.OnFailurePause {
		r.Spec.Paused = true
		r.Status.State = stamp.ReleasePaused
		rd.event(stamp.EventReleasePaused, "", "", "%s", msg)
		return
	}
	r.Status.State = stamp.ReleaseRollingBack
	for i, rt := range r.Status.Tenants {
		if rt.State == stamp.ReleaseTenantPending {
			rd.setTenant(i, stamp.ReleaseTenantSkipped, "the release stopped at wave %d", w+1)
		}
	}
}

// rollBack moves every tenant the release upgraded back to its version
// from before, up to MaxParallel at once, then ends the release failed.
func (rd *round) rollBack() []*stamp.Tenant {
	r := rd.r
	var moves []*stamp.Tenant
	moving := 0
	for _, rt := range r.Status.Tenants {
		if rt.State == stamp.ReleaseTenantRollingBack || rt.State == stamp.ReleaseTenantUpgrading {
			moving++
			if t := rd.tenant(rt.Name); t != nil && t.Generation < rt.Generation && rt.State == stamp.ReleaseTenantRollingBack {
				moves = append(moves, rd.moveTo(t, rt.From, rt.Generation))
			}
		}
	}
	for i := range r.Status.Tenants {
		rt := &r.Status.Tenants[i]
		if rt.State != stamp.ReleaseTenantUpgraded || moving >= max(r.Spec.MaxParallel, 1) {
			continue
		}
		t := rd.tenant(rt.Name)
		if t == nil {
			rd.setTenant(i, stamp.ReleaseTenantSkipped, "the tenant was deleted")
			continue
		}
		if t.Upgrading() {
			moving++
			continue
		}
		rt.Generation = t.Generation + 1
		rd.setTenant(i, stamp.ReleaseTenantRollingBack, "to %s", rt.From)
		moves = append(moves, rd.moveTo(t, rt.From, rt.Generation))
		moving++
	}
	if moving == 0 && len(moves) == 0 {
		rd.finish(stamp.ReleaseFailed, stamp.EventReleaseFailed, r.Status.Message+"; every upgraded tenant was rolled back")
	}
	return moves
}

// finish ends the release in state.
func (rd *round) finish(state, evType, msg string) {
	r := rd.r
	r.Status.State, r.Status.Message, r.Status.FinishedAt = state, msg, rd.now
	rd.changed = true
	rd.event(evType, "", "", "%s", msg)
}

// joinShort lists up to three items and how many more.
func joinShort(items []string) string {
	if len(items) <= 3 {
		return fmt.Sprint(items)
	}
	return fmt.Sprintf("%v and %d more", items[:3], len(items)-3)
}
