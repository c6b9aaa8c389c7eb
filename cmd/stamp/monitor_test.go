package main

import (
	"context"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/httpapi"
)

// waitIncident waits until tenant has an incident cond accepts, and
// returns it.
func waitIncident(t *testing.T, s *stampServer, tenant string, what string, cond func(*stamp.Incident) bool) *stamp.Incident {
	t.Helper()
	var found *stamp.Incident
	waitFor(t, what, 30*time.Second, func() bool {
		list, err := s.client().Incidents(context.Background(), stamp.IncidentFilter{Tenant: tenant})
		if err != nil {
			t.Fatal(err)
		}
		for _, inc := range list {
			if cond(inc) {
				found = inc
				return true
			}
		}
		return false
	})
	return found
}

// waitMonitorHealthy waits until the server's monitor has seen tenant
// healthy: an exit before that would not open an incident of its own.
func waitMonitorHealthy(t *testing.T, s *stampServer, tenant string) {
	t.Helper()
	waitFor(t, "the monitor to see "+tenant+" healthy", 30*time.Second, func() bool {
		h := s.tenant(tenant).Health
		return h != nil && h.State == stamp.HealthHealthy
	})
}

// TestKilledProcessOpensAndResolvesAnIncident kills a tenant's process
// with SIGKILL: an incident opens naming the exit, the driver restarts the
// process, and the incident resolves by itself.
func TestKilledProcessOpensAndResolvesAnIncident(t *testing.T) {
	s := startStampServer(t, "--incident-grace", "1s")
	s.mustCLI("blueprint", "push", blueprintDir(t))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger")
	procs := tenantProcesses(t, s.data)
	if len(procs) != 1 {
		t.Fatalf("processes: %v", procs)
	}
	waitMonitorHealthy(t, s, "acme")
	if err := syscall.Kill(procs[0].pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	inc := waitIncident(t, s, "acme", "an incident for the kill", func(i *stamp.Incident) bool {
		return i.Service == "web" && i.Cause == stamp.CauseExit
	})
	if !strings.Contains(inc.Message, "signal: killed") {
		t.Errorf("incident message %q lacks the exit status", inc.Message)
	}
	inc = waitIncident(t, s, "acme", "the incident to resolve by itself", func(i *stamp.Incident) bool {
		return i.ID == inc.ID && i.State == stamp.IncidentResolved
	})
	if inc.ResolvedBy != "monitor" || inc.ResolvedAt.Before(inc.OpenedAt) || len(inc.Timeline) < 2 {
		t.Errorf("resolved incident: %+v", inc)
	}
	events, err := s.client().Events(context.Background(), stamp.EventFilter{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range events {
		if e.Incident == inc.ID {
			types = append(types, e.Type)
		}
	}
	if strings.Join(types, " ") != "incident.opened incident.resolved" {
		t.Errorf("events of the incident: %v", types)
	}
	out := s.mustCLI("incident", "show", inc.ID)
	for _, want := range []string{"cause:", "exit", "resolved:", "by monitor", "timeline:"} {
		if !strings.Contains(out, want) {
			t.Errorf("incident show lacks %q:\n%s", want, out)
		}
	}
	if out := s.mustCLI("tenant", "get", "acme"); !strings.Contains(out, "healthy (web healthy)") {
		t.Errorf("tenant get after recovery lacks its health:\n%s", out)
	}
	if out := s.mustCLI("incident", "mttr"); !strings.Contains(out, "acme") {
		t.Errorf("mttr lacks acme:\n%s", out)
	}
}

// TestFailedCreateOpensAnIncident creates a tenant whose service exits at
// once: the create fails at health, and the incident it opens has the
// exit code and the last lines the service printed.
func TestFailedCreateOpensAnIncident(t *testing.T) {
	dir := blueprintDir(t, "command: [bin/ledger, serve]", `command: [sh, -c, "echo starting; echo 'config: DATABASE_URL is corrupt' >&2; exit 4"]`)
	s := startStampServer(t, "--health-timeout", "2s")
	s.mustCLI("blueprint", "push", dir)
	_, errOut, code := s.cli("tenant", "create", "acme", "--blueprint", "ledger", "--timeout", "90s")
	switch {
	case code == 0:
		t.Fatal("a tenant whose service exits at once was created")
	case !strings.Contains(errOut, "failed at step health"):
		t.Fatalf("create of a tenant whose service exits at once: exit %d\n%s\nserver log:\n%s", code, errOut, lastLines(s.log(), 40))
	}
	inc := waitIncident(t, s, "acme", "an incident for the failed tenant", func(i *stamp.Incident) bool { return i.State == stamp.IncidentOpen })
	if !strings.Contains(inc.Message, "exit status 4") || !strings.Contains(inc.LastLogs, "DATABASE_URL is corrupt") {
		t.Errorf("incident: message %q, last logs %q; want the exit code and the service's last lines", inc.Message, inc.LastLogs)
	}
}

// TestCrashLoopIsBackedOffAndStaysAnIncident has a ready tenant's service
// crash at once on every start after its first: the driver restarts it
// with a growing backoff (few starts) and the incident stays open with
// the exit code and the last lines the service printed. An operator
// acknowledges it. (A service that crashes from its first start fails
// the tenant at health, which stops it: it never loops; see
// TestFailedCreateOpensAnIncident.) The server's CPU during a crash loop
// is measured by bench/crashloop.
func TestCrashLoopIsBackedOffAndStaysAnIncident(t *testing.T) {
	crash := `command: [sh, -c, "if [ -e ${tenant.dir}/served ]; then echo starting; echo 'config: DATABASE_URL is corrupt' >&2; exit 4; fi; ` +
		`touch ${tenant.dir}/served; exec $STAMP_BUNDLE/bin/ledger serve"]`
	s := startStampServer(t, "--incident-grace", "1s")
	s.mustCLI("blueprint", "push", blueprintDir(t, "command: [bin/ledger, serve]", crash))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger")
	waitMonitorHealthy(t, s, "acme")
	procs := tenantProcesses(t, s.data)
	if len(procs) != 1 {
		t.Fatalf("processes: %v", procs)
	}
	if err := syscall.Kill(procs[0].pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the crash loop to start", 30*time.Second, func() bool { return countStarts(t, s) > 0 })
	inc := waitIncident(t, s, "acme", "the incident to show the crash", func(i *stamp.Incident) bool {
		return i.State == stamp.IncidentOpen && strings.Contains(i.Message, "exit status 4") && strings.Contains(i.LastLogs, "DATABASE_URL is corrupt")
	})
	if inc.Cause != stamp.CauseExit {
		t.Errorf("incident: cause %q, message %q; want the exit", inc.Cause, inc.Message)
	}

	// The window is the point: a backoff shows only as time passes.
	starts0 := countStarts(t, s)
	time.Sleep(10 * time.Second)
	starts1 := countStarts(t, s)
	// Backoff doubles from 100ms to 30s: some 5 starts in the loop's
	// first 10s, never the hundreds a tight loop would make. None would
	// mean it does not loop at all, and that this test proves nothing.
	switch n := starts1 - starts0; {
	case n > 8:
		t.Errorf("%d starts in 10s: the crash loop is not backed off", n)
	case n == 0:
		t.Errorf("no start in 10s: the service does not crash-loop")
	}
	t.Logf("crash loop: %d starts before the window, %d in its 10s", starts0, starts1-starts0)

	after, err := s.client().Incident(context.Background(), inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.State != stamp.IncidentOpen {
		t.Errorf("incident after 10s of crash loop: %s, want still open", after.State)
	}
	if out := s.mustCLI("incident", "ack", inc.ID); !strings.Contains(out, "acknowledged") {
		t.Errorf("ack: %s", out)
	}
	if out := s.mustCLI("incident", "list", "--open"); !strings.Contains(out, inc.ID) || !strings.Contains(out, "acknowledged") {
		t.Errorf("open incidents after ack:\n%s", out)
	}
}

// countStarts counts the "starting" lines the crash-looping service of
// acme printed.
func countStarts(t *testing.T, s *stampServer) int {
	t.Helper()
	out := s.mustCLI("tenant", "logs", "acme")
	return strings.Count(out, "starting\n")
}

// TestUnhealthyTenantDoesNotHoldTheQueue: with one worker, a tenant whose
// service never turns healthy waits out its health timeout aside, and a
// tenant created meanwhile becomes ready without waiting for it.
func TestUnhealthyTenantDoesNotHoldTheQueue(t *testing.T) {
	s := startStampServer(t, "--workers", "1", "--health-timeout", "10s")
	s.mustCLI("blueprint", "push", blueprintDir(t, "name: ledger", "name: broken", "http: /healthz", "http: /missing"))
	s.mustCLI("blueprint", "push", blueprintDir(t))
	c := s.client()
	if _, err := c.CreateTenant(context.Background(), httpapi.CreateTenantRequest{Name: "stuck", Blueprint: "broken"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "stuck to wait for its health", time.Minute, func() bool {
		events, err := c.Events(context.Background(), stamp.EventFilter{Tenant: "stuck"})
		if err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(events, func(e *stamp.Event) bool { return e.Step == stamp.StepStart && e.Status == stamp.StatusOK })
	})
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger", "--timeout", "1m")
	if stuck := s.tenant("stuck"); stuck.Status.Phase != stamp.PhaseProvisioning {
		t.Fatalf("stuck is %s when acme is ready: acme waited for stuck's health timeout", stuck.Status.Phase)
	}
	waitFor(t, "stuck to fail at health", time.Minute, func() bool { return s.tenant("stuck").Status.Phase == stamp.PhaseFailed })
	if stuck := s.tenant("stuck"); stuck.Status.FailedStep != stamp.StepHealth || !strings.Contains(stuck.Status.Message, "status 404") {
		t.Errorf("stuck failed at %s: %s; want health, status 404", stuck.Status.FailedStep, stuck.Status.Message)
	}
}

// TestExitIsSeenBeforeTheNextProbe: with probes a minute apart, a killed
// process still opens its incident at once, because the driver tells the
// monitor of the exit instead of waiting for the next probe to find it.
func TestExitIsSeenBeforeTheNextProbe(t *testing.T) {
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", blueprintDir(t, "interval: 1s", "interval: 1m"))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger")
	waitMonitorHealthy(t, s, "acme")
	procs := tenantProcesses(t, s.data)
	if len(procs) != 1 {
		t.Fatalf("processes: %v", procs)
	}
	killed := time.Now()
	if err := syscall.Kill(procs[0].pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	inc := waitIncident(t, s, "acme", "an incident for the kill", func(i *stamp.Incident) bool { return i.Cause == stamp.CauseExit })
	// The next probe is about a minute after the first: an incident in
	// well under that came from the exit itself.
	if took := inc.OpenedAt.Sub(killed); took > 20*time.Second {
		t.Errorf("the incident opened %s after the kill, with probes a minute apart", took.Round(time.Millisecond))
	}
}
