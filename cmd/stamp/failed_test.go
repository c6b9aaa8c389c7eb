package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	stamp "github.com/stamphq/stamp"
)

// slowStop is a service that takes a second to stop after SIGTERM, as an
// app draining its work does: a delete's remove step then lasts longer
// than the reconciler's look at the event log.
const slowStop = `  worker:
    command: [sh, -c, "trap 'sleep 1; exit 0' TERM; while :; do sleep 0.1; done"]
hooks:`

// TestDeleteLogsNoWarning deletes a tenant whose remove step takes a
// while: the deletion must not cancel its own pass (a "context canceled"
// warning and a retry in the server's log), only a pass still stamping
// the tenant out.
func TestDeleteLogsNoWarning(t *testing.T) {
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", blueprintDir(t, "hooks:", slowStop))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger")
	s.mustCLI("tenant", "delete", "acme")
	log := s.log()
	for _, bad := range []string{"context canceled", `"level":"WARN"`, `"level":"ERROR"`} {
		if strings.Contains(log, bad) {
			t.Errorf("server log holds %s:\n%s", bad, grepLines(log, bad))
		}
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for line := range strings.Lines(s) {
		if strings.Contains(line, sub) {
			out = append(out, strings.TrimRight(line, "\n"))
		}
	}
	return strings.Join(out, "\n")
}

// TestDeleteResolvesOpenIncidents deletes a tenant whose service crash
// loops, with its incident open: the deletion resolves it, saying why,
// and mean time to recovery does not count it.
func TestDeleteResolvesOpenIncidents(t *testing.T) {
	dir := blueprintDir(t, "command: [bin/ledger, serve]",
		`command: [sh, -c, 'test -f "$HOME/broken" && { echo broken >&2; exit 3; }; exec "$STAMP_BUNDLE/bin/ledger" serve']`)
	s := startStampServer(t, "--incident-grace", "1s")
	s.mustCLI("blueprint", "push", dir)
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger")
	if err := os.WriteFile(filepath.Join(s.data, "local", "tenants", "acme", "data", "broken"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range tenantProcesses(t, s.data) {
		syscallKill(t, p.pid)
	}
	inc := waitIncident(t, s, "acme", "an incident for the crash loop", func(i *stamp.Incident) bool {
		return i.Service == "web" && i.State == stamp.IncidentOpen
	})
	s.mustCLI("tenant", "delete", "acme")
	got, err := s.client().Incident(context.Background(), inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != stamp.IncidentResolved || got.Resolution != stamp.ResolutionTenantDeleted || got.ResolvedAt.IsZero() {
		t.Errorf("incident after the delete: state %q, resolution %q, resolved at %v", got.State, got.Resolution, got.ResolvedAt)
	}
	if out := s.mustCLI("incident", "show", inc.ID); !strings.Contains(out, "(tenant deleted)") {
		t.Errorf("incident show lacks why it was resolved:\n%s", out)
	}
	if out := s.mustCLI("incident", "list", "--open"); strings.Contains(out, inc.ID) {
		t.Errorf("incident list --open still lists %s:\n%s", inc.ID, out)
	}
	// The listing says why it resolved, not what was seen at its start.
	if out := s.mustCLI("incident", "list", "-o", "wide"); !regexp.MustCompile(inc.ID + `\s.*\sresolved: tenant deleted\s*\n`).MatchString(out) {
		t.Errorf("incident list -o wide does not say why %s resolved:\n%s", inc.ID, out)
	}
	if out := s.mustCLI("incident", "mttr"); strings.Contains(out, "acme") {
		t.Errorf("mttr counts the incident of a deleted tenant as a recovery:\n%s", out)
	}
}

// TestFailedTenantIsStopped fails a tenant at its health step: nothing
// of it runs afterwards (its healthy worker included), across a restart
// of the server, and its status, `tenant get` and its route say so.
func TestFailedTenantIsStopped(t *testing.T) {
	dir := blueprintDir(t, "command: [bin/ledger, serve]", `command: [sleep, "600"]`,
		"hooks:", "  worker:\n    command: [sleep, \"600\"]\nhooks:")
	s := startStampServer(t, "--health-timeout", "2s")
	s.mustCLI("blueprint", "push", dir)
	_, errOut, code := s.cli("tenant", "create", "acme", "--blueprint", "ledger", "--timeout", "60s")
	if code == 0 || !strings.Contains(errOut, "failed at step health") || !strings.Contains(errOut, "its instances are stopped") {
		t.Fatalf("create: exit %d, stderr:\n%s", code, errOut)
	}
	if procs := tenantProcesses(t, s.data); len(procs) != 0 {
		t.Errorf("processes of the failed tenant: %v", procs)
	}
	if out := s.mustCLI("tenant", "get", "acme"); !strings.Contains(out, "its instances are stopped") {
		t.Errorf("tenant get does not say the instances are stopped:\n%s", out)
	}
	if code, body := s.do("GET", "acme", "/", ""); code != http.StatusServiceUnavailable || !strings.Contains(body, "failed") {
		t.Errorf("router for a failed tenant: %d %s, want 503 saying it failed", code, body)
	}
	s.kill()
	s.start()
	// Nothing to wait on: the check is that taking the tenant up (the
	// reconciler's and the monitor's first look) starts nothing.
	time.Sleep(time.Second)
	if procs := tenantProcesses(t, s.data); len(procs) != 0 {
		t.Errorf("processes of the failed tenant after a restart of the server: %v", procs)
	}
}
