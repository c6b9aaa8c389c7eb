package reconcile

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	stamp "github.com/stamphq/stamp"
)

// fakeDriver is a stamp.Driver (and stamp.Stopper) that runs no process:
// the executor's tests need a driver that fails on cue, which no real one
// does. It keeps the runtimes it is asked to apply and reports
// their instances as running, every one at endpoint, a loopback HTTP
// server of the test's: the health step probes it for real. Hooks run as
// the test's task function.
type fakeDriver struct {
	endpoint string // host:port of every instance

	mu       sync.Mutex
	runtimes map[string]map[string]*stamp.Runtime // applied, by tenant and revision
	stopped  map[string]bool                      // tenants stopped (and kept)
	tasks    []string                             // "tenant/task" of every RunTask, in order
	failures map[string][]error                   // what the next calls of each method return, in turn
	// task runs a hook; nil exits 0. It is called without mu held.
	task func(tenant string, task *stamp.Task) *stamp.TaskResult
	// beforeApply, if set, runs at the start of every Apply, without mu.
	beforeApply func(rt *stamp.Runtime)
}

var (
	_ stamp.Driver  = (*fakeDriver)(nil)
	_ stamp.Stopper = (*fakeDriver)(nil)
)

func newFakeDriver(endpoint string) *fakeDriver {
	return &fakeDriver{endpoint: endpoint, runtimes: map[string]map[string]*stamp.Runtime{},
		stopped: map[string]bool{}, failures: map[string][]error{}}
}

// failNext makes the next len(errs) calls of method return errs, in turn.
func (d *fakeDriver) failNext(method string, errs ...error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failures[method] = append(d.failures[method], errs...)
}

// failure returns the error the call of method is to return, if any.
// The caller holds mu.
func (d *fakeDriver) failure(method string) error {
	errs := d.failures[method]
	if len(errs) == 0 {
		return nil
	}
	d.failures[method] = errs[1:]
	return errs[0]
}

// setTask sets the function hooks run as.
func (d *fakeDriver) setTask(task func(tenant string, task *stamp.Task) *stamp.TaskResult) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.task = task
}

// revisions returns the revisions of tenant's applied runtimes, sorted.
func (d *fakeDriver) revisions(tenant string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Sorted(maps.Keys(d.runtimes[tenant]))
}

// runtime returns the runtime of tenant's revision rev, nil if none.
func (d *fakeDriver) runtime(tenant, rev string) *stamp.Runtime {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.runtimes[tenant][rev]
}

// ranTasks returns "tenant/task" of every task run so far, in order.
func (d *fakeDriver) ranTasks() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.tasks)
}

// isStopped reports whether tenant was stopped and not applied since.
func (d *fakeDriver) isStopped(tenant string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stopped[tenant]
}

// running reports whether instances of tenant run: applied and not
// stopped since.
func (d *fakeDriver) running(tenant string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.runtimes[tenant]) > 0 && !d.stopped[tenant]
}

func (d *fakeDriver) Apply(ctx context.Context, rt *stamp.Runtime) error {
	if d.beforeApply != nil {
		d.beforeApply(rt)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.failure("Apply"); err != nil {
		return err
	}
	if d.runtimes[rt.Tenant] == nil {
		d.runtimes[rt.Tenant] = map[string]*stamp.Runtime{}
	}
	d.runtimes[rt.Tenant][rt.Revision] = rt
	delete(d.stopped, rt.Tenant)
	return nil
}

func (d *fakeDriver) Retire(ctx context.Context, tenant, keep string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.failure("Retire"); err != nil {
		return err
	}
	maps.DeleteFunc(d.runtimes[tenant], func(rev string, _ *stamp.Runtime) bool { return rev != keep })
	return nil
}

func (d *fakeDriver) Observe(ctx context.Context, tenant string) (*stamp.Observed, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.failure("Observe"); err != nil {
		return nil, err
	}
	obs := &stamp.Observed{Tenant: tenant, Services: map[string]*stamp.ServiceObserved{}}
	for rev, rt := range d.runtimes[tenant] {
		for _, svc := range rt.Services {
			so := obs.Services[svc.Name]
			if so == nil {
				so = &stamp.ServiceObserved{}
				obs.Services[svc.Name] = so
			}
			if d.stopped[tenant] {
				continue
			}
			for i := range svc.Replicas {
				inst := stamp.Instance{ID: fmt.Sprintf("%s-%d@%s", svc.Name, i, rev), Revision: rev}
				if svc.Port > 0 {
					inst.Endpoint = d.endpoint
				}
				so.Instances = append(so.Instances, inst)
			}
		}
	}
	return obs, nil
}

func (d *fakeDriver) RunTask(ctx context.Context, tenant string, task *stamp.Task) (*stamp.TaskResult, error) {
	d.mu.Lock()
	err := d.failure("RunTask")
	run := d.task
	if err == nil {
		d.tasks = append(d.tasks, tenant+"/"+task.Name)
	}
	d.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if run == nil {
		return &stamp.TaskResult{}, nil
	}
	return run(tenant, task), nil
}

func (d *fakeDriver) Remove(ctx context.Context, tenant string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.failure("Remove"); err != nil {
		return err
	}
	delete(d.runtimes, tenant)
	delete(d.stopped, tenant)
	return nil
}

func (d *fakeDriver) Tenants(ctx context.Context) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.failure("Tenants"); err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(d.runtimes)), nil
}

func (d *fakeDriver) Stop(ctx context.Context, tenant string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.failure("Stop"); err != nil {
		return err
	}
	if d.runtimes[tenant] != nil {
		d.stopped[tenant] = true
	}
	return nil
}

// fakeStarter is a fakeDriver that can start a task without waiting for
// it (stamp.TaskStarter). It only records the start: the task's function
// runs at its RunTask.
type fakeStarter struct {
	*fakeDriver
	started []string // "tenant/task" of every StartTask, in order
}

var _ stamp.TaskStarter = (*fakeStarter)(nil)

func (d *fakeStarter) StartTask(ctx context.Context, tenant string, task *stamp.Task) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.started = append(d.started, tenant+"/"+task.Name)
	return nil
}

// startedTasks returns "tenant/task" of every StartTask so far, in order.
func (d *fakeStarter) startedTasks() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.started)
}

// fakePreparer is a fakeDriver that sets tenants up in a step of their
// own (stamp.Preparer): Prepare waits until ready says to go on (a
// deadline past, it goes on anyway), then returns what the next call of
// failNext("Prepare") says.
type fakePreparer struct {
	*fakeDriver
	ready func(tenant string) bool
	mu    sync.Mutex
	saw   []bool // what ready said at the end of each Prepare
}

var _ stamp.Preparer = (*fakePreparer)(nil)

func (d *fakePreparer) Prepare(ctx context.Context, rt *stamp.Runtime) error {
	deadline := time.Now().Add(2 * time.Second)
	ok := d.ready(rt.Tenant)
	for !ok && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		ok = d.ready(rt.Tenant)
	}
	d.mu.Lock()
	d.saw = append(d.saw, ok)
	d.mu.Unlock()
	d.fakeDriver.mu.Lock()
	defer d.fakeDriver.mu.Unlock()
	return d.failure("Prepare")
}

// readyAtEnd returns what ready said at the end of each Prepare so far.
func (d *fakePreparer) readyAtEnd() []bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.saw)
}
