package reconcile

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strconv"
	"time"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/health"
	"github.com/stamphq/stamp/redact"
)

func (p *pass) allocate(ctx context.Context) error {
	prepare, err := p.allocation(ctx)
	if err != nil || prepare == nil {
		return err
	}
	return prepare()
}

// allocation takes the part of allocate that the steps after it need (a
// user for the tenant: its database is made for it) and returns the
// rest, the driver's setting up (directories, the bundle, ports, a
// network namespace), to be run; nil if the driver sets nothing up.
func (p *pass) allocation(ctx context.Context) (prepare func() error, err error) {
	if err := p.ensureUID(ctx); err != nil {
		return nil, err
	}
	prep, ok := p.r.cfg.Driver.(stamp.Preparer)
	if !ok {
		return nil, nil
	}
	rt, err := p.shape()
	if err != nil {
		return nil, err
	}
	return func() error {
		if err := prep.Prepare(ctx, rt); err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		return nil
	}, nil
}

// startAllocate begins the allocate step and runs the driver's part of
// it (see allocation) beside the steps that follow, secrets and
// database, which need nothing it makes: a tenant waits for the longer
// of them, not for all. It returns the channel the step's outcome comes
// on, for the pass to record before the next step, as seed's is; none
// if the step is over already (nothing for the driver to do, or a
// failure before it, recorded as the step's and returned).
func (p *pass) startAllocate(ctx context.Context, queued time.Time) (<-chan stepRun, error) {
	started := p.r.cfg.Clock.Now()
	run := func(err error) stepRun {
		return stepRun{step: stamp.StepAllocate, queued: queued, started: started, finished: p.r.cfg.Clock.Now(), err: err}
	}
	var prepare func() error
	err := p.loaded(ctx)
	if err == nil {
		prepare, err = p.allocation(ctx)
	}
	if err != nil || prepare == nil {
		return nil, p.record(ctx, run(err))
	}
	done := make(chan stepRun, 1)
	go func() { done <- run(prepare()) }()
	return done, nil
}

// shape is the tenant's runtime without commands' arguments or env, which
// need secrets and databases not made yet: enough for a driver to set up
// directories, the bundle and ports.
func (p *pass) shape() (*stamp.Runtime, error) {
	_, plan, err := p.bp.ResolvePlan(p.t.Spec.Plan)
	if err != nil {
		return nil, terminal("%s", stamp.ErrorMessage(err))
	}
	rt := &stamp.Runtime{Tenant: p.t.RuntimeName(), Revision: p.t.Spec.Revision(), Bundle: p.ref, UID: p.t.Status.UID, Limits: plan.Limits(), Outbound: plan.Outbound}
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
	return stamp.DatabaseSpec{Tenant: p.t.RuntimeName(), Name: name, Password: p.in.Secrets[dbPasswordKey(name)], UID: p.t.Status.UID, ConnectionLimit: p.connLimit}
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
		engine, err := p.r.engine(name, db.Engine)
		if err != nil {
			return err
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
	if err := p.hook(ctx, "seed", p.seedTaskName()); err != nil {
		return err
	}
	return p.update(ctx, func(st *stamp.TenantStatus) { st.Seeded = true })
}

// seedTaskName names the seed hook's driver task: once per generation.
func (p *pass) seedTaskName() string { return fmt.Sprintf("seed-g%d", p.t.Generation) }

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
	task, err := p.hookTask(hook, taskName)
	if err != nil || task == nil {
		return err
	}
	var res *stamp.TaskResult
	run := func() (err error) {
		res, err = p.r.cfg.Driver.RunTask(ctx, p.t.RuntimeName(), task)
		return err
	}
	if stamp.IsRemote(p.r.cfg.Driver) {
		err = p.r.waitAside(run) // the cluster does the work
	} else {
		err = run()
	}
	if err != nil {
		return fmt.Errorf("run %s hook: %w", hook, err)
	}
	if res.ExitCode != 0 {
		return terminal("%s hook exited with code %d; last output:\n%s", hook, res.ExitCode, p.redact(res.Output))
	}
	return nil
}

// hookTask renders hook as the driver task taskName; nil if the
// blueprint has no such hook.
func (p *pass) hookTask(hook, taskName string) (*stamp.Task, error) {
	task, err := p.bp.Hook(hook, p.in)
	if err != nil {
		return nil, terminal("render %s hook: %s", hook, err)
	}
	if task == nil {
		return nil, nil
	}
	task.Name = taskName
	task.UID = p.t.Status.UID
	if _, plan, err := p.bp.ResolvePlan(p.t.Spec.Plan); err == nil {
		task.Limits, task.Outbound = plan.Limits(), plan.Outbound
	}
	return task, nil
}

// startSeed starts the seed hook's task, on a driver that can start one
// without waiting for it (stamp.TaskStarter), so that it runs beside
// start from the first: the driver holds the tenant while start applies
// its instances, and a seed that asked after start would wait all that
// time, on the path to ready. The seed step that follows waits for this
// run (see hook). What goes wrong here goes wrong again there, where it
// is recorded, so it is not reported here.
func (p *pass) startSeed(ctx context.Context) {
	starter, ok := p.r.cfg.Driver.(stamp.TaskStarter)
	if !ok || stamp.IsRemote(p.r.cfg.Driver) || p.bp == nil || p.paramsErr != nil {
		return
	}
	task, err := p.hookTask("seed", p.seedTaskName())
	if err != nil || task == nil {
		return
	}
	if err := starter.StartTask(ctx, p.t.RuntimeName(), task); err != nil {
		p.log.Debug("start the seed hook ahead of its step", "err", err)
	}
}

