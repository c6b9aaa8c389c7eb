// Package monitor watches every tenant this control-plane process holds:
// it probes each instance of the serving version at its blueprint's
// interval (or, without a probe, checks the process runs), keeps a health
// state per service and per tenant, notices exits (a restart the driver
// made), and opens, updates and resolves incidents in the store, each
// step recorded as an event.
//
// A probe failure opens an incident only once it has lasted Grace, so a
// blip is not an incident; an exit opens one at once, since the process
// did die even if it is back a moment later. An incident resolves itself
// when its service is healthy again.
package monitor

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/blueprint"
	"github.com/stamphq/stamp/health"
)

// Store is the part of stamp.Store a Monitor uses: it reads the tenants
// it watches, keeps their incidents and logs what it finds.
type Store interface {
	stamp.TenantStore
	stamp.IncidentStore
	stamp.EventLog
}

// Config holds a Monitor's dependencies and tunables.
type Config struct {
	Store  Store
	Driver stamp.Driver
	// Logs, if set, gives an incident the last lines its service printed.
	Logs stamp.LogReader
	// Held returns the tenants this process owns; only those are watched.
	Held func() []string
	// Blueprint returns the parsed blueprint of a version.
	Blueprint func(ctx context.Context, name, version string) (*blueprint.Blueprint, error)
	// Grace is how long a service may fail its probes before an incident
	// opens; default 3s.
	Grace time.Duration
	// Tick is how often due probes are started; default 250ms.
	Tick time.Duration
	// Probes bounds the probes running at once; default 64.
	Probes int
	Clock  stamp.Clock
	Logger *slog.Logger
}

// Monitor watches the tenants a process holds. Create it with New, start
// it with Run.
type Monitor struct {
	cfg    Config
	slots  chan struct{}  // one per probe running
	prober *health.Prober // keeps a connection to each instance it probes

	mu      sync.Mutex
	tenants map[string]*tenantWatch
	records // the tenants' records, as last read
}

// tenantWatch is what the monitor knows of one tenant.
type tenantWatch struct {
	since    time.Time // when the monitor began to watch it
	loaded   bool      // its open incidents were read from the store
	checking bool      // a check runs
	exited   bool      // the driver reported an exit since the last check began
	services map[string]*serviceWatch
	step     *serviceWatch // the tenant's failed reconcile step, as a pseudo-service
}

// serviceWatch is what the monitor knows of one service of a tenant.
type serviceWatch struct {
	name      string
	state     string
	nextCheck time.Time // when the next one is due
	restarts  int       // the driver's restart count at the last check
	seen      bool      // restarts is known
	running   int       // instances of the serving revision at the last check
	replicas  int       // instances wanted
	failing   time.Time // since when the service is unhealthy; zero if healthy
	cause     string
	message   string
	incident  *stamp.Incident // open, or nil
}

// New returns a Monitor; nothing runs until Run.
func New(cfg Config) *Monitor {
	if cfg.Grace <= 0 {
		cfg.Grace = 3 * time.Second
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 250 * time.Millisecond
	}
	if cfg.Probes <= 0 {
		cfg.Probes = 64
	}
	if cfg.Clock == nil {
		cfg.Clock = stamp.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// Probes reuse their connections (a new TCP connection for every
	// probe of every instance every second was most of the monitor's CPU)
	// and run on the checking goroutine, without net/http's transport.
	return &Monitor{cfg: cfg, slots: make(chan struct{}, cfg.Probes), prober: health.NewProber(), tenants: map[string]*tenantWatch{},
		records: records{claimed: map[string]string{}}}
}

// Health returns the health of tenant (stamp.Health*) and of each of its
// services, or "" if the monitor does not watch it.
func (m *Monitor) Health(tenant string) (string, map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	tw := m.tenants[tenant]
	if tw == nil || len(tw.services) == 0 {
		return "", nil
	}
	services := map[string]string{}
	down, healthy := 0, 0
	for name, sw := range tw.services {
		services[name] = sw.state
		switch sw.state {
		case stamp.HealthHealthy:
			healthy++
		case stamp.HealthDown:
			down++
		}
	}
	switch {
	case healthy == len(services):
		return stamp.HealthHealthy, services
	case down == len(services):
		return stamp.HealthDown, services
	}
	return stamp.HealthDegraded, services
}

// TenantHealth is Health as a stamp.TenantHealth, with each service's
// instances and restarts, nil if the monitor does not watch tenant.
func (m *Monitor) TenantHealth(tenant string) *stamp.TenantHealth {
	state, services := m.Health(tenant)
	if state == "" {
		return nil
	}
	h := &stamp.TenantHealth{State: state, Services: services, Instances: map[string]stamp.InstanceCount{}}
	m.mu.Lock()
	defer m.mu.Unlock()
	if tw := m.tenants[tenant]; tw != nil {
		for name, sw := range tw.services {
			if name == "" {
				continue // the tenant's own reconcile, no service
			}
			h.Instances[name] = stamp.InstanceCount{Running: sw.running, Replicas: sw.replicas, Restarts: sw.restarts}
		}
	}
	return h
}

// Run watches until ctx ends, then waits for the checks under way.
func (m *Monitor) Run(ctx context.Context) error {
	defer m.prober.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	ticker := time.NewTicker(m.cfg.Tick)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		if err := m.tick(ctx, &wg); err != nil && ctx.Err() == nil {
			m.cfg.Logger.Error("monitor", "err", err)
		}
	}
}

