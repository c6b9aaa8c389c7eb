package main

import (
	"context"
	"regexp"
	"testing"

	stamp "github.com/stamphq/stamp"
)

// TestHealthSaysWhereTheAppListens runs an app that ignores the port it
// is given and listens on one of its own: the failed health step, the
// output of create, the tenant's status and its incident name where it
// listens next to where it was expected to.
func TestHealthSaysWhereTheAppListens(t *testing.T) {
	dir := blueprintDir(t, "command: [bin/ledger, serve]",
		`command: [sh, -c, 'HOST=0.0.0.0 PORT=9999 exec "$STAMP_BUNDLE/bin/ledger" serve']`)
	s := startStampServer(t, "--health-timeout", "2s")
	s.mustCLI("blueprint", "push", dir)
	_, errOut, code := s.cli("tenant", "create", "acme", "--blueprint", "ledger", "--timeout", "60s")
	// Go listens on every address with one IPv6 socket that takes IPv4 too.
	listens := regexp.MustCompile(`expected web to listen on [0-9.]+:[0-9]+, but its processes listen on (0\.0\.0\.0|\[::\]):9999`)
	if code == 0 || !listens.MatchString(errOut) {
		t.Fatalf("create: exit %d, stderr:\n%s", code, errOut)
	}
	tn, err := s.client().GetTenant(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if !listens.MatchString(tn.Status.Message) {
		t.Errorf("status message %q lacks where the app listens", tn.Status.Message)
	}
	waitIncident(t, s, "acme", "an incident naming where the app listens", func(i *stamp.Incident) bool {
		return i.Cause == stamp.CauseStep && listens.MatchString(i.Message)
	})
}
