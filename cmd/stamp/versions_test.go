package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stamphq/stamp"
)

// The tests of this file move tenants between versions the way an
// operator does: a version that adds a parameter, releases of versions
// older than some tenants run, single-tenant downgrades.

// pushLedgerAs pushes the ledger blueprint at path built as release rel,
// with edits (see blueprintDirOf) applied to its stamp.yaml.
func pushLedgerAs(t *testing.T, s *stampServer, path string, rel int, edits ...string) {
	t.Helper()
	s.mustCLI("blueprint", "push", blueprintDirOf(t, path, ledgerRelease[rel], edits...))
}

// tenantEnv returns the value of key in the environment of tenant's
// process of version, failing the test when there is no such process.
func tenantEnv(t *testing.T, s *stampServer, tenant, version, key string) string {
	t.Helper()
	for _, p := range tenantProcesses(t, s.data) {
		if p.tenant != tenant || !strings.HasSuffix(p.id, "@"+version) {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.pid), "environ"))
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte(key+"=")); ok {
				return string(v)
			}
		}
		return ""
	}
	t.Fatalf("no process of %s@%s runs", tenant, version)
	return ""
}

// TestNewParameterDefaultsApplyOnUpgrade is the regression test of a
// version that adds a parameter with a default: tenants created before
// it never set the parameter, and moving them to the version (by hand or
// by a release) failed at render with "no value for parameter". A value
// set for it survives a move back to a version without it and forth.
func TestNewParameterDefaultsApplyOnUpgrade(t *testing.T) {
	s := startStampServer(t, "--drain", "100ms")
	pushLedger(t, s, 1)
	pushLedgerAs(t, s, "../../examples/ledger/stamp.yaml", 2,
		"parameters:\n", "parameters:\n  greeting: { default: hello, pattern: \"^[a-z]+$\" }\n",
		"      TENANT: ${tenant.name}\n", "      TENANT: ${tenant.name}\n      GREETING: ${param.greeting}\n")
	createTenants(t, s, "1.0.0", "acme", "globex")

	s.mustCLI("tenant", "upgrade", "acme", "--to", "2.0.0")
	if got := tenantEnv(t, s, "acme", "2.0.0", "GREETING"); got != "hello" {
		t.Errorf("acme's GREETING after upgrading by hand: got %q, want the new default hello", got)
	}

	out := s.mustCLI("release", "create", "ledger@2.0.0", "--soak", "0s", "--wait")
	if tn := s.tenant("globex"); tn.Status.Version != "2.0.0" {
		t.Fatalf("globex serves %s after the release, want 2.0.0:\n%s", tn.Status.Version, out)
	}
	if got := tenantEnv(t, s, "globex", "2.0.0", "GREETING"); got != "hello" {
		t.Errorf("globex's GREETING after the release: got %q, want hello", got)
	}

	// Set on a create of 2.0.0, kept through 1.0.0, which lacks it.
	s.mustCLI("tenant", "create", "initech", "--blueprint", "ledger@2.0.0", "--param", "greeting=howdy")
	s.mustCLI("tenant", "upgrade", "initech", "--to", "1.0.0")
	if got := s.tenant("initech").Spec.Params["greeting"]; got != "howdy" {
		t.Errorf("initech's greeting on 1.0.0: got %q, want howdy kept for a move back", got)
	}
	s.mustCLI("tenant", "upgrade", "initech", "--to", "2.0.0")
	if got := tenantEnv(t, s, "initech", "2.0.0", "GREETING"); got != "howdy" {
		t.Errorf("initech's GREETING back on 2.0.0: got %q, want howdy", got)
	}
}