// Behind returns how long past its due time the most overdue check of a
// watched service is now: up to a tick (250ms) and a check's own length
// when the monitor keeps its schedule, more when it falls behind (too
// many checks for its concurrency, or slow probes).
func (m *Monitor) Behind() time.Duration {
	now := m.cfg.Clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var behind time.Duration
	for _, tw := range m.tenants {
		for _, sw := range tw.services {
			if !sw.nextCheck.IsZero() {
				behind = max(behind, now.Sub(sw.nextCheck))
			}
		}
	}
	return behind
}

// Exited tells the monitor that a process of tenant ended (the driver's
// OnExit): the tenant is checked at the next tick, not at its next
// probe, so an exit is seen within a tick whatever the probe interval.
// It never blocks on a check.
func (m *Monitor) Exited(runtime string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	tenant := cmp.Or(m.claimed[runtime], runtime)
	if tw := m.tenants[tenant]; tw != nil {
		tw.exited = true
	}
}

// tick starts the checks that are due.
func (m *Monitor) tick(ctx context.Context, wg *sync.WaitGroup) error {
	now := m.cfg.Clock.Now()
	held := map[string]bool{}
	for _, name := range m.cfg.Held() {
		held[name] = true
	}
	if err := m.refresh(ctx, now, held); err != nil {
		return err
	}
	m.mu.Lock()
	for name := range m.tenants {
		if t := m.list[name]; !held[name] || t == nil || unwatched(t) {
			// Another process watches it now, it is gone, it sleeps or
			// it waits in the pool: nothing of it runs to watch for a
			// customer, and a sleeping tenant costs the monitor nothing.
			delete(m.tenants, name)
		}
	}
	var due []*stamp.Tenant
	for name := range held {
		t := m.list[name]
		if t == nil || unwatched(t) {
			continue
		}
		tw := m.watch(name)
		if !tw.checking && (tw.exited || tw.due(now)) {
			due = append(due, t)
			tw.checking, tw.exited = true, false
		}
	}
	m.mu.Unlock()
	for _, t := range due {
		select {
		case m.slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-m.slots }()
			if err := m.check(ctx, t); err != nil && ctx.Err() == nil {
				m.cfg.Logger.Warn("monitor check", "tenant", t.Name, "err", err)
			}
		}()
	}
	return nil
}

// unwatched reports whether t sleeps (scale to zero), its wake included
// (the pass that wakes it reports on it, as on a new tenant), or is a
// stamp of the warm pool (whose failures its filler replaces).
func unwatched(t *stamp.Tenant) bool {
	return t.Status.Phase == stamp.PhaseSleeping || t.Status.Phase == stamp.PhaseSuspended || t.Status.Phase == stamp.PhaseSoftDeleted || t.Spec.Pooled
}

