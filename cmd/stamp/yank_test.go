package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/httpapi"
)

// TestYankedVersion yanks versions through the CLI and the API: a yanked
// version takes no new tenant, upgrade or release (each refused, naming
// it and the way back), "the latest" passes over it, the tenants still on
// it are listed, and unyank takes it back.
func TestYankedVersion(t *testing.T) {
	s := startStampServer(t)
	pushLedger(t, s, 1, 2)
	// Pushed last, yet older than 2.0.0 and newer than 1.0.0.
	pushLedgerAs(t, s, "../../examples/ledger-v1/stamp.yaml", 1, "version: 1.0.0", "version: 1.10.0")
	createTenants(t, s, "1.0.0", "a")

	out := s.mustCLI("blueprint", "yank", "ledger@2.0.0", "--reason", "corrupts invoices")
	if !strings.Contains(out, "yanked ledger@2.0.0 (corrupts invoices)") || !strings.Contains(out, "0 tenant(s) still on it") {
		t.Errorf("yank output:\n%s", out)
	}
	if again := s.mustCLI("blueprint", "yank", "ledger@2.0.0"); !strings.Contains(again, "ledger@2.0.0 was yanked already") {
		t.Errorf("second yank output:\n%s", again)
	}

	// The latest not yanked is 1.10.0 (by semantic version, not by push).
	s.mustCLI("tenant", "create", "b", "--blueprint", "ledger")
	if v := s.tenant("b").Spec.Version; v != "1.10.0" {
		t.Errorf("b created without a version is on %s, want 1.10.0", v)
	}
	if show := s.mustCLI("blueprint", "show", "ledger"); !strings.HasPrefix(show, "# ledger@1.10.0 ") {
		t.Errorf("blueprint show ledger:\n%s", show)
	}

	const refused = "blueprint ledger@2.0.0 is yanked (corrupts invoices): it takes no new tenants, upgrades or releases; choose another version, or unyank it with `stamp blueprint unyank ledger@2.0.0`"
	for _, args := range [][]string{
		{"tenant", "create", "c", "--blueprint", "ledger@2.0.0"},
		{"tenant", "upgrade", "a", "--to", "2.0.0"},
		{"release", "create", "ledger@2.0.0"},
	} {
		if _, errOut, code := s.cli(args...); code == 0 || !strings.Contains(errOut, refused) {
			t.Errorf("stamp %s: exit %d, %s; want it refused as yanked", strings.Join(args, " "), code, errOut)
		}
	}
	c := s.client()
	ctx := context.Background()
	_, err := c.UpgradeTenant(ctx, "a", "2.0.0")
	if stamp.ErrorCode(err) != stamp.ECONFLICT {
		t.Errorf("API upgrade to a yanked version: %v, want a conflict", err)
	}
	_, err = c.CreateRelease(ctx, httpapi.CreateReleaseRequest{Blueprint: "ledger", Version: "2.0.0"})
	if stamp.ErrorCode(err) != stamp.ECONFLICT {
		t.Errorf("API release of a yanked version: %v, want a conflict", err)
	}
	if tn := s.tenant("a"); tn.Spec.Version != "1.0.0" {
		t.Errorf("a's spec names %s after refused moves, want 1.0.0", tn.Spec.Version)
	}
	if _, err := c.GetTenant(ctx, "c"); stamp.ErrorCode(err) != stamp.ENOTFOUND {
		t.Errorf("tenant c after a refused create: %v, want none", err)
	}

	list := s.mustCLI("blueprint", "list")
	if !regexp.MustCompile(`(?m)^ledger\s+2\.0\.0\s.*yanked .* ago\s*$`).MatchString(list) ||
		!regexp.MustCompile(`(?m)^ledger\s+1\.0\.0\s.*\s-\s*$`).MatchString(list) {
		t.Errorf("blueprint list does not flag 2.0.0 alone as yanked:\n%s", list)
	}
	if show := s.mustCLI("blueprint", "show", "ledger@2.0.0"); !strings.Contains(show, "# yanked ") || !strings.Contains(show, "(corrupts invoices)") {
		t.Errorf("blueprint show of the yanked version:\n%s", show)
	}

	// Yanking a version tenants run lists them; they run on.
	res, err := c.YankBundle(ctx, "ledger", "1.0.0", "")
	if err != nil || !res.Changed || !res.Bundle.Yanked || strings.Join(res.Tenants, ",") != "a" {
		t.Fatalf("API yank of 1.0.0: %+v, %v; want it yanked with tenant a on it", res, err)
	}
	if show := s.mustCLI("blueprint", "show", "ledger@1.0.0"); !strings.Contains(show, "# 1 tenant(s) on it: a") {
		t.Errorf("blueprint show of 1.0.0 does not list its tenant:\n%s", show)
	}
	if code, body := s.do("GET", "a", "/api/invoices", ""); code != 200 {
		t.Errorf("a after its version was yanked: %d %s; want it serving", code, body)
	}
	if list := s.mustCLI("tenant", "list"); !regexp.MustCompile(`(?m)^a\s+ledger@1\.0\.0 \(yanked\)\s`).MatchString(list) ||
		!regexp.MustCompile(`(?m)^b\s+ledger@1\.10\.0\s`).MatchString(list) {
		t.Errorf("tenant list does not flag a alone as on a yanked version:\n%s", list)
	}
	evs, err := c.Events(ctx, stamp.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var yanks []string
	for _, e := range evs {
		if e.Type == stamp.EventBlueprintYanked || e.Type == stamp.EventBlueprintUnyanked {
			yanks = append(yanks, e.Type+" "+e.Message)
		}
	}
	want := []string{
		"blueprint.yanked ledger@2.0.0 yanked: corrupts invoices; 0 tenant(s) still on it",
		"blueprint.yanked ledger@1.0.0 yanked; 1 tenant(s) still on it: a",
	}
	if strings.Join(yanks, "\n") != strings.Join(want, "\n") {
		t.Errorf("yank events:\ngot  %q\nwant %q", yanks, want)
	}

	// Every version yanked: no latest.
	s.mustCLI("blueprint", "yank", "ledger@1.10.0")
	if _, errOut, code := s.cli("tenant", "create", "d", "--blueprint", "ledger"); code == 0 ||
		!strings.Contains(errOut, "every version of blueprint ledger is yanked (1.0.0, 1.10.0, 2.0.0)") {
		t.Errorf("create with every version yanked: exit %d, %s", code, errOut)
	}

	out = s.mustCLI("blueprint", "unyank", "ledger@2.0.0")
	if !strings.Contains(out, "unyanked ledger@2.0.0") {
		t.Errorf("unyank output:\n%s", out)
	}
	s.mustCLI("tenant", "upgrade", "a", "--to", "2.0.0")
	if tn := s.tenant("a"); tn.Status.Version != "2.0.0" {
		t.Errorf("a after upgrading to the unyanked 2.0.0 serves %s", tn.Status.Version)
	}
}
