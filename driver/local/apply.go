package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strconv"
	"syscall"

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
	t, err := d.lockTenant(rt.Tenant)
	if err != nil {
		return err
	}
	defer t.op.Unlock()
	if _, err := d.bundleDir(ctx, rt.Bundle.Digest); err != nil {
		return fmt.Errorf("prepare %s: %w", rt.Tenant, err)
	}
	if err := t.makeDirs(); err != nil {
		return fmt.Errorf("prepare %s: %w", rt.Tenant, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var added []int
	for _, w := range wanted(rt) {
		if t.instance(w.ID) != nil {
			continue
		}
		if w.Port > 0 {
			if w.Port, err = d.allocPort(t.name); err != nil {
				d.releasePorts(added)
				return fmt.Errorf("prepare %s: %w", rt.Tenant, err)
			}
			added = append(added, w.Port)
		}
		w.Hash = ""
		t.state.Instances = append(t.state.Instances, w)
	}
	if err := t.save(); err != nil {
		d.releasePorts(added)
		return fmt.Errorf("prepare %s: %w", rt.Tenant, err)
	}
	return nil
}

// Apply converges tenant rt.Tenant to rt: it extracts the bundle, gives
// every new instance that serves traffic a port (kept for the instance's
// life, across restarts and changes), records it all, then stops the
// instances rt no longer has or whose spec changed and starts the missing
// ones. Applying the same rt again changes nothing. It returns once every
// instance's process has started.
func (d *Driver) Apply(ctx context.Context, rt *stamp.Runtime) error {
	if err := validateRuntime(rt, true); err != nil {
		return err
	}
	t, err := d.lockTenant(rt.Tenant)
	if err != nil {
		return err
	}
	defer t.op.Unlock()
	bdir, err := d.bundleDir(ctx, rt.Bundle.Digest)
	if err != nil {
		return fmt.Errorf("apply %s: %w", rt.Tenant, err)
	}
	if err := t.makeDirs(); err != nil {
		return fmt.Errorf("apply %s: %w", rt.Tenant, err)
	}

	want := wanted(rt)
	t.mu.Lock()
	old := slices.Clone(t.state.Instances)
	t.mu.Unlock()
	byID := make(map[string]instanceState, len(old))
	for _, inst := range old {
		byID[inst.ID] = inst
	}

	// Ports first: allocated in memory, then recorded before anything runs.
	var added, released []int
	for i, w := range want {
		prev, ok := byID[w.ID]
		switch {
		case w.Port > 0 && ok && prev.Port > 0:
			want[i].Port = prev.Port
		case w.Port > 0:
			p, err := d.allocPort(t.name)
			if err != nil {
				d.releasePorts(added)
				return fmt.Errorf("apply %s: %w", rt.Tenant, err)
			}
			want[i].Port = p
			added = append(added, p)
		case ok && prev.Port > 0:
			released = append(released, prev.Port)
		}
	}

	// Stop what goes away or changes.
	keep := make(map[string]bool)
	for _, w := range want {
		if prev, ok := byID[w.ID]; ok && prev.Hash == w.Hash && prev.Port == w.Port {
			keep[w.ID] = true
		}
	}
	var stopping []*supervisor
	for _, inst := range old {
		if keep[inst.ID] {
			continue
		}
		if !slices.ContainsFunc(want, func(w instanceState) bool { return w.ID == inst.ID }) && inst.Port > 0 {
			released = append(released, inst.Port)
		}
		t.mu.Lock()
		s := t.sups[inst.ID]
		t.mu.Unlock()
		if s != nil {
			stopping = append(stopping, s)
		}
	}
	stopAll(stopping)

	t.mu.Lock()
	for i, w := range want {
		if prev := t.instance(w.ID); prev != nil && keep[w.ID] {
			want[i].PID, want[i].StartTime, want[i].StartedAt = prev.PID, prev.StartTime, prev.StartedAt
		}
	}
	t.state.Runtime = rt
	t.state.Instances = want
	err = t.save()
	t.mu.Unlock()
	if err != nil {
		d.releasePorts(added)
		return fmt.Errorf("apply %s: %w", rt.Tenant, err)
	}
	d.releasePorts(released)

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

// Observe returns the instances of tenant that run now, with restart
// counts since this Driver started watching. An unknown tenant has no
// services.
func (d *Driver) Observe(ctx context.Context, tenant string) (*stamp.Observed, error) {
	if d.isClosed() {
		return nil, errClosed
	}
	obs := &stamp.Observed{Tenant: tenant, Services: make(map[string]*stamp.ServiceObserved)}
	t := d.tenantIfKnown(tenant)
	if t == nil {
		return obs, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state.Runtime == nil {
		return obs, nil
	}
	for _, svc := range t.state.Runtime.Services {
		so := &stamp.ServiceObserved{Instances: []stamp.Instance{}}
		if st := t.stats[svc.Name]; st != nil {
			so.Restarts, so.LastExit = st.Restarts, st.LastExit
		}
		obs.Services[svc.Name] = so
	}
	for _, inst := range t.state.Instances {
		so := obs.Services[inst.Service]
		s := t.sups[inst.ID]
		if so == nil || s == nil || s.proc == nil {
			continue
		}
		in := stamp.Instance{ID: inst.ID, PID: s.proc.pid, StartedAt: s.proc.startedAt}
		if inst.Port > 0 {
			in.Endpoint = net.JoinHostPort("127.0.0.1", strconv.Itoa(inst.Port))
		}
		so.Instances = append(so.Instances, in)
	}
	return obs, nil
}

// Remove stops every instance of tenant (SIGTERM, SIGKILL after
// StopTimeout), kills its running tasks and any process still carrying its
// marker, releases its ports and deletes its directory. A tenant already
// gone is not an error.
func (d *Driver) Remove(ctx context.Context, tenant string) error {
	t, err := d.lockTenant(tenant)
	if err != nil {
		return err
	}
	defer t.op.Unlock()
	stopAll(t.supervisors())
	for _, rec := range t.taskRecords() {
		if rec.Finished.IsZero() {
			(&proc{pid: rec.PID, start: rec.StartTime}).signal(syscall.SIGKILL)
		}
	}
	killMarked(d.dir, t.name+"/")
	if err := removeAll(t.dir); err != nil {
		return fmt.Errorf("remove %s: %w", tenant, err)
	}
	t.mu.Lock()
	var ports []int
	for _, inst := range t.state.Instances {
		if inst.Port > 0 {
			ports = append(ports, inst.Port)
		}
	}
	t.state = tenantState{}
	t.removed = true
	t.mu.Unlock()
	d.releasePorts(ports)
	d.mu.Lock()
	if d.tenants[tenant] == t {
		delete(d.tenants, tenant)
	}
	d.mu.Unlock()
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

// wanted lists the instances rt asks for, "<service>-<i>", with the hash
// of their spec and Port 1 for those that need a port.
func wanted(rt *stamp.Runtime) []instanceState {
	var out []instanceState
	for _, svc := range rt.Services {
		hash := specHash(rt.Bundle.Digest, svc)
		for i := range svc.Replicas {
			inst := instanceState{ID: svc.Name + "-" + strconv.Itoa(i), Service: svc.Name, Hash: hash}
			if svc.Port > 0 {
				inst.Port = 1
			}
			out = append(out, inst)
		}
	}
	return out
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

// allocPort takes the lowest port of the range that no tenant holds and
// that binds on 127.0.0.1 now.
func (d *Driver) allocPort(tenant string) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for p := d.cfg.PortMin; p <= d.cfg.PortMax; p++ {
		if _, used := d.ports[p]; used {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		l.Close()
		d.ports[p] = tenant
		return p, nil
	}
	return 0, stamp.Errorf(stamp.EUNAVAILABLE, "no free port left in %d..%d", d.cfg.PortMin, d.cfg.PortMax)
}

func (d *Driver) releasePorts(ports []int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range ports {
		delete(d.ports, p)
	}
}