// due reports whether a check of the tenant is due: one of its services'
// is, or it has none yet.
func (tw *tenantWatch) due(now time.Time) bool {
	if len(tw.services) == 0 {
		return true
	}
	for _, sw := range tw.services {
		if !now.Before(sw.nextCheck) {
			return true
		}
	}
	return false
}

// observation is what one check saw of one service.
type observation struct {
	logs  string // for a failed step: what its services printed last
	state string
	// running and replicas count a service's instances: running of the
	// serving revision, and wanted.
	running, replicas int
	exited            bool   // the driver restarted an instance since the last check
	cause             string // of an unhealthy state
	message           string
}

// check looks at tenant t once: each service of its serving version, or
// its failed step; then opens, updates or resolves incidents.
func (m *Monitor) check(ctx context.Context, t *stamp.Tenant) error {
	defer m.doneChecking(t.Name)
	if err := m.loadIncidents(ctx, t.Name); err != nil {
		return err
	}
	now := m.cfg.Clock.Now()
	if t.Spec.Desired == stamp.DesiredDeleted {
		// Going away: its deletion resolves its incidents, and it is
		// neither down nor recovered meanwhile.
		m.idle(t.Name, nil, now)
		return nil
	}
	if t.Status.Phase == stamp.PhaseFailed {
		m.idle(t.Name, nil, now)
		msg := fmt.Sprintf("step %s failed: %s", t.Status.FailedStep, t.Status.Message)
		return m.apply(ctx, t.Name, "", observation{state: stamp.HealthDown, cause: stamp.CauseStep, message: msg, logs: m.stepLogs(ctx, t)}, true)
	}
	if err := m.apply(ctx, t.Name, "", observation{state: stamp.HealthHealthy}, false); err != nil {
		return err
	}
	serving := t.Status.Version
	if serving == "" || (t.Status.Phase != stamp.PhaseReady && t.Status.Phase != stamp.PhaseUpgrading) ||
		(t.Upgrading() && t.Status.Upgrade.Stopped) {
		m.idle(t.Name, nil, now)
		// Not serving yet, going away, or stopped on purpose by a
		// recreate upgrade: the reconciler reports on it.
		return nil
	}
	bp, err := m.cfg.Blueprint(ctx, t.Spec.Blueprint, serving)
	if err != nil {
		return err
	}
	// The routed instances run the plan in Status.Config; the spec's
	// may be a change not yet rolled out.
	planName := t.Spec.Plan
	if t.Status.Config != nil {
		planName = t.Status.Config.Plan
	}
	_, plan, err := bp.ResolvePlan(planName)
	if err != nil {
		return err
	}
	obs, err := m.cfg.Driver.Observe(ctx, t.RuntimeName())
	if err != nil {
		return fmt.Errorf("observe: %w", err)
	}
	m.idle(t.Name, bp.ServiceNames(), now)
	for _, name := range bp.ServiceNames() {
		svc := bp.Services[name]
		so := obs.Services[name]
		if so == nil {
			so = &stamp.ServiceObserved{}
		}
		o := m.observe(ctx, t.Name, name, svc, plan.Replicas, so, t.Status.ServingRevision())
		interval := blueprint.DefaultHealthInterval
		if svc.Health != nil && svc.Health.Interval > 0 {
			interval = svc.Health.Interval
		}
		m.mu.Lock()
		sw := m.service(t.Name, name)
		sw.nextCheck = now.Add(interval)
		m.mu.Unlock()
		if err := m.apply(ctx, t.Name, name, o, false); err != nil {
			return err
		}
	}
	return nil
}

// idle moves the next check of tenant's services not in serving (all of
// them when serving is nil: the tenant is failed or not serving) a list
// period on: nothing probes them now, so they are neither due every tick
// nor counted as overdue by Behind. A tenant that serves again is checked
// within that period.
func (m *Monitor) idle(tenant string, serving []string, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	tw := m.tenants[tenant]
	if tw == nil {
		return
	}
	for name, sw := range tw.services {
		if !slices.Contains(serving, name) {
			sw.nextCheck = now.Add(listEvery)
		}
	}
}

