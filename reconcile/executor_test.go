package reconcile

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	stamp "github.com/stamphq/stamp"
)

// TestSeedStartsBeforeStart creates a tenant on a driver that can start
// a task without waiting for it: the seed hook is started before start
// applies the instances (which would hold the driver's tenant until they
// run), then waited for by the seed step.
func TestSeedStartsBeforeStart(t *testing.T) {
	var d *fakeStarter
	f := newFixtureOf(t, func(fd *fakeDriver) stamp.Driver {
		d = &fakeStarter{fakeDriver: fd}
		return d
	})
	var startedAtApply []string
	f.d.beforeApply = func(rt *stamp.Runtime) { startedAtApply = d.startedTasks() }
	f.create("acme", "1.0.0")
	f.start()
	tn := f.waitTenant("acme", "acme to be ready", (*stamp.Tenant).Ready)
	if !tn.Status.Seeded {
		t.Error("acme is ready and not seeded")
	}
	if want := []string{"acme/seed-g1"}; !slices.Equal(startedAtApply, want) {
		t.Errorf("tasks started when start applied: got %v, want %v", startedAtApply, want)
	}
	if got, want := f.d.ranTasks(), []string{"acme/migrate-1.0.0-g1", "acme/seed-g1"}; !slices.Equal(got, want) {
		t.Errorf("tasks run: got %v, want %v", got, want)
	}
	if !slices.Contains(f.stepsDone("acme"), stamp.StepSeed) {
		t.Errorf("no seed step among %v", f.stepsDone("acme"))
	}
}

// TestAllocateBesideDatabase creates tenants on a driver that sets them
// up in a step of their own: the driver's setting up runs beside the
// database step (it sees the database made before it is done), and its
// failure, recorded after database's, fails the tenant at allocate.
func TestAllocateBesideDatabase(t *testing.T) {
	var d *fakePreparer
	f := newFixtureOf(t, func(fd *fakeDriver) stamp.Driver {
		d = &fakePreparer{fakeDriver: fd}
		return d
	})
	d.ready = func(tenant string) bool {
		_, err := os.Stat(f.dbPath(tenant))
		return err == nil
	}
	f.create("acme", "1.0.0")
	f.start()
	f.waitTenant("acme", "acme to be ready", (*stamp.Tenant).Ready)
	if got := d.readyAtEnd(); !slices.Equal(got, []bool{true}) {
		t.Errorf("database made while the driver set acme up: %v, want [true]", got)
	}
	if steps := f.stepsDone("acme"); len(steps) < 3 || !slices.Contains(steps[:3], stamp.StepAllocate) {
		t.Errorf("steps done: %v, want allocate among the first three", steps)
	}

	d.failNext("Prepare", stamp.Errorf(stamp.EINVALID, "no room for globex"))
	f.create("globex", "1.0.0")
	tn := f.waitTenant("globex", "globex to fail", func(tn *stamp.Tenant) bool { return tn.Status.Phase == stamp.PhaseFailed })
	if tn.Status.FailedStep != stamp.StepAllocate || !strings.HasPrefix(tn.Status.Message, "no room for globex") {
		t.Errorf("failed step %q, message %q; want allocate, no room for globex", tn.Status.FailedStep, tn.Status.Message)
	}

	// A failure before the driver's part ends the pass at once: a plan
	// the version does not have fails allocate, and no database is made.
	bad := &stamp.Tenant{Name: "initech", Generation: 1, Spec: stamp.TenantSpec{Blueprint: "shop", Version: "1.0.0",
		Desired: stamp.DesiredRunning, Plan: "gold"}}
	if err := f.st.CreateTenant(f.ctx, bad, &stamp.Event{Type: stamp.EventTenantCreated, Tenant: "initech", Generation: 1}); err != nil {
		t.Fatal(err)
	}
	tn = f.waitTenant("initech", "initech to fail", func(tn *stamp.Tenant) bool { return tn.Status.Phase == stamp.PhaseFailed })
	if tn.Status.FailedStep != stamp.StepAllocate || !strings.Contains(tn.Status.Message, "gold") {
		t.Errorf("failed step %q, message %q; want allocate, on the plan gold", tn.Status.FailedStep, tn.Status.Message)
	}
	if _, err := os.Stat(f.dbPath("initech")); err == nil {
		t.Error("a database was made for a tenant that failed allocate")
	}
}

