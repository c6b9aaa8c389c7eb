// Package check judges a Stamp control plane after a crash: whether every
// release's and tenant's state agrees with the events recorded about it,
// whether the fleet came to rest, and whether the host holds anything of
// a tenant (a process, a port, a directory, a database, a cgroup, a
// network namespace or interface) that no tenant instance accounts for.
//
// The judging functions are pure: they take what was read (the store's
// tenants, releases and events through the API; the host as ReadHost
// found it) and return findings, so that table tests can feed them
// synthetic event streams and hosts.
package check

import (
	"fmt"
	"strings"

	"github.com/stamphq/stamp"
)

// Kinds of finding.
const (
	// KindInconsistent is a release or tenant whose state disagrees with
	// its events.
	KindInconsistent = "inconsistent"
	// KindUnsettled is a tenant or release still moving when the fleet
	// should be at rest, or at rest where its release says otherwise.
	KindUnsettled = "unsettled"
	// KindOrphan is something on the host no tenant instance accounts for.
	KindOrphan = "orphan"
	// KindRestart is a server that would not start again after a crash.
	KindRestart = "restart"
)

// Finding is one thing the checker found wrong.
type Finding struct {
	Kind    string // KindInconsistent, KindUnsettled, KindOrphan or KindRestart
	Subject string // what it is about: "tenant f-01", "release rel-1a2b", "process 1234"
	What    string // what disagrees, with the values seen
}

// String writes the finding on one line.
func (f Finding) String() string { return f.Kind + ": " + f.Subject + ": " + f.What }

// Count returns how many of findings are of kind.
func Count(findings []Finding, kind string) int {
	n := 0
	for _, f := range findings {
		if f.Kind == kind {
			n++
		}
	}
	return n
}

func finding(kind, subject, format string, args ...any) Finding {
	return Finding{Kind: kind, Subject: subject, What: fmt.Sprintf(format, args...)}
}

// byTenant groups the tenant.* events by tenant, oldest first.
func byTenant(events []*stamp.Event) map[string][]*stamp.Event {
	out := map[string][]*stamp.Event{}
	for _, e := range events {
		if strings.HasPrefix(e.Type, "tenant.") && e.Tenant != "" {
			out[e.Tenant] = append(out[e.Tenant], e)
		}
	}
	return out
}

// byRelease groups the release.* events by release, oldest first.
func byRelease(events []*stamp.Event) map[string][]*stamp.Event {
	out := map[string][]*stamp.Event{}
	for _, e := range events {
		if strings.HasPrefix(e.Type, "release.") && e.Release != "" {
			out[e.Release] = append(out[e.Release], e)
		}
	}
	return out
}

// describeEvent names an event in a finding.
func describeEvent(e *stamp.Event) string {
	s := fmt.Sprintf("%s (seq %d, generation %d", e.Type, e.Seq, e.Generation)
	if e.Message != "" {
		s += fmt.Sprintf(", %q", e.Message)
	}
	return s + ")"
}