// observe checks one service: its restarts since the last check, its
// instances of the serving revision, and their probes.
func (m *Monitor) observe(ctx context.Context, tenant, name string, svc *blueprint.Service, replicas int, so *stamp.ServiceObserved, rev string) observation {
	m.mu.Lock()
	sw := m.service(tenant, name)
	exited := sw.exited(so, m.tenants[tenant].since)
	sw.restarts, sw.seen = so.Restarts, true
	m.mu.Unlock()

	var running []stamp.Instance
	for _, inst := range so.Instances {
		if inst.Revision == rev {
			running = append(running, inst)
		}
	}
	ok := len(running)
	var probeErr error
	var failed stamp.Instance // the last instance that failed its probe
	platform := stamp.IsRemote(m.cfg.Driver)
	if platform && !exited && ok < replicas {
		// Running but not ready: the platform's probe fails.
		probeErr = errors.New(cmp.Or(so.Waiting, "the others fail their readiness probe"))
	}
	if svc.Health != nil && !platform {
		ok = 0
		for _, inst := range running {
			err := m.prober.Probe(ctx, inst.Endpoint, svc.Health.HTTP, svc.Health.Timeout)
			if err == nil {
				ok++
			} else {
				probeErr, failed = err, inst
			}
		}
	}
	o := observation{exited: exited, state: stamp.HealthHealthy, running: len(running), replicas: replicas}
	switch {
	case ok == 0:
		o.state = stamp.HealthDown
	case ok < replicas:
		o.state = stamp.HealthDegraded
	}
	switch {
	case exited || len(running) < replicas && !platform:
		o.cause = stamp.CauseExit
		if so.LastExitOOM {
			o.cause = stamp.CauseOOM
		}
		o.message = fmt.Sprintf("%d of %d instances running; restarted %d times, last exit: %s", len(running), replicas, so.Restarts, cmp.Or(so.LastExit, "unknown"))
	case probeErr != nil:
		o.cause = stamp.CauseProbe
		o.message = fmt.Sprintf("%d of %d instances healthy: %s", ok, replicas, probeErr)
		if hint := m.listenHint(ctx, tenant, name, failed); hint != "" {
			o.message += "; " + hint
		}
	}
	if exited && o.state == stamp.HealthHealthy {
		// Back already: the exit is still an incident, resolved at once.
		o.state = stamp.HealthDegraded
	}
	return o
}

// listenHint says where instance inst of service listens, if not at its
// endpoint and the driver can tell; "" otherwise.
func (m *Monitor) listenHint(ctx context.Context, tenant, service string, inst stamp.Instance) string {
	lr, ok := m.cfg.Driver.(stamp.ListenReporter)
	if !ok {
		return ""
	}
	addrs, err := lr.Listening(ctx, m.runtimeOf(tenant), inst.ID)
	if err != nil {
		return ""
	}
	return health.ListenHint(service, inst.Endpoint, addrs)
}

// exited reports whether so shows an exit the monitor has not counted: a
// restart since the last check or, at the first look at the service, one
// after the monitor began to watch the tenant (watched). A service that
// died between the two (a new tenant's first second, an upgrade's new
// instances) is an exit too, not the baseline.
func (sw *serviceWatch) exited(so *stamp.ServiceObserved, watched time.Time) bool {
	if sw.seen {
		return so.Restarts > sw.restarts
	}
	return so.Restarts > 0 && !so.LastExitAt.Before(watched)
}

// apply records what a check of service (or, with name "", the tenant's
// reconcile) saw: it opens an incident once the service has been unhealthy
// for Grace (at once for an exit, or with now), adds to the timeline of an
// open one when what is seen changes, and resolves it when healthy.
func (m *Monitor) apply(ctx context.Context, tenant, name string, o observation, now bool) error {
	at := m.cfg.Clock.Now()
	m.mu.Lock()
	sw := m.service(tenant, name)
	sw.state, sw.running, sw.replicas = o.state, o.running, o.replicas
	if o.state == stamp.HealthHealthy {
		sw.failing = time.Time{}
		inc := sw.incident
		sw.incident = nil
		m.mu.Unlock()
		if inc != nil {
			return m.resolve(ctx, inc, at, "recovered: "+name+" is healthy again")
		}
		return nil
	}
	if sw.failing.IsZero() {
		sw.failing = at
	}
	open := sw.incident == nil && (o.exited || now || at.Sub(sw.failing) >= m.cfg.Grace)
	changed := sw.incident != nil && o.message != sw.message
	sw.cause, sw.message = o.cause, o.message
	inc := sw.incident
	m.mu.Unlock()
	switch {
	case open:
		return m.open(ctx, tenant, name, o, sw.failing)
	case changed:
		return m.update(ctx, inc, at, o.message)
	}
	return nil
}

