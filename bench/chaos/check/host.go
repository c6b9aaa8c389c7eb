package check

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stamphq/stamp"
)

// Host is what ReadHost found on this host of one server's tenants.
type Host struct {
	// Procs are the live processes carrying the marker of the server's
	// local driver, running as a user of its tenant range, or working in
	// or run from its data dir.
	Procs []Proc
	// Drivers holds each tenant directory's driver state (local/tenants/
	// <name>/state.json), nil where it has none.
	Drivers map[string]*DriverState
	// Ports is the local driver's port registry (local.ReadPorts): each
	// registered port's "<tenant>/<id>".
	Ports map[int]string
	// DatabaseDirs are the directories under databases/ (SQLite tenant
	// databases and their snapshots), one per tenant.
	DatabaseDirs []string
	// Cgroups are the groups under the server's cgroup parent, as
	// "<hierarchy>/<tenant>".
	Cgroups []string
	// Namespaces are the files under local/netns/, one per tenant.
	Namespaces []string
	// Links are the host's network interfaces named for a uid of the
	// tenant range: stv<uid> (a tenant's end of its veth pair) and
	// stp<uid> (the other end, before it moves into the namespace).
	Links []string
}

// Proc is one live process.
type Proc struct {
	PID     int
	UID     int    // real user
	Session int    // session id: the instance or task a child belongs to
	Start   uint64 // start time in clock ticks after boot, field 22 of stat
	// Marker is the "<tenant>/<id>" of the local driver's STAMP_INSTANCE
	// marker of the server's data dir; empty if it has none.
	Marker string
	// Dir is the process's working directory, or else its executable,
	// when it is under the data dir; empty otherwise.
	Dir string
}

// DriverState is what the check reads of the local driver's state.json
// (driver/local's tenantState): the instances and their processes.
type DriverState struct {
	Runtime   *Revision  `json:"runtime,omitempty"`
	Others    []Revision `json:"others,omitempty"`
	Instances []Instance `json:"instances"`
	UID       int        `json:"uid,omitempty"`
	Stopped   bool       `json:"stopped,omitempty"`
	// Tasks are the task records of the tenant (tasks/<name>.json).
	Tasks []Task `json:"-"`
}

// Revision is the part of a runtime the check reads.
type Revision struct {
	Revision string `json:"revision"`
}

// Instance is one instance of a driver state.
type Instance struct {
	ID        string `json:"id"`
	Revision  string `json:"revision,omitempty"`
	Port      int    `json:"port,omitempty"`
	Declared  bool   `json:"declared,omitempty"`
	PID       int    `json:"pid,omitempty"`
	StartTime uint64 `json:"startTime,omitempty"`
}

// Task is one task record of a tenant.
type Task struct {
	Name      string    `json:"name"`
	PID       int       `json:"pid"`
	StartTime uint64    `json:"startTime"`
	Finished  time.Time `json:"finished,omitzero"`
}

// Link prefixes of the network interfaces of tenants (driver/local/netns).
const (
	hostLinkPrefix = "stv"
	peerLinkPrefix = "stp"
)