// TestCreateRunsToReady creates a tenant: every step runs once, in
// order, with the real engine's database and generated secrets in the
// runtime the driver gets, and the tenant ends ready at its endpoint.
func TestCreateRunsToReady(t *testing.T) {
	f := newFixture(t)
	f.create("acme", "1.0.0")
	f.start()
	tn := f.waitTenant("acme", "acme to be ready", (*stamp.Tenant).Ready)

	st := tn.Status
	if st.Version != "1.0.0" || st.Revision != "1.0.0" || st.MigratedVersion != "1.0.0" || !st.Seeded {
		t.Errorf("status: version %q revision %q migrated %q seeded %v; want 1.0.0 throughout, seeded", st.Version, st.Revision, st.MigratedVersion, st.Seeded)
	}
	if want := []string{f.d.endpoint}; !slices.Equal(st.Endpoints, want) || st.URL != "http://acme.shop.test" {
		t.Errorf("endpoints %v at %q; want %v at %q", st.Endpoints, st.URL, want, "http://acme.shop.test")
	}
	// Allocate runs beside secrets and database, the seed beside start
	// and health: their places among them vary.
	steps := f.stepsDone("acme")
	for _, step := range []string{stamp.StepAllocate, stamp.StepSeed} {
		if i := slices.Index(steps, step); i >= 0 && (step == stamp.StepSeed || i < 3) {
			steps = slices.Delete(steps, i, i+1)
		} else {
			t.Errorf("no %s step among %v, or allocate after database's", step, f.stepsDone("acme"))
		}
	}
	if want := []string{"secrets", "database", "migrate", "start", "health", "route"}; !slices.Equal(steps, want) {
		t.Errorf("steps done (allocate and seed aside): got %v, want %v", steps, want)
	}
	if ready := f.events("acme", stamp.EventTenantReady); len(ready) != 1 || ready[0].Message != "http://acme.shop.test" {
		t.Errorf("tenant.ready events: %v, want one naming the URL", ready)
	}
	if got, want := f.d.ranTasks(), []string{"acme/migrate-1.0.0-g1", "acme/seed-g1"}; !slices.Equal(got, want) {
		t.Errorf("tasks run: got %v, want %v", got, want)
	}

	rt := f.d.runtime("acme", "1.0.0")
	if rt == nil || len(rt.Services) != 1 {
		t.Fatalf("runtime applied: %+v, want one of revision 1.0.0 with one service", rt)
	}
	env := rt.Services[0].Env
	if want := "sqlite:" + f.dbPath("acme"); env["DATABASE_URL"] != want {
		t.Errorf("DATABASE_URL %q, want %q", env["DATABASE_URL"], want)
	}
	if _, err := os.Stat(f.dbPath("acme")); err != nil {
		t.Errorf("the engine made no database: %v", err)
	}
	secrets, err := f.st.Secrets(f.ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if secrets["key"] == "" || env["KEY"] != secrets["key"] || secrets[dbPasswordKey("main")] == "" {
		t.Errorf("secrets %v, KEY %q: want key and the database password generated, key in the env", slices.Sorted(maps.Keys(secrets)), env["KEY"])
	}
	if !slices.Contains(f.r.Held(), "acme") {
		t.Errorf("leases held: %v, want acme's", f.r.Held())
	}
	eventually(t, waitLimit, "the pass to be reported", func() bool { return len(f.observed()) > 0 })
	if got := f.observed(); !slices.Equal(got, []string{"provision done"}) {
		t.Errorf("passes: %v, want one, done", got)
	}
}

// TestStepErrors fails a step in each way a step fails: a transient error
// is retried with backoff until the step succeeds; a permanent one fails
// the tenant with its message and stops what runs of it.
func TestStepErrors(t *testing.T) {
	internal := errors.New("dial unix /run/driver.sock: connection refused")
	exitWith := func(hook string, code int, output string) func(string, *stamp.Task) *stamp.TaskResult {
		return func(_ string, task *stamp.Task) *stamp.TaskResult {
			if !strings.HasPrefix(task.Name, hook+"-") {
				return &stamp.TaskResult{}
			}
			// The hook prints the tenant's secrets: the event must not.
			out := strings.NewReplacer("$DATABASE_URL", task.Env["DATABASE_URL"], "$KEY", task.Env["KEY"]).Replace(output)
			return &stamp.TaskResult{ExitCode: code, Output: out}
		}
	}
	tests := []struct {
		name   string
		inject func(*fakeDriver)
		// The tenant's phase at the end, and for a failed one the step
		// and the message.
		phase, failedStep, message string
		// retries are the messages of the tenant.retry events, in order.
		retries []string
		passes  []string
	}{
		{
			name: "transient errors are retried with backoff",
			inject: func(d *fakeDriver) {
				d.failNext("Apply", internal, stamp.Errorf(stamp.EUNAVAILABLE, "the driver is restarting"))
			},
			phase: stamp.PhaseReady,
			// An internal error's text stays in the server log; a coded
			// one is written for clients and shown.
			retries: []string{"start: an internal error; the server log has it (pass ", "start: the driver is restarting (will retry)"},
			passes:  []string{"provision error", "provision error", "provision done"},
		},
		{
			name: "a hook that exits non-zero fails the tenant",
			inject: func(d *fakeDriver) {
				d.setTask(exitWith("migrate", 3, "applying 0002 on $DATABASE_URL with $KEY\nerror: column exists"))
			},
			phase: stamp.PhaseFailed, failedStep: stamp.StepMigrate,
			message: "migrate hook exited with code 3; last output:\napplying 0002 on [redacted] with [redacted]\nerror: column exists\nits instances are stopped",
			passes:  []string{"provision failed"},
		},
		{
			name:   "a seed that fails stops what started beside it",
			inject: func(d *fakeDriver) { d.setTask(exitWith("seed", 4, "seed broke")) },
			phase:  stamp.PhaseFailed, failedStep: stamp.StepSeed,
			message: "seed hook exited with code 4; last output:\nseed broke\nits instances are stopped",
			passes:  []string{"provision failed"},
		},
		{
			// The seed runs beside start: failing before start's Apply
			// has returned, it must still leave nothing running.
			name: "a seed that fails while start applies stops what start made",
			inject: func(d *fakeDriver) {
				d.setTask(exitWith("seed", 4, "seed broke"))
				d.beforeApply = func(rt *stamp.Runtime) {
					// Give a stop from beside start the time to come first.
					deadline := time.Now().Add(time.Second)
					for !d.isStopped(rt.Tenant) && time.Now().Before(deadline) {
						time.Sleep(5 * time.Millisecond)
					}
				}
			},
			phase: stamp.PhaseFailed, failedStep: stamp.StepSeed,
			message: "seed hook exited with code 4; last output:\nseed broke\nits instances are stopped",
			passes:  []string{"provision failed"},
		},
		{
			name: "invalid input to the driver fails the tenant",
			inject: func(d *fakeDriver) {
				d.failNext("Apply", fmt.Errorf("apply acme: %w", stamp.Errorf(stamp.EINVALID, "service web: port 8080 is taken by the router")))
			},
			phase: stamp.PhaseFailed, failedStep: stamp.StepStart,
			message: "service web: port 8080 is taken by the router\nits instances are stopped",
			passes:  []string{"provision failed"},
		},
		{
			name: "a missing executable fails the tenant",
			inject: func(d *fakeDriver) {
				d.failNext("RunTask", &fs.PathError{Op: "fork/exec", Path: "bin/shop", Err: syscall.ENOENT})
			},
			phase: stamp.PhaseFailed, failedStep: stamp.StepMigrate,
			message: "run migrate hook: fork/exec bin/shop: no such file or directory\nits instances are stopped",
			passes:  []string{"provision failed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			tt.inject(f.d)
			f.create("acme", "1.0.0")
			f.start()
			tn := f.waitTenant("acme", "acme to be "+tt.phase, func(tn *stamp.Tenant) bool {
				return tn.Status.Phase == tt.phase && tn.Status.ObservedGeneration == tn.Generation
			})
			if tn.Status.FailedStep != tt.failedStep || tn.Status.Message != tt.message {
				t.Errorf("failed step %q, message:\n%s\nwant %q:\n%s", tn.Status.FailedStep, tn.Status.Message, tt.failedStep, tt.message)
			}
			if tt.phase == stamp.PhaseFailed {
				// Written with the status: there as soon as it says failed.
				if failed := f.events("acme", stamp.EventTenantFailed); len(failed) != 1 || failed[0].Step != tt.failedStep || failed[0].Message != tt.message {
					t.Errorf("tenant.failed events: %+v, want one of step %s with the message", failed, tt.failedStep)
				}
			}
			retries := f.events("acme", stamp.EventRetry)
			if len(retries) != len(tt.retries) {
				t.Fatalf("%d tenant.retry events, want %d: %+v", len(retries), len(tt.retries), retries)
			}
			for i, e := range retries {
				if !strings.HasPrefix(e.Message, tt.retries[i]) || strings.Contains(e.Message, "driver.sock") {
					t.Errorf("retry %d: message %q, want it to start %q and name no internal detail", i+1, e.Message, tt.retries[i])
				}
			}
			checkBackoff(t, f.events("acme", ""))
			eventually(t, waitLimit, "every pass to be reported", func() bool { return len(f.observed()) >= len(tt.passes) })
			if got := f.observed(); !slices.Equal(got, tt.passes) {
				t.Errorf("passes: %v, want %v", got, tt.passes)
			}
			// Failed means stopped: once its passes are over, nothing of a
			// failed tenant runs.
			if got, want := f.d.running("acme"), tt.phase != stamp.PhaseFailed; got != want {
				t.Errorf("instances running: %v, want %v", got, want)
			}
		})
	}
}

// checkBackoff checks that each step retried after a tenant.retry event
// started no sooner than the backoff of that retry (200ms, doubling)
// after the failure.
func checkBackoff(t *testing.T, events []*stamp.Event) {
	t.Helper()
	n := 0
	for i, e := range events {
		if e.Type != stamp.EventRetry {
			continue
		}
		n++
		next := slices.IndexFunc(events[i+1:], func(a *stamp.Event) bool {
			return a.Step == e.Step && (a.Type == stamp.EventStep || a.Type == stamp.EventRetry)
		})
		if next < 0 {
			t.Errorf("step %s failed at %s and was never tried again", e.Step, e.FinishedAt.Format(time.StampMilli))
			continue
		}
		again := events[i+1+next]
		if wait := again.StartedAt.Sub(e.FinishedAt); wait < backoff(n) {
			t.Errorf("retry %d of step %s started %s after the failure, want at least the backoff, %s", n, e.Step, wait, backoff(n))
		}
	}
}

func TestBackoffDoublesToItsCap(t *testing.T) {
	tests := []struct {
		n    int
		want time.Duration
	}{
		{1, 200 * time.Millisecond},
		{2, 400 * time.Millisecond},
		{8, 25600 * time.Millisecond},
		{9, 30 * time.Second},
		{100, 30 * time.Second},
	}
	for _, tt := range tests {
		if got := backoff(tt.n); got != tt.want {
			t.Errorf("backoff(%d) = %s, want %s", tt.n, got, tt.want)
		}
	}
}

// TestDeleteCleansUp deletes a ready tenant: the driver, the engine and
// the store keep nothing of it, and its lease is free. Leftovers the
// driver holds of a tenant the store does not know go at start.
func TestDeleteCleansUp(t *testing.T) {
	f := newFixture(t)
	if err := f.d.Apply(f.ctx, &stamp.Runtime{Tenant: "ghost", Revision: "0.9.0"}); err != nil {
		t.Fatal(err)
	}
	f.create("acme", "1.0.0")
	f.start()
	f.waitTenant("acme", "acme to be ready", (*stamp.Tenant).Ready)
	if _, err := os.Stat(f.dbPath("acme")); err != nil {
		t.Fatalf("database of the ready tenant: %v", err)
	}

	f.change("acme", stamp.EventTenantDeleting, func(tn *stamp.Tenant) {
		tn.Spec.Desired, tn.Status.Phase = stamp.DesiredDeleted, stamp.PhaseDeleting
	})
	eventually(t, waitLimit, "acme to be gone from the store", func() bool {
		_, err := f.st.GetTenant(f.ctx, "acme")
		return stamp.ErrorCode(err) == stamp.ENOTFOUND
	})
	if held, err := f.d.Tenants(f.ctx); err != nil || len(held) != 0 {
		t.Errorf("driver holds %v (%v), want nothing of acme or ghost", held, err)
	}
	if _, err := os.Stat(f.dbPath("acme")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("database after the deletion: %v, want it dropped", err)
	}
	if secrets, err := f.st.Secrets(f.ctx, "acme"); err != nil || len(secrets) != 0 {
		t.Errorf("secrets after the deletion: %d (%v), want none", len(secrets), err)
	}
	// Written with the deletion: there as soon as the record is gone.
	events := f.events("acme", "")
	if len(events) < 2 {
		t.Fatalf("events of acme: %d, want the remove step and tenant.deleted last", len(events))
	}
	last := events[len(events)-2:]
	if last[0].Type != stamp.EventStep || last[0].Step != stamp.StepRemove || last[0].Status != stamp.StatusOK || last[1].Type != stamp.EventTenantDeleted {
		t.Errorf("last events: %s %s %s, %s; want the remove step done, then tenant.deleted", last[0].Type, last[0].Step, last[0].Status, last[1].Type)
	}
	// The lease is given back with the record: another server may take
	// a new tenant of the name at once.
	eventually(t, waitLimit, "acme's lease to be given back", func() bool { return !slices.Contains(f.r.Held(), "acme") })
	if ok, err := f.st.TryLease(f.ctx, leaseKey("acme"), "other", time.Minute); err != nil || !ok {
		t.Errorf("another holder taking acme's lease: %v %v, want it free", ok, err)
	}
	if got := f.observed(); !slices.Contains(got, "remove done") {
		t.Errorf("passes: %v, want a remove done", got)
	}
}