// open creates an incident for service name of tenant, unless the tenant
// is being deleted: the list the check went by may be a second old, and
// the deletion resolves what is open, not what opens after.
func (m *Monitor) open(ctx context.Context, tenant, name string, o observation, since time.Time) error {
	t, err := m.cfg.Store.GetTenant(ctx, tenant)
	switch {
	case stamp.ErrorCode(err) == stamp.ENOTFOUND:
		return nil
	case err != nil:
		return fmt.Errorf("open incident of %s: %w", tenant, err)
	case t.Spec.Desired == stamp.DesiredDeleted:
		return nil
	}
	what := name
	if what == "" {
		what = "tenant"
	}
	inc := &stamp.Incident{
		ID: newID(), Tenant: tenant, Service: name, Cause: o.cause, Message: o.message,
		State: stamp.IncidentOpen, OpenedAt: since,
		Timeline: []stamp.IncidentEntry{{Time: m.cfg.Clock.Now(), Message: fmt.Sprintf("opened: %s %s: %s", what, o.cause, o.message)}},
	}
	switch {
	case o.logs != "":
		inc.LastLogs = o.logs
	case name != "" && m.cfg.Logs != nil:
		inc.LastLogs = m.lastLines(ctx, tenant, name, 20)
	}
	if err := m.cfg.Store.CreateIncident(ctx, inc); err != nil {
		return fmt.Errorf("open incident of %s: %w", tenant, err)
	}
	m.mu.Lock()
	m.service(tenant, name).incident = inc
	m.mu.Unlock()
	return m.event(ctx, inc, stamp.EventIncidentOpened, fmt.Sprintf("%s %s: %s", what, o.cause, o.message))
}

// update adds msg to an open incident's timeline.
func (m *Monitor) update(ctx context.Context, inc *stamp.Incident, at time.Time, msg string) error {
	saved, err := m.change(ctx, inc.ID, func(i *stamp.Incident) bool {
		if i.State == stamp.IncidentResolved {
			return false
		}
		i.Message = msg
		i.Timeline = append(i.Timeline, stamp.IncidentEntry{Time: at, Message: msg})
		if i.Service != "" && m.cfg.Logs != nil {
			i.LastLogs = m.lastLines(ctx, i.Tenant, i.Service, 20)
		}
		return true
	})
	if err != nil || saved == nil {
		return err
	}
	m.remember(saved)
	return m.event(ctx, saved, stamp.EventIncidentUpdated, msg)
}

// resolve ends an incident the monitor saw recover.
func (m *Monitor) resolve(ctx context.Context, inc *stamp.Incident, at time.Time, msg string) error {
	saved, err := m.change(ctx, inc.ID, func(i *stamp.Incident) bool {
		if i.State == stamp.IncidentResolved {
			return false // an operator did already
		}
		i.State, i.ResolvedAt, i.ResolvedBy = stamp.IncidentResolved, at, "monitor"
		i.Timeline = append(i.Timeline, stamp.IncidentEntry{Time: at, Message: msg})
		return true
	})
	if err != nil || saved == nil {
		return err
	}
	return m.event(ctx, saved, stamp.EventIncidentResolved, fmt.Sprintf("%s after %s", msg, saved.Duration(at).Round(time.Millisecond)))
}

// remember keeps saved as the open incident of its service, if it still is.
func (m *Monitor) remember(saved *stamp.Incident) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if tw := m.tenants[saved.Tenant]; tw != nil {
		if sw := m.service(saved.Tenant, saved.Service); sw.incident != nil && sw.incident.ID == saved.ID {
			sw.incident = saved
		}
	}
}