// render returns the tenant's runtime at its spec's revision, named as
// the driver knows it.
func (p *pass) render() (*stamp.Runtime, error) {
	rt, err := p.bp.Render(p.in)
	if err != nil {
		return nil, terminal("render runtime: %s", err)
	}
	rt.Tenant = p.t.RuntimeName()
	rt.Revision = p.t.Spec.Revision()
	rt.UID = p.t.Status.UID
	return rt, nil
}

func (p *pass) start(ctx context.Context) error {
	rt, err := p.render()
	if err != nil {
		return err
	}
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
		if stamp.IsRemote(p.r.cfg.Driver) {
			continue // an instance listed passes its check already
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
			if last, _ := p.r.cfg.Driver.Observe(ctx, p.t.RuntimeName()); last != nil && last.Services[svc.Name] != nil && last.Services[svc.Name].LastExit != "" {
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
	addrs, err := lr.Listening(ctx, p.t.RuntimeName(), inst.ID)
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
		obs, err := p.r.cfg.Driver.Observe(ctx, p.t.RuntimeName())
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
				if last != nil && last.Waiting != "" {
					msg += "; " + last.Waiting
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

// endpoints returns where the router reaches the pass's revision of the
// tenant's public services: their instances, or the driver's stable
// addresses switched to the revision.
func (p *pass) endpoints(ctx context.Context, obs *stamp.Observed) ([]string, error) {
	public := false
	for _, svc := range p.runtime.Services {
		public = public || svc.Public
	}
	if sw, ok := p.r.cfg.Driver.(stamp.Switcher); ok {
		if !public {
			return nil, nil
		}
		eps, err := sw.Switch(ctx, p.t.RuntimeName(), p.runtime.Revision)
		if err != nil {
			return nil, fmt.Errorf("switch the route to revision %s: %w", p.runtime.Revision, err)
		}
		return eps, nil
	}
	var endpoints []string
	for _, svc := range p.runtime.Services {
		if so := obs.Services[svc.Name]; svc.Public && so != nil {
			for _, inst := range instancesOf(so, p.runtime.Revision) {
				endpoints = append(endpoints, inst.Endpoint)
			}
		}
	}
	return endpoints, nil
}

func (p *pass) route(ctx context.Context) error {
	started := p.r.cfg.Clock.Now()
	obs, err := p.r.cfg.Driver.Observe(ctx, p.t.RuntimeName())
	if err != nil {
		return fmt.Errorf("observe: %w", err)
	}
	endpoints, err := p.endpoints(ctx, obs)
	if err != nil {
		return err
	}
	if p.t.Spec.Pooled {
		endpoints = nil // no route to a stamp no one has claimed
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
		st.SleptAt, st.WakeAt, st.SuspendedAt = time.Time{}, time.Time{}, time.Time{}
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
	if err := p.r.cfg.Driver.Retire(ctx, p.t.RuntimeName(), p.runtime.Revision); err != nil {
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
	lines, err := er.Exposed(ctx, p.t.RuntimeName())
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
	if err := p.r.cfg.Driver.Remove(ctx, p.t.RuntimeName()); err != nil {
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
			if err := engine.Drop(ctx, stamp.DatabaseSpec{Tenant: p.t.RuntimeName(), Name: name}); err != nil {
				return fmt.Errorf("drop database %s: %w", name, err)
			}
		}
	}
	if err := p.dropBackups(ctx); err != nil {
		return err
	}
	if err := p.resolveIncidents(ctx, stamp.ResolutionTenantDeleted); err != nil {
		return err
	}
	// The step's event and tenant.deleted are written with the deletion,
	// so that a crash leaves the tenant and no record of its removal, or
	// neither; routers, which follow the log, look the tenant up again
	// and find it gone. A tenant already gone was deleted, and recorded
	// so, by a pass before this one.
	events := []*stamp.Event{
		{Type: stamp.EventStep, Step: stamp.StepRemove, Status: stamp.StatusOK,
			QueuedAt: p.queued, StartedAt: started, FinishedAt: p.r.cfg.Clock.Now()},
		{Type: stamp.EventTenantDeleted},
	}
	for _, e := range events {
		e.Tenant, e.Generation = p.t.Name, p.t.Generation
	}
	err = p.r.cfg.Store.DeleteTenant(ctx, p.t.Name, p.t.ResourceVersion, events...)
	switch stamp.ErrorCode(err) {
	case "", stamp.ENOTFOUND:
	case stamp.ECONFLICT:
		return errStale
	default:
		return fmt.Errorf("delete tenant record: %w", err)
	}
	// Our router drops the route just after the deletion is in the log,
	// before the pass ends.
	if err := p.syncRoute(ctx); err != nil {
		p.log.Error("sync router after delete", "err", err)
	}
	p.r.give(ctx, p.t.Name)
	return nil
}
