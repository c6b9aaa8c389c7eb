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
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/blueprint"
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

// Store is the part of stamp.Store a Reconciler uses: the tenants it
// converges, their bundles, secrets and incidents, the event log it
// watches and appends to, and a lease per tenant.
type Store interface {
	stamp.TenantStore
	stamp.BundleStore
	stamp.SecretStore
	stamp.IncidentStore
	stamp.EventLog
	stamp.LeaseStore
}

// Config holds a Reconciler's dependencies and tunables.
type Config struct {
	Store   Store
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
	UIDs UIDRange
	// Clock stamps what is recorded: step and event times, lease ages,
	// backoff. Waits on processes and the network (health checks,
	// draining, the drain delay) keep to the wall clock on purpose: a
	// process does not follow a test's clock, so a deadline on one must
	// not either. Default: the system clock.
	Clock  stamp.Clock
	Random io.Reader // secrets and uids; default crypto/rand
	Logger *slog.Logger
	// Moved, if set, is called when a tenant's move between versions
	// reached an outcome: its route serves the new version, or the move
	// was rolled back or failed. The release controller wakes on it.
	Moved func(tenant string)
	// Observe, if set, is called after every pass that took steps (a
	// pass with nothing to do is not reported), from the worker that ran
	// it, for metrics. kind is "provision", "upgrade", "remove", "sleep" or "wake";
	// outcome is "done" (the steps ran, or the pass handed on to a later
	// one), "failed" (the tenant failed for good, or its upgrade was
	// rolled back), "stale" (the tenant changed under the pass) or
	// "error" (a transient error: the tenant is retried with backoff).
	Observe func(kind, outcome string, d time.Duration)
	// Activity, if set, returns when tenant last had a request (zero if
	// none is known): a tenant whose plan sets idle sleeps once that,
	// and its last ReadyAt, are idle time old. Without it, idleness is
	// judged from ReadyAt alone.
	Activity func(tenant string) time.Time
	// IdleCheck is how often awake tenants with an idle plan are checked
	// for idleness; default 10s.
	IdleCheck time.Duration
	// PoolCheck is how often the warm pools are filled (and how long a
	// failing one first waits); default 5s.
	PoolCheck time.Duration
	// RemoveLeftovers lets a resync remove what the driver holds of more
	// tenants the store does not know than maxLeftovers allows (see
	// resync); for an operator who did delete that many by hand.
	RemoveLeftovers bool
	// Backups, if set, is where tenants' backups are kept: Backup takes
	// them, plans' schedules take them too, and a spec's Load loads one.
	Backups Backups
	// BackupCheck is how often the plans' backup schedules are looked
	// at; default 1m.
	BackupCheck time.Duration
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
	runtimes   map[string]string               // the runtime of each tenant that claimed a pooled stamp
	releasing  map[string]bool                 // tenants the driver is letting go of
	releases   sync.WaitGroup                  // driver releases in flight
	passes     map[string]*running             // the running pass of each tenant
	idle       map[string]idleWatch            // awake tenants that sleep when idle (see watchIdle)
	claimed    map[string]bool                 // tenants that claimed a stamp, until their first pass ends
	lastBackup map[string]time.Time            // when each tenant's last scheduled backup was taken, once looked up
	started    time.Time                       // when Run started: traffic before is not known

	// The warm pool's filler (fillPools) alone uses poolWait and poolRetry.
	poolKick  chan struct{}             // a claim asks for a refill
	poolWait  map[poolKey]time.Duration // how long a failing pool waits
	poolRetry map[poolKey]time.Time     // when a failing pool is filled again

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
	if cfg.IdleCheck <= 0 {
		cfg.IdleCheck = 10 * time.Second
	}
	if cfg.PoolCheck <= 0 {
		cfg.PoolCheck = 5 * time.Second
	}
	if cfg.BackupCheck <= 0 {
		cfg.BackupCheck = time.Minute
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
		runtimes:   map[string]string{},
		poolKick:   make(chan struct{}, 1),
		claimed:    map[string]bool{},
		lastBackup: map[string]time.Time{},
		poolWait:   map[poolKey]time.Duration{},
		poolRetry:  map[poolKey]time.Time{},
		releasing:  map[string]bool{},
		passes:     map[string]*running{},
		idle:       map[string]idleWatch{},
		slots:      make(chan struct{}, cfg.Workers),
		aside:      make(chan struct{}, asidePerWorker*cfg.Workers),
	}
}

// Enqueue asks for a pass over tenant name.
func (r *Reconciler) Enqueue(name string) { r.queue.add(name) }

// Run works the queue with the configured number of workers until ctx ends.
// It starts with a pass over every tenant in the store but those asleep,
// and over every tenant the driver holds that the store does not know
// (so leftovers of deleted tenants are removed), and repeats that every
// ResyncInterval. A sleeping tenant gets a pass when an event names it.
func (r *Reconciler) Run(ctx context.Context) error {
	after, err := r.cfg.Store.LastEventSeq(ctx)
	if err != nil {
		return fmt.Errorf("read the event log position: %w", err)
	}
	r.started = r.cfg.Clock.Now() // before any pass reads it
	if err := r.resync(ctx); err != nil {
		return err
	}
	var wg sync.WaitGroup
	wg.Add(5)
	go func() {
		defer wg.Done()
		r.watchIdleTenants(ctx)
	}()
	go func() {
		defer wg.Done()
		r.takeScheduledBackups(ctx)
	}()
	go func() {
		defer wg.Done()
		r.fillPools(ctx)
	}()
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
	known := make(map[string]bool, len(tenants)) // runtimes
	for _, t := range tenants {
		known[t.RuntimeName()] = true
		if !asleep(t) {
			// A sleeping tenant runs nothing that could drift: it is
			// left alone until an event (a wake, a change) names it.
			r.queue.add(t.Name)
		}
	}
	var leftovers []string
	for _, name := range held {
		if !known[name] {
			leftovers = append(leftovers, name)
		}
	}
	if len(leftovers) > maxLeftovers(len(held)) && !r.cfg.RemoveLeftovers {
		// Deletions cut short by a crash leave one or two; this many
		// looks like a store that lost its tenants (the wrong one, or
		// one emptied by a fault), and removing them would delete
		// customers who exist.
		r.cfg.Logger.Error("not removing tenants the driver holds and the store does not know: too many at once to be deletions cut short; check that the server runs on the right store, whole; if they were deleted, start it with --remove-leftovers",
			"unknown", len(leftovers), "held", len(held), "first", leftovers[:min(5, len(leftovers))])
		return nil
	}
	for _, name := range leftovers {
		r.queue.add(name) // the leftovers of a deleted tenant
	}
	return nil
}

// maxLeftovers is how many tenants the driver holds that the store does
// not know a resync removes at once, of held: a tenth, and at least 3.
func maxLeftovers(held int) int { return max(3, held/10) }

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