// change applies fn to incident id as stored, retrying when an operator
// wrote it meanwhile; fn reports false to leave it. It returns what was
// saved, or nil if nothing was.
func (m *Monitor) change(ctx context.Context, id string, fn func(*stamp.Incident) bool) (*stamp.Incident, error) {
	for range 3 {
		inc, err := m.cfg.Store.GetIncident(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("read incident %s: %w", id, err)
		}
		if !fn(inc) {
			return nil, nil
		}
		err = m.cfg.Store.UpdateIncident(ctx, inc)
		if stamp.ErrorCode(err) == stamp.ECONFLICT {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("update incident %s: %w", id, err)
		}
		return inc, nil
	}
	return nil, fmt.Errorf("update incident %s: it kept changing", id)
}

// loadIncidents reads tenant's open incidents once, so that a restarted
// monitor resolves them instead of opening new ones.
func (m *Monitor) loadIncidents(ctx context.Context, tenant string) error {
	m.mu.Lock()
	tw := m.tenants[tenant]
	loaded := tw == nil || tw.loaded
	m.mu.Unlock()
	if loaded {
		return nil
	}
	open, err := m.cfg.Store.ListIncidents(ctx, stamp.IncidentFilter{Tenant: tenant, Open: true})
	if err != nil {
		return fmt.Errorf("read open incidents of %s: %w", tenant, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, inc := range open {
		sw := m.service(tenant, inc.Service)
		if sw.incident == nil {
			sw.incident, sw.message, sw.failing = inc, inc.Message, inc.OpenedAt
		}
	}
	tw.loaded = true
	return nil
}

// doneChecking marks tenant as no longer being checked.
func (m *Monitor) doneChecking(tenant string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if tw := m.tenants[tenant]; tw != nil {
		tw.checking = false
	}
}

// watch returns the watch of tenant, creating it. m.mu must be held.
func (m *Monitor) watch(tenant string) *tenantWatch {
	tw := m.tenants[tenant]
	if tw == nil {
		tw = &tenantWatch{since: m.cfg.Clock.Now(), services: map[string]*serviceWatch{}}
		m.tenants[tenant] = tw
	}
	return tw
}

// service returns the watch of service name of tenant ("" for the
// tenant's reconcile), creating it. m.mu must be held.
func (m *Monitor) service(tenant, name string) *serviceWatch {
	tw := m.watch(tenant)
	if name == "" {
		if tw.step == nil {
			tw.step = &serviceWatch{}
		}
		return tw.step
	}
	sw := tw.services[name]
	if sw == nil {
		sw = &serviceWatch{name: name}
		tw.services[name] = sw
	}
	return sw
}

// stepLogs returns the last lines each service of failed tenant t printed,
// under a "== service ==" line each.
func (m *Monitor) stepLogs(ctx context.Context, t *stamp.Tenant) string {
	if m.cfg.Logs == nil {
		return ""
	}
	bp, err := m.cfg.Blueprint(ctx, t.Spec.Blueprint, t.Spec.Version)
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, name := range bp.ServiceNames() {
		if lines := m.lastLines(ctx, t.Name, name, 20); lines != "" {
			fmt.Fprintf(&b, "== %s ==\n%s\n", name, lines)
		}
	}
	return b.String()
}

// lastLines returns the last n lines service of tenant printed.
func (m *Monitor) lastLines(ctx context.Context, tenant, service string, n int) string {
	rc, err := m.cfg.Logs.Logs(ctx, tenant, service, stamp.LogOptions{Tail: n})
	if err != nil {
		return ""
	}
	defer rc.Close()
	// The reader holds n lines of each instance: bounded by the driver.
	data, err := io.ReadAll(rc)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func (m *Monitor) event(ctx context.Context, inc *stamp.Incident, typ, msg string) error {
	e := &stamp.Event{Type: typ, Tenant: inc.Tenant, Incident: inc.ID, Status: inc.Cause, Message: msg}
	if err := m.cfg.Store.AppendEvents(ctx, e); err != nil {
		return fmt.Errorf("record %s: %w", typ, err)
	}
	return nil
}

// newID returns "inc-" and 8 random hex digits.
func newID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return "inc-" + hex.EncodeToString(b)
}
