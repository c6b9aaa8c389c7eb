package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// The tests of this file scale tenants to zero: a plan with idle: 1s
// sleeps, the idle check runs every 100ms.

// sleepyServer starts a server that checks for idle tenants briskly.
func sleepyServer(t *testing.T, extra ...string) *stampServer {
	t.Helper()
	return startStampServer(t, append([]string{"--idle-check", "100ms", "--drain", "100ms"}, extra...)...)
}

// idleSecond is the blueprint edit that makes plan starter sleep after 1s.
var idleSecond = []string{"idle: 15m", "idle: 1s"}

// waitAsleep waits until tenant name is done going to sleep (SleptAt
// set) with none of its processes running.
func waitAsleep(t *testing.T, s *stampServer, name string) *stamp.Tenant {
	t.Helper()
	var tn *stamp.Tenant
	waitFor(t, name+" to sleep", 30*time.Second, func() bool {
		tn = s.tenant(name)
		return tn.Status.Phase == stamp.PhaseSleeping && !tn.Status.SleptAt.IsZero()
	})
	waitFor(t, name+"'s processes to end", 10*time.Second, func() bool {
		for _, p := range tenantProcesses(t, s.data) {
			if p.tenant == name {
				return false
			}
		}
		return true
	})
	return tn
}

// countEvents counts tenant's events of type typ.
func countEvents(t *testing.T, s *stampServer, tenant, typ string) int {
	t.Helper()
	events, err := s.client().Events(context.Background(), stamp.EventFilter{Tenant: tenant, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// TestIdleTenantSleepsAndWakes lets a tenant sleep, then sends it 20
// requests at once: one wake starts it, every request is answered 200
// from the data it had, and it sleeps again once idle.
func TestIdleTenantSleepsAndWakes(t *testing.T) {
	s := sleepyServer(t)
	s.mustCLI("blueprint", "push", blueprintDir(t, idleSecond...))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger")
	if code, body := s.do("POST", "acme", "/api/customers", `{"name":"Wile E.","email":"wile@acme.test"}`); code != http.StatusCreated {
		t.Fatalf("POST customer: %d %s", code, body)
	}
	asleep := waitAsleep(t, s, "acme")
	if len(asleep.Status.Endpoints) != 0 || asleep.Status.SleptAt.IsZero() {
		t.Errorf("asleep: endpoints %v, slept at %v; want none and a time", asleep.Status.Endpoints, asleep.Status.SleptAt)
	}
	if out := s.mustCLI("tenant", "list"); !strings.Contains(out, "sleeping") {
		t.Errorf("tenant list does not show the tenant sleeping:\n%s", out)
	}
	if n := countEvents(t, s, "acme", stamp.EventTenantAsleep); n != 1 {
		t.Errorf("%d tenant.asleep events, want 1", n)
	}

	var wg sync.WaitGroup
	codes := make([]int, 20)
	bodies := make([]string, 20)
	for i := range codes {
		wg.Go(func() { codes[i], bodies[i] = s.do("GET", "acme", "/api/customers", "") })
	}
	wg.Wait()
	for i, code := range codes {
		if code != http.StatusOK || !strings.Contains(bodies[i], "wile@acme.test") {
			t.Errorf("request %d to the sleeping tenant: %d %s", i, code, bodies[i])
		}
	}
	if n := countEvents(t, s, "acme", stamp.EventTenantWaking); n != 1 {
		t.Errorf("%d tenant.waking events for 20 requests, want 1", n)
	}
	if procs := tenantProcesses(t, s.data); len(procs) != 1 {
		t.Errorf("%d processes after the wake, want the one instance: %v", len(procs), procs)
	}
	if tn := s.tenant("acme"); tn.Status.Phase != stamp.PhaseReady || !tn.Status.SleptAt.IsZero() || !tn.Status.WakeAt.IsZero() {
		t.Errorf("after the wake: phase %s, slept at %v, wake at %v; want ready and both cleared", tn.Status.Phase, tn.Status.SleptAt, tn.Status.WakeAt)
	}
	token, err := os.ReadFile(filepath.Join(s.data, adminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	_, families := s.scrape(strings.TrimSpace(string(token)))
	if n, ok := sample(families, "stamp_router_wake_seconds", map[string]string{"outcome": "woke"}); n != 20 {
		t.Errorf("stamp_router_wake_seconds{outcome=woke} counts %v (present: %v), want the 20 requests that waited", n, ok)
	}
	waitAsleep(t, s, "acme")
}

// TestSleepingTenantSurvivesACrash kills the server while a tenant
// sleeps: the next server leaves it asleep (no process, no lease) and
// wakes it on the next request.
func TestSleepingTenantSurvivesACrash(t *testing.T) {
	s := sleepyServer(t)
	s.mustCLI("blueprint", "push", blueprintDir(t, idleSecond...))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger")
	waitAsleep(t, s, "acme")
	s.kill()
	s.start()
	// Give the new server's first resync and idle checks time to act.
	time.Sleep(500 * time.Millisecond)
	if tn := s.tenant("acme"); tn.Status.Phase != stamp.PhaseSleeping {
		t.Fatalf("after a restart the tenant is %s, want still sleeping", tn.Status.Phase)
	}
	if procs := tenantProcesses(t, s.data); len(procs) != 0 {
		t.Fatalf("processes after a restart of a sleeping tenant's server: %v", procs)
	}
	if code, body := s.do("GET", "acme", "/api/customers", ""); code != http.StatusOK {
		t.Fatalf("request after the restart: %d %s", code, body)
	}
}

// TestWakeThatFailsAnswers503 breaks a sleeping tenant's executable: the
// request that wakes it is answered 503 saying why, and an incident opens.
func TestWakeThatFailsAnswers503(t *testing.T) {
	s := sleepyServer(t, "--health-timeout", "3s")
	s.mustCLI("blueprint", "push", blueprintDir(t, idleSecond...))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger")
	waitAsleep(t, s, "acme")
	bins, err := filepath.Glob(filepath.Join(s.data, "local", "bundles", "*", "bin", "ledger"))
	if err != nil || len(bins) == 0 {
		t.Fatalf("the extracted ledger binary: %v %v", bins, err)
	}
	for _, bin := range bins {
		if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 3\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	code, body := s.do("GET", "acme", "/api/customers", "")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "failed to wake") {
		t.Fatalf("request to a tenant that cannot wake: %d %s; want 503 saying it failed to wake", code, body)
	}
	waitFor(t, "an incident for the tenant", 15*time.Second, func() bool {
		incs, err := s.client().Incidents(context.Background(), stamp.IncidentFilter{Tenant: "acme", Open: true})
		return err == nil && len(incs) > 0
	})
	if procs := tenantProcesses(t, s.data); len(procs) != 0 {
		t.Errorf("processes left by the failed wake: %v", procs)
	}
}

// TestReleaseMovesASleepingTenant releases 2.0.0 to a tenant asleep on
// 1.0.0: it counts as upgraded, sleeps again on 2.0.0 with its data
// migrated, and wakes on 2.0.0.
func TestReleaseMovesASleepingTenant(t *testing.T) {
	s := sleepyServer(t)
	s.mustCLI("blueprint", "push", blueprintDirOf(t, "../../examples/ledger-v1/stamp.yaml", ledgerRelease[1], idleSecond...))
	s.mustCLI("blueprint", "push", blueprintDirOf(t, "../../examples/ledger/stamp.yaml", ledgerRelease[2], idleSecond...))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger@1.0.0")
	addInvoice(t, s, "acme")
	waitAsleep(t, s, "acme")

	out := s.mustCLI("release", "create", "ledger@2.0.0", "--waves", "100%", "--soak", "0s", "--wait")
	rels, err := s.client().Releases(context.Background())
	if err != nil || len(rels) != 1 || len(rels[0].Status.Tenants) != 1 {
		t.Fatalf("releases: %v %v", rels, err)
	}
	if rt := rels[0].Status.Tenants[0]; rt.State != stamp.ReleaseTenantUpgraded {
		t.Errorf("the sleeping tenant in the release: %+v\n%s", rt, out)
	}
	tn := waitAsleep(t, s, "acme")
	if tn.Status.Version != "2.0.0" || tn.Status.MigratedVersion != "2.0.0" {
		t.Errorf("asleep after the release on version %s, migrated to %s; want 2.0.0", tn.Status.Version, tn.Status.MigratedVersion)
	}
	req := s.appRequest("GET", "acme", "/api/invoices", "", "", "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Ledger-Release") != "2" {
		t.Errorf("woken: %d from release %q; want 200 from release 2", resp.StatusCode, resp.Header.Get("Ledger-Release"))
	}
}

// TestIdleIsJudgedFromEveryRouter has two servers share a PostgreSQL
// store: the tenant is held by a, its traffic goes through b's router
// only, and it must not sleep while that traffic lasts; once it stops,
// the tenant sleeps.
func TestIdleIsJudgedFromEveryRouter(t *testing.T) {
	store := scratchDatabase(t)
	data := t.TempDir()
	flags := []string{"--store", store, "--idle-check", "200ms", "--drain", "100ms"}
	a := startStampServerIn(t, data, flags...)
	a.mustCLI("blueprint", "push", blueprintDir(t, "idle: 15m", "idle: 2s"))
	a.mustCLI("tenant", "create", "acme", "--blueprint", "ledger")
	b := startStampServerIn(t, data, flags...) // after the create: a holds acme

	for end := time.Now().Add(6 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		if code, body := b.do("GET", "acme", "/healthz", ""); code != http.StatusOK {
			t.Fatalf("request through b: %d %s", code, body)
		}
	}
	if n := countEvents(t, a, "acme", stamp.EventTenantAsleep); n != 0 {
		t.Fatalf("the tenant slept %d times while b's router served it every 250ms", n)
	}
	waitAsleep(t, a, "acme")
}

// TestWakeThroughTheCLI wakes a sleeping tenant by hand and waits until
// it serves; waking an awake tenant says so and changes nothing.
func TestWakeThroughTheCLI(t *testing.T) {
	s := sleepyServer(t)
	s.mustCLI("blueprint", "push", blueprintDir(t, "idle: 15m", "idle: 2s"))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger")
	waitAsleep(t, s, "acme")
	out := s.mustCLI("tenant", "wake", "acme")
	if !strings.Contains(out, "tenant acme: waking") || !strings.Contains(out, "ready: http://acme.localhost") {
		t.Errorf("stamp tenant wake:\n%s", out)
	}
	if tn := s.tenant("acme"); tn.Status.Phase != stamp.PhaseReady {
		t.Errorf("after the wake the tenant is %s, want ready", tn.Status.Phase)
	}
	if out := s.mustCLI("tenant", "wake", "acme"); !strings.Contains(out, "is not asleep (phase: ready)") {
		t.Errorf("waking an awake tenant:\n%s", out)
	}
	if _, errOut, code := s.cli("tenant", "wake", "nobody"); code == 0 || !strings.Contains(errOut, `"nobody"`) {
		t.Errorf("waking a tenant that does not exist: exit %d, %s", code, errOut)
	}
}
