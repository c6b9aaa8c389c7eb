package main

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bench/internal/golden"
)

// at is t0 plus ms milliseconds.
func at(ms int) time.Time {
	return time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC).Add(time.Duration(ms) * time.Millisecond)
}

// tenantsOf returns n tenants named prefix-i, the i-th (from 1) asked
// for at i ms, with one object of each kind (two secrets) seen 10*i ms
// apart from the namespace at 5*i ms, and every step taking i ms after
// a wait of 1 ms, ready at 200*i ms.
func tenantsOf(prefix string, n int) []tenantTimes {
	var out []tenantTimes
	for i := 1; i <= n; i++ {
		t := tenantTimes{name: fmt.Sprintf("%s-%d", prefix, i), asked: at(i), ready: at(200 * i), steps: map[string]*stamp.Event{}}
		for j, g := range kinds {
			t.objects = append(t.objects, object{resource: g.Resource, key: "ns/" + g.Resource, seen: at(5*i + 10*i*j)})
		}
		t.objects = append(t.objects, object{resource: "secrets", key: "ns/more", seen: at(6 * i)})
		for j, step := range stepOrder {
			q := at(10*i + 20*j)
			t.steps[step] = &stamp.Event{Type: stamp.EventStep, Step: step, QueuedAt: q, StartedAt: q.Add(time.Millisecond), FinishedAt: q.Add(time.Millisecond + time.Duration(i)*time.Millisecond)}
		}
		out = append(out, t)
	}
	return out
}

// TestMarkdown renders a report of two lone tenants and a fleet of
// three and compares it with testdata/report.md, so that any change to
// the report's format shows as a change of that file (rewrite it with
// -update).
func TestMarkdown(t *testing.T) {
	fleet := tenantsOf("t", 3)
	requests := counts{}
	for _, ft := range fleet {
		for _, o := range ft.objects {
			requests[countKey{ft.name, "apply", o.resource}]++
		}
		requests[countKey{ft.name, "deletecollection", "deployments"}]++
		requests[countKey{ft.name, "deletecollection", "secrets"}]++
		requests[countKey{ft.name, "get", "pods/log"}] += 2
	}
	requests[countKey{"t-2", "apply", "secrets"}]++
	r := &report{
		cfg:     config{n: 3, concurrency: 16, lone: 2, hooks: true, qps: 50, burst: 100, workers: 8, idle: 35 * time.Second},
		cluster: "v1.31.4", loadBefore: "0.50 0.60 0.70", loadAfter: "1.25 0.80 0.72",
		lone: tenantsOf("lone", 2), fleet: fleet, wall: 4200 * time.Millisecond,
		fleetRequests: requests, fleetFailed: counts{{"t-2", "apply", "secrets"}: 1},
		windows: []window{
			{name: "fleet: first create to the last write", length: 4300 * time.Millisecond, all: requests, failed: counts{{"t-2", "apply", "secrets"}: 1}, cpu: 290 * time.Millisecond},
			{name: "idle: serving, nothing asked", length: 35 * time.Second, all: counts{}, failed: counts{}, cpu: 30 * time.Millisecond},
			{name: "restart: killed, started, idle", length: 36100 * time.Millisecond,
				all:    counts{{"", "list", "secrets"}: 1, {"", "watch", "secrets"}: 2},
				failed: counts{{"", "watch", "secrets"}: 1}, cpu: 70 * time.Millisecond},
		},
		memFleet: memory{rssKiB: 73100, peakKiB: 80000}, memRestart: memory{rssKiB: 66700, peakKiB: 70000},
		apiApplies: 40, proxyApplies: 40, retries: 1,
	}
	golden.Check(t, filepath.Join("testdata", "report.md"), r.markdown())
}
