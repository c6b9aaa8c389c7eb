package main

import (
	"strings"
	"testing"
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