// TestReleasesNeverDowngrade is the regression test of a release of an
// older version than some tenants run: it moved them back. Now it skips
// them, saying why, unless --allow-downgrade; and a single-tenant move
// to an older version says it is a downgrade.
func TestReleasesNeverDowngrade(t *testing.T) {
	s := startStampServer(t, "--drain", "100ms")
	pushLedger(t, s, 1, 2)
	pushLedgerAs(t, s, "../../examples/ledger-v1/stamp.yaml", 1, "version: 1.0.0", "version: 1.1.0")
	createTenants(t, s, "1.0.0", "old", "new")
	if out := s.mustCLI("tenant", "upgrade", "new", "--to", "2.0.0"); !strings.Contains(out, "upgrading from 1.0.0 to 2.0.0") {
		t.Errorf("upgrade output:\n%s", out)
	}

	// 1.1.0 is newer than old's 1.0.0 and older than new's 2.0.0.
	out := s.mustCLI("release", "create", "ledger@1.1.0", "--soak", "0s", "--wait")
	const skipped = "it is on 2.0.0, newer than 1.1.0: a release moves no tenant back unless it allows downgrades (--allow-downgrade)"
	if !strings.Contains(out, skipped) {
		t.Errorf("release output does not say why new is skipped:\n%s", out)
	}
	if tn := s.tenant("new"); tn.Spec.Version != "2.0.0" || tn.Status.Version != "2.0.0" {
		t.Errorf("new after a release of 1.1.0: spec %s, serving %s; want 2.0.0", tn.Spec.Version, tn.Status.Version)
	}
	if tn := s.tenant("old"); tn.Status.Version != "1.1.0" {
		t.Errorf("old after a release of 1.1.0: serving %s, want 1.1.0", tn.Status.Version)
	}
	rels, err := s.client().Releases(context.Background())
	if err != nil || len(rels) != 1 {
		t.Fatalf("releases: %v, %v", rels, err)
	}
	if status := s.mustCLI("release", "status", rels[0].ID); !strings.Contains(status, skipped) {
		t.Errorf("release status does not say why new is skipped:\n%s", status)
	}

	// By hand, a move back is asked for, and called what it is.
	out = s.mustCLI("tenant", "upgrade", "new", "--to", "1.0.0")
	for _, want := range []string{"tenant new: downgrading from 2.0.0 to 1.0.0", "downgraded from 2.0.0 to 1.0.0"} {
		if !strings.Contains(out, want) {
			t.Errorf("downgrade output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "upgrad") {
		t.Errorf("downgrade output speaks of an upgrade:\n%s", out)
	}
	events := s.mustCLI("tenant", "events", "new")
	for _, want := range []string{"downgrading from 2.0.0 to 1.0.0", "downgraded from 2.0.0 to 1.0.0"} {
		if !strings.Contains(events, want) {
			t.Errorf("tenant events lack %q:\n%s", want, events)
		}
	}

	// A release of 1.0.0 leaves old on 1.1.0, unless asked.
	s.mustCLI("release", "create", "ledger@1.0.0", "--soak", "0s", "--wait")
	if tn := s.tenant("old"); tn.Status.Version != "1.1.0" {
		t.Errorf("old after a release of 1.0.0: serving %s, want 1.1.0", tn.Status.Version)
	}
	out = s.mustCLI("release", "create", "ledger@1.0.0", "--soak", "0s", "--wait", "--allow-downgrade")
	if !strings.Contains(out, "ledger@1.0.0 (downgrades allowed)") {
		t.Errorf("release output does not say it allows downgrades:\n%s", out)
	}
	if tn := s.tenant("old"); tn.Status.Version != "1.0.0" {
		t.Errorf("old after a release of 1.0.0 allowing downgrades: serving %s, want 1.0.0\n%s", tn.Status.Version, out)
	}
	evs, err := s.client().Events(context.Background(), stamp.EventFilter{Tenant: "old"})
	if err != nil {
		t.Fatal(err)
	}
	var saw bool
	for _, e := range evs {
		saw = saw || e.Type == stamp.EventReleaseTenant && e.Message == "upgrading: from 1.1.0, a downgrade"
	}
	if !saw {
		t.Errorf("no release event says old's move is a downgrade")
	}
}