// Orphans checks h against the store's tenants. Each process must be a
// live instance or unfinished task the driver recorded for a tenant of
// the store (by pid and start time), or in the session of one, and run as
// that tenant's user; each registered port must be held by the instance
// recorded on it; each tenant directory, database directory, cgroup,
// network namespace and interface must be a tenant's of the store (an
// interface: of the tenant whose uid names it). A tenant at rest runs
// only instances of the revision it serves: any other is left over from a
// move.
func Orphans(h Host, tenants []*stamp.Tenant) []Finding {
	store := map[string]*stamp.Tenant{}
	uids := map[int]string{}
	for _, t := range tenants {
		store[t.Name] = t
		if t.Status.UID > 0 {
			uids[t.Status.UID] = t.Name
		}
	}
	var out []Finding
	add := func(subject, format string, args ...any) {
		out = append(out, finding(KindOrphan, subject, format, args...))
	}
	out = append(out, orphanProcs(h, store, uids)...)
	for _, p := range slices.Sorted(maps.Keys(h.Ports)) {
		owner := h.Ports[p]
		tenant, id, _ := strings.Cut(owner, "/")
		if store[tenant] == nil {
			add("port "+strconv.Itoa(p), "registered for %s, a tenant the store does not have", owner)
			continue
		}
		if !slices.ContainsFunc(instancesOf(h, tenant), func(inst Instance) bool { return inst.ID == id && inst.Port == p && !inst.Declared }) {
			add("port "+strconv.Itoa(p), "registered for %s, which local/tenants/%s/state.json does not have on that port", owner, tenant)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(h.Drivers)) {
		t := store[name]
		if t == nil {
			add("tenant directory "+name, "local/tenants/%s of a tenant the store does not have", name)
			continue
		}
		if t.Upgrading() || t.Status.Phase != stamp.PhaseReady {
			continue
		}
		for _, inst := range instancesOf(h, name) {
			if rev := t.Status.ServingRevision(); inst.Revision != rev {
				add("instance "+name+"/"+inst.ID, "recorded (pid %d) for revision %s while the tenant, at rest, serves %s", inst.PID, inst.Revision, rev)
			}
		}
	}
	for _, kind := range []struct {
		what  string
		names []string
	}{{"database directory", h.DatabaseDirs}, {"cgroup", h.Cgroups}, {"network namespace", h.Namespaces}} {
		for _, name := range kind.names {
			tenant := name[strings.LastIndexByte(name, '/')+1:]
			if store[tenant] == nil {
				add(kind.what+" "+name, "of a tenant the store does not have")
			}
		}
	}
	for _, link := range h.Links {
		switch {
		case strings.HasPrefix(link, peerLinkPrefix):
			add("network interface "+link, "a veth end left in the host's namespace, moved into no tenant's")
		case uids[linkUID(link)] == "":
			add("network interface "+link, "named for uid %d, which no tenant of the store has", linkUID(link))
		}
	}
	return out
}

// orphanProcs checks each process of h.
func orphanProcs(h Host, store map[string]*stamp.Tenant, uids map[int]string) []Finding {
	// The processes the driver accounts for, by pid: live instances
	// (pid and start time as recorded) and unfinished tasks.
	start := map[int]uint64{}
	for _, p := range h.Procs {
		start[p.PID] = p.Start
	}
	accounted := map[int]string{}
	for name, st := range h.Drivers {
		if st == nil || store[name] == nil {
			continue
		}
		for _, inst := range st.Instances {
			if s, ok := start[inst.PID]; ok && !st.Stopped && inst.PID > 0 && s == inst.StartTime {
				accounted[inst.PID] = name
			}
		}
		for _, task := range st.Tasks {
			if s, ok := start[task.PID]; ok && task.Finished.IsZero() && task.PID > 0 && s == task.StartTime {
				accounted[task.PID] = name
			}
		}
	}
	var out []Finding
	for _, p := range h.Procs {
		subject := fmt.Sprintf("process %d", p.PID)
		if p.Marker != "" {
			subject += " (" + p.Marker + ")"
		}
		tenant, _, _ := strings.Cut(p.Marker, "/")
		if tenant == "" {
			tenant = uids[p.UID]
		}
		if tenant == "" {
			tenant = tenantOfDir(p.Dir)
		}
		owner := accounted[p.PID]
		if owner == "" {
			owner = accounted[p.Session]
		}
		switch {
		case tenant == "" && p.Dir != "":
			out = append(out, finding(KindOrphan, subject, "runs as uid %d in %s, under the data dir, and is no tenant's", p.UID, p.Dir))
		case tenant == "":
			out = append(out, finding(KindOrphan, subject, "runs as uid %d of the tenant range, which no tenant of the store has", p.UID))
		case store[tenant] == nil:
			out = append(out, finding(KindOrphan, subject, "of tenant %s, which the store does not have", tenant))
		case owner != tenant:
			out = append(out, finding(KindOrphan, subject, "of tenant %s (uid %d), but no live instance or unfinished task of local/tenants/%s is it or leads its session %d", tenant, p.UID, tenant, p.Session))
		case p.UID != store[tenant].Status.UID:
			out = append(out, finding(KindOrphan, subject, "of tenant %s, but runs as uid %d, not the tenant's %d", tenant, p.UID, store[tenant].Status.UID))
		}
	}
	return out
}

// tenantOfDir returns the tenant whose directory (local/tenants/<name>)
// holds dir, or "".
func tenantOfDir(dir string) string {
	_, rest, ok := strings.Cut(dir, "/local/tenants/")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// instancesOf returns the recorded instances of tenant.
func instancesOf(h Host, tenant string) []Instance {
	if st := h.Drivers[tenant]; st != nil {
		return st.Instances
	}
	return nil
}

// linkUID returns the uid an interface stv<uid> or stp<uid> is named for.
func linkUID(link string) int {
	n, _ := strconv.Atoi(link[len(hostLinkPrefix):])
	return n
}
