package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/flow"
)

// TestFlowLive creates tenants and releases a version to them, then
// reads `stamp flow`: each create's lead time is the wall time of its
// create, measured here around the CLI, less what the CLI spends before
// the request and after the tenant serves; the steps it lists are the
// create's, and the release's upgrades are counted.
func TestFlowLive(t *testing.T) {
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", blueprintDirOf(t, "../../examples/ledger-v1/stamp.yaml", ledgerRelease[1]))
	wall := map[string]time.Duration{}
	for _, name := range []string{"acme", "globex"} {
		start := time.Now()
		s.mustCLI("tenant", "create", name, "--blueprint", "ledger")
		wall[name] = time.Since(start)
	}
	// CI built and tested the commit of 2.0.0 before it was pushed.
	committed := time.Now().Add(-3 * time.Minute).UTC().Truncate(time.Second)
	for i, stage := range []string{"build", "test"} {
		s.mustCLI("pipeline", "event", "--blueprint", "ledger", "--version", "2.0.0", "--commit", "9fceb02",
			"--stage", stage, "--started", committed.Add(time.Duration(i)*time.Minute).Format(time.RFC3339),
			"--finished", committed.Add(time.Duration(i+1)*time.Minute).Format(time.RFC3339))
	}
	s.mustCLI("blueprint", "push", blueprintDir(t))
	s.mustCLI("release", "create", "ledger@2.0.0", "--waves", "100%", "--soak", "0s", "--wait")

	// An upgrade ends once its old version is retired, after the drain.
	var all flow.Report
	waitFor(t, "both upgrades to end", time.Minute, func() bool {
		if err := json.Unmarshal([]byte(s.mustCLI("flow", "-o", "json")), &all); err != nil {
			t.Fatal(err)
		}
		return all.Upgrade.Completed == 2
	})
	if all.Create.Completed != 2 || all.Upgrade.InProgress != 0 || all.Upgrade.Bottleneck == "" {
		t.Errorf("creates %+v, upgrades %+v", all.Create, all.Upgrade)
	}
	checkDelivery(t, s, &all, committed)
	for name, measured := range wall {
		var one flow.Report
		if err := json.Unmarshal([]byte(s.mustCLI("flow", "--tenant", name, "-o", "json")), &one); err != nil {
			t.Fatal(err)
		}
		lead := one.Create.Lead.Total
		events, err := s.client().Events(context.Background(), stamp.EventFilter{Tenant: name})
		if err != nil {
			t.Fatal(err)
		}
		var created, ready time.Time
		for _, e := range events {
			switch {
			case e.Type == stamp.EventTenantCreated:
				created = e.Time
			case e.Type == stamp.EventTenantReady && ready.IsZero():
				ready = e.Time
			}
		}
		if want := ready.Sub(created); lead != want {
			t.Errorf("%s: lead %s, want %s, from tenant.created to tenant.ready", name, lead, want)
		}
		if lead <= 0 || lead > measured || measured-lead > 2*time.Second {
			t.Errorf("%s: lead %s against the create's measured wall time %s", name, lead, measured)
		}
		var steps []string
		for _, st := range one.Create.Steps {
			steps = append(steps, st.Name)
		}
		if got := strings.Join(steps, " "); got != "queued allocate secrets database migrate seed start health route" {
			t.Errorf("%s: create steps %q", name, got)
		}
	}
	out := s.mustCLI("flow", "--since", "1h")
	for _, want := range []string{"Creates: 2 completed, 0 in progress, 0 failed; lead time p50", "Upgrades: 2 completed", "bottleneck", "route",
		"Delivery (commit to fleet): 1 completed", "deploys per week"} {
		if !strings.Contains(out, want) {
			t.Errorf("stamp flow lacks %q:\n%s", want, out)
		}
	}
	svg := filepath.Join(t.TempDir(), "flow.svg")
	s.mustCLI("flow", "--svg", svg)
	if b, err := os.ReadFile(svg); err != nil || !strings.Contains(string(b), `data-step="migrate"`) || xml.Unmarshal(b, new(struct{})) != nil {
		t.Errorf("stamp flow --svg wrote %d bytes, %v", len(b), err)
	}
	if _, errOut, code := s.cli("flow", "--since", "yesterday"); code == 0 || !strings.Contains(errOut, `since "yesterday"`) {
		t.Errorf("a bad --since: exit %d, %s", code, errOut)
	}
}

// checkDelivery checks the delivery stream and the DORA figures of a
// report over a release of ledger 2.0.0 whose commit CI began building
// at committed: one change delivered, its stages then its release, its
// lead time up to the last tenant upgraded.
func checkDelivery(t *testing.T, s *stampServer, r *flow.Report, committed time.Time) {
	t.Helper()
	d := r.Delivery
	var steps []string
	for _, st := range d.Steps {
		steps = append(steps, st.Name)
	}
	if d.Completed != 1 || strings.Join(steps, " ") != "build test release" {
		t.Fatalf("delivery: %d completed, steps %q; want 1, build test release", d.Completed, steps)
	}
	releases, err := s.client().Releases(context.Background())
	if err != nil || len(releases) != 1 {
		t.Fatalf("releases %v, %v", releases, err)
	}
	rel := releases[0]
	var last time.Time
	for _, rt := range rel.Status.Tenants {
		if rt.FinishedAt.After(last) {
			last = rt.FinishedAt
		}
	}
	if want := last.Sub(committed); len(rel.Status.Tenants) != 2 || d.Lead.Total != want || r.DORA.LeadTime.Current != want {
		t.Errorf("delivery lead %s, DORA lead time %s; want %s, commit to the last of %d tenants upgraded", d.Lead.Total, r.DORA.LeadTime.Current, want, len(rel.Status.Tenants))
	}
	if st := d.Steps[1]; st.Work.Total != time.Minute || st.Wait.Total != 0 {
		t.Errorf("test stage %+v: want a minute's work, no wait", st)
	}
	if dora := r.DORA; dora.DeployFrequency.Count != 1 || dora.ChangeFailureRate.Count != 1 || dora.ChangeFailureRate.Current != 0 {
		t.Errorf("DORA %+v: want one deploy, no failure", dora)
	}
}
