package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/stamphq/stamp"
)

// Prepare sets tenant rt.Tenant up without starting anything: its
// directories, the extracted bundle and a port for every instance that
// will serve one. It only adds: instances that rt lacks are left to Apply.
// Commands and env of rt may be empty.
func (d *Driver) Prepare(ctx context.Context, rt *stamp.Runtime) error {
	if err := validateRuntime(rt, false); err != nil {
		return err
	}
	t, err := d.lockTenant(ctx, rt.Tenant, true)
	if err != nil {
		return err
	}
	defer t.op.Unlock()
	if _, err := d.bundleDir(ctx, rt.Bundle); err != nil {
		return fmt.Errorf("prepare %s: %w", rt.Tenant, err)
	}
	if err := d.setUp(t, rt.UID, rt.Limits, rt.Outbound); err != nil {
		return fmt.Errorf("prepare %s: %w", rt.Tenant, err)
	}
	var missing []instanceState
	var need []string
	t.mu.Lock()
	for _, w := range wanted(rt) {
		if t.instance(w.ID) != nil {
			continue
		}
		if p := t.declaredPort(rt, w, missing); p > 0 {
			w.Port, w.Declared = p, true
		} else if w.Port > 0 {
			need = append(need, w.ID)
		}
		w.Hash, w.Base = "", ""
		missing = append(missing, w)
	}
	t.mu.Unlock()
	added, err := d.ports.alloc(t.name, need)
	if err != nil {
		return fmt.Errorf("prepare %s: %w", rt.Tenant, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, w := range missing {
		if w.Port > 0 && !w.Declared {
			w.Port = added[w.ID]
		}
		t.state.Instances = append(t.state.Instances, w)
	}
	if err := t.save(); err != nil {
		d.releasePorts(t.name, slices.Collect(maps.Values(added)))
		return fmt.Errorf("prepare %s: %w", rt.Tenant, err)
	}
	return nil
}

// Apply converges tenant rt.Tenant to rt: it extracts the bundle, gives
// every new instance that serves traffic a port (kept for the instance's
// life, across restarts and changes), records it all, then stops the
// instances rt no longer has or whose spec changed and starts the missing
// ones. A running instance whose spec changed in its environment alone,
// of a service with a bind path, is first sent the new environment (see
// bind.go): if it takes it, it goes on running. Applying the same rt again changes nothing. It returns once every
// instance's process has started.
func (d *Driver) Apply(ctx context.Context, rt *stamp.Runtime) error {
	if err := validateRuntime(rt, true); err != nil {
		return err
	}
	t, err := d.lockTenant(ctx, rt.Tenant, true)
	if err != nil {
		return err
	}
	defer t.op.Unlock()
	bdir, err := d.bundleDir(ctx, rt.Bundle)
	if err != nil {
		return fmt.Errorf("apply %s: %w", rt.Tenant, err)
	}
	if err := d.setUp(t, rt.UID, rt.Limits, rt.Outbound); err != nil {
		return fmt.Errorf("apply %s: %w", rt.Tenant, err)
	}

	want := wanted(rt)
	t.mu.Lock()
	var old, others []instanceState // of rt's revision, of the others
	for _, inst := range t.state.Instances {
		if inst.Revision == rt.Revision {
			old = append(old, inst)
		} else {
			others = append(others, inst)
		}
	}
	t.mu.Unlock()
	byID := make(map[string]instanceState, len(old))
	for _, inst := range old {
		byID[inst.ID] = inst
	}

	// Ports first: taken from the registry, then recorded in the state
	// before anything runs.
	var need []string
	var released []int
	t.mu.Lock()
	for i, w := range want {
		prev, ok := byID[w.ID]
		switch {
		case w.Port > 0 && ok && prev.Port > 0:
			want[i].Port, want[i].Declared = prev.Port, prev.Declared
		case w.Port > 0:
			if p := t.declaredPort(rt, w, want[:i]); p > 0 {
				want[i].Port, want[i].Declared = p, true
			} else {
				need = append(need, w.ID)
			}
		case ok && prev.registered():
			released = append(released, prev.Port)
		}
	}
	t.mu.Unlock()
	added, err := d.ports.alloc(t.name, need)
	if err != nil {
		return fmt.Errorf("apply %s: %w", rt.Tenant, err)
	}
	for i, w := range want {
		if p, ok := added[w.ID]; ok {
			want[i].Port = p
		}
	}

	// Stop what goes away or changes, unless it took its new environment.
	keep := make(map[string]bool)
	for _, w := range want {
		if prev, ok := byID[w.ID]; ok && prev.Hash == w.Hash && prev.Port == w.Port {
			keep[w.ID] = true
		}
	}
	d.bind(ctx, t, rt, want, byID, keep)
	var stopping []*supervisor
	for _, inst := range old {
		if keep[inst.ID] {
			continue
		}
		if !slices.ContainsFunc(want, func(w instanceState) bool { return w.ID == inst.ID }) && inst.registered() {
			released = append(released, inst.Port)
		}
		t.mu.Lock()
		s := t.sups[inst.ID]
		t.mu.Unlock()
		if s != nil {
			stopping = append(stopping, s)
		}
	}
	d.stopAll(t, stopping)

	t.mu.Lock()
	for i, w := range want {
		if prev := t.instance(w.ID); prev != nil && keep[w.ID] {
			want[i].PID, want[i].StartTime, want[i].StartedAt = prev.PID, prev.StartTime, prev.StartedAt
			want[i].BindToken = prev.BindToken
		}
	}
	t.state.Others = otherRuntimes(&t.state, rt.Revision, others)
	t.state.Runtime = rt
	t.state.Instances = append(want, others...)
	t.state.Stopped, t.state.Swept = false, false
	err = t.save()
	t.mu.Unlock()
	if err != nil {
		d.releasePorts(t.name, slices.Collect(maps.Values(added)))
		return fmt.Errorf("apply %s: %w", rt.Tenant, err)
	}
	d.releasePorts(t.name, released)

	for _, w := range want {
		t.mu.Lock()
		running := t.sups[w.ID] != nil
		t.mu.Unlock()
		if running {
			continue
		}
		if err := d.supervise(t, w, *findService(rt, w.Service), bdir); err != nil {
			return fmt.Errorf("apply %s: %w", rt.Tenant, err)
		}
	}
	return nil
}

// declaredPort returns the port instance w of rt is to listen on in t's
// network namespace: its service's declared port, for an app that
// listens on a fixed port of its own, unless another instance of t holds
// it (recorded, or among those given ports already, given) since two
// processes cannot listen on one port of one address. 0 means a port from
// the registry: t has no network of its own, the service declares no
// port, or another instance (a second replica, a new version beside the
// old) has it. t.mu must be held.
func (t *tenant) declaredPort(rt *stamp.Runtime, w instanceState, given []instanceState) int {
	svc := findService(rt, w.Service)
	if t.state.Addr == "" || svc == nil || svc.Port <= 0 {
		return 0
	}
	holds := func(inst instanceState) bool { return inst.ID != w.ID && inst.Port == svc.Port }
	if slices.ContainsFunc(t.state.Instances, holds) || slices.ContainsFunc(given, holds) {
		return 0
	}
	return svc.Port
}

// otherRuntimes returns the runtimes of st other than revision rev that
// still have an instance in insts.
func otherRuntimes(st *tenantState, rev string, insts []instanceState) []*stamp.Runtime {
	var out []*stamp.Runtime
	for _, rt := range append([]*stamp.Runtime{st.Runtime}, st.Others...) {
		if rt == nil || rt.Revision == rev {
			continue
		}
		if slices.ContainsFunc(insts, func(inst instanceState) bool { return inst.Revision == rt.Revision }) {
			out = append(out, rt)
		}
	}
	return out
}

// Retire stops the instances of tenant of every revision but keep
// (SIGTERM, SIGKILL after StopTimeout), then forgets them, their logs and
// their runtimes and releases their ports. keep must be a revision applied
// to the tenant (EINVALID otherwise, and nothing is stopped).
func (d *Driver) Retire(ctx context.Context, tenant, keep string) error {
	t, err := d.lockTenant(ctx, tenant, true)
	if err != nil {
		return err
	}
	defer t.op.Unlock()
	t.mu.Lock()
	rt := t.state.runtime(keep)
	var kept, retired []instanceState
	for _, inst := range t.state.Instances {
		if inst.Revision == keep {
			kept = append(kept, inst)
		} else {
			retired = append(retired, inst)
		}
	}
	var stopping []*supervisor
	for _, inst := range retired {
		if s := t.sups[inst.ID]; s != nil {
			stopping = append(stopping, s)
		}
	}
	t.mu.Unlock()
	if len(retired) == 0 {
		return nil
	}
	if rt == nil {
		return stamp.Errorf(stamp.EINVALID, "retire: tenant %s has no revision %q to keep", tenant, keep)
	}
	d.stopAll(t, stopping)
	t.mu.Lock()
	t.state.Runtime, t.state.Others, t.state.Instances = rt, nil, kept
	for _, inst := range retired {
		delete(t.sups, inst.ID)
	}
	err = t.save()
	t.mu.Unlock()
	if err != nil {
		return fmt.Errorf("retire revisions of %s: %w", tenant, err)
	}
	var ports []int
	for _, inst := range retired {
		if inst.registered() {
			ports = append(ports, inst.Port)
		}
		if err := removeLog(t.logPath(inst.ID)); err != nil {
			d.log.Warn("remove log of retired instance", "tenant", tenant, "instance", inst.ID, "err", err)
		}
	}
	d.releasePorts(t.name, ports)
	return nil
}

// Observe returns the instances of tenant that run now, with restart
// counts since this Driver took the tenant up, which Observe does first if
// it has not. A tenant with no directory has no services, and is neither
// taken up nor created.
func (d *Driver) Observe(ctx context.Context, tenant string) (*stamp.Observed, error) {
	if d.isClosed() {
		return nil, errClosed
	}
	obs := &stamp.Observed{Tenant: tenant, Services: make(map[string]*stamp.ServiceObserved)}
	t := d.tenantIfKnown(tenant)
	if t == nil || !t.isLoaded() {
		if stamp.ValidateName("tenant", tenant) != nil {
			return obs, nil
		}
		_, err := os.Stat(filepath.Join(d.dir, "tenants", tenant))
		if errors.Is(err, fs.ErrNotExist) {
			return obs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("observe %s: %w", tenant, err)
		}
		if t, err = d.lockTenant(ctx, tenant, true); err != nil {
			return nil, err
		}
		t.op.Unlock()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	obs.Limits = t.state.InForce
	for _, rt := range append([]*stamp.Runtime{t.state.Runtime}, t.state.Others...) {
		if rt == nil {
			continue
		}
		for _, svc := range rt.Services {
			if obs.Services[svc.Name] != nil {
				continue
			}
			so := &stamp.ServiceObserved{Instances: []stamp.Instance{}}
			if st := t.stats[svc.Name]; st != nil {
				so.Restarts, so.LastExit, so.LastExitAt, so.LastExitOOM = st.Restarts, st.LastExit, st.LastExitAt, st.LastExitOOM
			}
			obs.Services[svc.Name] = so
		}
	}
	for _, inst := range t.state.Instances {
		so := obs.Services[inst.Service]
		s := t.sups[inst.ID]
		if so == nil || s == nil || s.proc == nil {
			continue
		}
		in := stamp.Instance{ID: inst.ID, Revision: inst.Revision, PID: s.proc.pid, StartedAt: s.proc.startedAt}
		if inst.Port > 0 {
			in.Endpoint = net.JoinHostPort(t.hostLocked(), strconv.Itoa(inst.Port))
		}
		so.Instances = append(so.Instances, in)
	}
	return obs, nil
}

// Stop stops every instance of tenant, of every revision (SIGTERM,
// SIGKILL after StopTimeout), and keeps the rest: its files, logs, ports
// and applied runtimes. The stop is recorded before any process ends, so
// a crash in between leaves processes the next take-up kills as orphans,
// not instances it starts again. Apply starts them again.
func (d *Driver) Stop(ctx context.Context, tenant string) error {
	if err := stamp.ValidateName("tenant", tenant); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(d.dir, "tenants", tenant)); errors.Is(err, fs.ErrNotExist) {
		return nil // nothing of it is here, nothing runs
	}
	t, err := d.lockTenant(ctx, tenant, true)
	if err != nil {
		return err
	}
	defer t.op.Unlock()
	t.mu.Lock()
	t.state.Stopped = true
	for i := range t.state.Instances {
		inst := &t.state.Instances[i]
		inst.PID, inst.StartTime, inst.StartedAt = 0, 0, time.Time{}
	}
	err = t.save()
	t.mu.Unlock()
	if err != nil {
		return fmt.Errorf("stop %s: %w", tenant, err)
	}
	d.stopAll(t, t.supervisors())
	// Look for what else of it runs (a daemon an instance left, the
	// leftovers of a task) while nothing waits on it, so that taking the
	// tenant up again, a wake, need not.
	t.mu.Lock()
	st := t.state
	t.mu.Unlock()
	if d.killOrphans(t, st) > 0 {
		return nil // a task runs: the next take-up looks again
	}
	t.mu.Lock()
	t.state.Swept = true
	err = t.save()
	t.mu.Unlock()
	if err != nil {
		return fmt.Errorf("stop %s: %w", tenant, err)
	}
	return nil
}

// Remove stops every instance of tenant (SIGTERM, SIGKILL after
// StopTimeout), kills its running tasks and any process still carrying its
// marker, deletes its directory and releases its ports. A tenant already
// gone is not an error. It does not need the tenant taken up and does not
// take it up: instances of a tenant this Driver does not hold are killed by
// their marker rather than started again to be stopped.
func (d *Driver) Remove(ctx context.Context, tenant string) error {
	t, err := d.lockTenant(ctx, tenant, false)
	if err != nil {
		return err
	}
	defer t.op.Unlock()
	stopSups(t.supervisors())
	for _, rec := range t.taskRecords() {
		if rec.Finished.IsZero() {
			(&proc{pid: rec.PID, start: rec.StartTime}).signal(syscall.SIGKILL)
		}
	}
	uid := t.recordedUID()
	d.killTenant(tenant, uid)
	if !exists(t.dir) {
		d.killStray(tenant) // a leftover known by its processes alone
	}
	if d.cfg.Network != nil {
		if err := d.cfg.Network.Remove(tenant, uid); err != nil {
			return fmt.Errorf("remove %s: %w", tenant, err)
		}
	}
	if d.cfg.Cgroups != nil {
		// After the processes: a group is removed only once empty (what
		// still runs in it is killed).
		if err := d.cfg.Cgroups.Remove(tenant); err != nil {
			return fmt.Errorf("remove %s: %w", tenant, err)
		}
	}
	if err := removeAll(t.dir); err != nil {
		return fmt.Errorf("remove %s: %w", tenant, err)
	}
	t.mu.Lock()
	t.state = tenantState{}
	t.mu.Unlock()
	d.drop(t, stamp.Errorf(stamp.ECONFLICT, "tenant %s was removed", tenant))
	// After the directory: ports of a tenant with no directory are free
	// to the registry, so a crash in between leaks none.
	if err := d.ports.releaseTenant(tenant); err != nil {
		return fmt.Errorf("remove %s: %w", tenant, err)
	}
	return nil
}

// validateRuntime checks what the driver relies on: names that are safe
// as file names and, when commands are needed, a command per service.
func validateRuntime(rt *stamp.Runtime, commands bool) error {
	if rt == nil {
		return stamp.Errorf(stamp.EINVALID, "runtime is missing")
	}
	if err := stamp.ValidateName("tenant", rt.Tenant); err != nil {
		return err
	}
	if !revisionPattern.MatchString(rt.Revision) {
		return stamp.Errorf(stamp.EINVALID, "revision %q of %s is not up to 64 of A-Z, a-z, 0-9, '.', '_', '+', '-'", rt.Revision, rt.Tenant)
	}
	seen := make(map[string]bool)
	for _, svc := range rt.Services {
		if err := stamp.ValidateName("service", svc.Name); err != nil {
			return err
		}
		if seen[svc.Name] {
			return stamp.Errorf(stamp.EINVALID, "service %s appears twice in the runtime of %s", svc.Name, rt.Tenant)
		}
		seen[svc.Name] = true
		if svc.Replicas < 0 {
			return stamp.Errorf(stamp.EINVALID, "service %s of %s has %d replicas", svc.Name, rt.Tenant, svc.Replicas)
		}
		if commands && len(svc.Command) == 0 {
			return stamp.Errorf(stamp.EINVALID, "service %s of %s has no command", svc.Name, rt.Tenant)
		}
	}
	return nil
}

// revisionPattern is what a runtime revision may be: it becomes part of
// instance ids, hence of file names.
var revisionPattern = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._+-]{0,63})?$`)

// wanted lists the instances rt asks for, "<service>-<i>@<revision>" (or
// without "@<revision>" when it is empty), with the hashes of their spec
// and Port 1 for those that need a port.
func wanted(rt *stamp.Runtime) []instanceState {
	var out []instanceState
	for _, svc := range rt.Services {
		hash, base := specHash(rt.Bundle.Digest, svc), baseHash(rt.Bundle.Digest, svc)
		for i := range svc.Replicas {
			inst := instanceState{ID: instanceID(svc.Name, i, rt.Revision), Service: svc.Name, Revision: rt.Revision, Hash: hash, Base: base}
			if svc.Port > 0 {
				inst.Port = 1
			}
			out = append(out, inst)
		}
	}
	return out
}

// instanceID names replica i of service svc of revision rev.
func instanceID(svc string, i int, rev string) string {
	id := svc + "-" + strconv.Itoa(i)
	if rev != "" {
		id += "@" + rev
	}
	return id
}

// specHash identifies what an instance of svc runs: a change of it means
// a restart. Replicas, Public and Health do not change a process, and the
// container port only matters as "serves traffic or not".
func specHash(digest string, svc stamp.Service) string {
	svc.Replicas, svc.Public, svc.Health = 0, false, nil
	svc.Port = min(svc.Port, 1)
	data, _ := json.Marshal(struct {
		Digest  string
		Service stamp.Service
	}{digest, svc})
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

// baseHash is specHash without the environment: two specs of one base
// differ in Env alone, which a bind can hand over without a restart.
func baseHash(digest string, svc stamp.Service) string {
	svc.Env = nil
	return specHash(digest, svc)
}

// releasePorts gives ports of tenant back to the registry. Failing only
// leaks them until the tenant is next taken up or removed, so the error is
// logged.
func (d *Driver) releasePorts(tenant string, ports []int) {
	if err := d.ports.release(tenant, ports); err != nil {
		d.log.Error("release ports", "tenant", tenant, "err", err)
	}
}
