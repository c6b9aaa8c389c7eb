package check

import (
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

const uidA = 7000001

// hostOfA is what a host holds of tenant a, ready on 2.0.0 as uid uidA:
// its instance (pid 100) with a child, a finished migrate task, its
// port, directories, cgroups, namespace and interface.
func hostOfA() Host {
	return Host{
		Procs: []Proc{
			{PID: 100, UID: uidA, Session: 100, Start: 5000, Marker: "a/web-0@2.0.0"},
			{PID: 101, UID: uidA, Session: 100, Start: 5001, Marker: "a/web-0@2.0.0"},
		},
		Drivers: map[string]*DriverState{"a": {
			Runtime:   &Revision{Revision: "2.0.0"},
			Instances: []Instance{{ID: "web-0@2.0.0", Revision: "2.0.0", Port: 20001, PID: 100, StartTime: 5000}},
			UID:       uidA,
			Tasks:     []Task{{Name: "migrate-2.0.0", PID: 90, StartTime: 4000, Finished: time.Now()}},
		}},
		Ports:        map[int]string{20001: "a/web-0@2.0.0"},
		DatabaseDirs: []string{"a"},
		Cgroups:      []string{"memory/a", "pids/a"},
		Namespaces:   []string{"a"},
		Links:        []string{"stv7000001"},
	}
}

func tenantA() *stamp.Tenant {
	t := upgraded()
	t.Name, t.Status.UID = "a", uidA
	return t
}

func TestOrphans(t *testing.T) {
	with := func(change func(h *Host)) Host {
		h := hostOfA()
		change(&h)
		return h
	}
	a := []*stamp.Tenant{tenantA()}
	for _, tc := range []struct {
		name    string
		host    Host
		tenants []*stamp.Tenant
		want    []string
	}{
		{name: "all accounted for", host: hostOfA(), tenants: a},
		{name: "nothing left of deleted tenants", host: Host{}},
		{name: "everything left of a deleted tenant", host: hostOfA(), want: []string{
			"process 100 (a/web-0@2.0.0): of tenant a, which the store does not have",
			"process 101 (a/web-0@2.0.0): of tenant a, which the store does not have",
			"port 20001: registered for a/web-0@2.0.0, a tenant the store does not have",
			"tenant directory a: local/tenants/a of a tenant the store does not have",
			"database directory a: of a tenant the store does not have",
			"cgroup memory/a: of a tenant the store does not have",
			"cgroup pids/a: of a tenant the store does not have",
			"network namespace a: of a tenant the store does not have",
			"network interface stv7000001: named for uid 7000001, which no tenant of the store has",
		}},
		{name: "a pid reused by another process", tenants: a, host: with(func(h *Host) { h.Procs[0].Start = 6000 }), want: []string{
			"process 100 (a/web-0@2.0.0): of tenant a (uid 7000001), but no live instance or unfinished task of local/tenants/a is it or leads its session 100",
			"process 101 (a/web-0@2.0.0): of tenant a (uid 7000001), but no live instance or unfinished task",
		}},
		{name: "an old version left running", tenants: a, host: with(func(h *Host) {
			h.Procs = append(h.Procs, Proc{PID: 80, UID: uidA, Session: 80, Start: 3000, Marker: "a/web-0@1.0.0"})
		}), want: []string{"process 80 (a/web-0@1.0.0): of tenant a (uid 7000001), but no live instance or unfinished task"}},
		{name: "an old version recorded after the move", tenants: a, host: with(func(h *Host) {
			st := h.Drivers["a"]
			st.Instances = append(st.Instances, Instance{ID: "web-0@1.0.0", Revision: "1.0.0", Port: 20000, PID: 80, StartTime: 3000})
			h.Ports[20000] = "a/web-0@1.0.0"
			h.Procs = append(h.Procs, Proc{PID: 80, UID: uidA, Session: 80, Start: 3000, Marker: "a/web-0@1.0.0"})
		}), want: []string{"instance a/web-0@1.0.0: recorded (pid 80) for revision 1.0.0 while the tenant, at rest, serves 2.0.0"}},
		{name: "a running task", tenants: a, host: with(func(h *Host) {
			h.Drivers["a"].Tasks = append(h.Drivers["a"].Tasks, Task{Name: "seed", PID: 95, StartTime: 4500})
			h.Procs = append(h.Procs, Proc{PID: 95, UID: uidA, Session: 95, Start: 4500, Marker: "a/task:seed"},
				Proc{PID: 96, UID: uidA, Session: 95, Start: 4501, Marker: "a/task:seed"})
		})},
		{name: "a finished task still running", tenants: a, host: with(func(h *Host) {
			h.Procs = append(h.Procs, Proc{PID: 90, UID: uidA, Session: 90, Start: 4000, Marker: "a/task:migrate-2.0.0"})
		}), want: []string{"process 90 (a/task:migrate-2.0.0): of tenant a (uid 7000001), but no live instance"}},
		{name: "an unmarked process of no tenant's user", tenants: a, host: with(func(h *Host) {
			h.Procs = append(h.Procs, Proc{PID: 300, UID: uidA + 1, Session: 300, Start: 9000})
		}), want: []string{"process 300: runs as uid 7000002 of the tenant range, which no tenant of the store has"}},
		{name: "an unmarked child working in its tenant's directory", tenants: a, host: with(func(h *Host) {
			h.Procs = append(h.Procs, Proc{PID: 102, UID: uidA, Session: 100, Start: 5002, Dir: "/data/local/tenants/a/data"})
		})},
		{name: "an unmarked process left in a deleted tenant's directory", tenants: a, host: with(func(h *Host) {
			h.Procs = append(h.Procs, Proc{PID: 400, Session: 400, Start: 9100, Dir: "/data/local/tenants/gone/data"})
		}), want: []string{"process 400: of tenant gone, which the store does not have"}},
		{name: "an unmarked process run from a bundle", tenants: a, host: with(func(h *Host) {
			h.Procs = append(h.Procs, Proc{PID: 401, Session: 401, Start: 9200, Dir: "/data/local/bundles/ab12/bin/ledger"})
		}), want: []string{"process 401: runs as uid 0 in /data/local/bundles/ab12/bin/ledger, under the data dir, and is no tenant's"}},
		{name: "an instance as another user", tenants: a, host: with(func(h *Host) { h.Procs[1].UID = 0 }),
			want: []string{"process 101 (a/web-0@2.0.0): of tenant a, but runs as uid 0, not the tenant's 7000001"}},
		{name: "a port of no instance", tenants: a, host: with(func(h *Host) { h.Ports[20002] = "a/web-1@2.0.0" }),
			want: []string{"port 20002: registered for a/web-1@2.0.0, which local/tenants/a/state.json does not have on that port"}},
		{name: "a peer end left on the host", tenants: a, host: with(func(h *Host) { h.Links = append(h.Links, "stp7000001") }),
			want: []string{"network interface stp7000001: a veth end left in the host's namespace"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantFindings(t, Orphans(tc.host, tc.tenants), KindOrphan, tc.want)
		})
	}
}
