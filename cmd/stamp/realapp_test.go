package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// stepEvents returns tenant's successful step events by step name, the
// last of each.
func stepEvents(t *testing.T, s *stampServer, tenant string) map[string]*stamp.Event {
	t.Helper()
	events, err := s.client().Events(context.Background(), stamp.EventFilter{Tenant: tenant, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*stamp.Event{}
	for _, e := range events {
		if e.Type == stamp.EventStep && e.Status == stamp.StatusOK {
			out[e.Step] = e
		}
	}
	return out
}

func hasEvent(t *testing.T, s *stampServer, tenant, typ string) bool {
	t.Helper()
	events, err := s.client().Events(context.Background(), stamp.EventFilter{Tenant: tenant, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(events, func(e *stamp.Event) bool { return e.Type == typ })
}

// TestRecreateUpgradeHoldsRequests upgrades a tenant whose new version's
// service chose upgrade: recreate while requests flow through the router:
// the old version stops before the new one starts (never two writers),
// and no request fails: the router holds them meanwhile.
func TestRecreateUpgradeHoldsRequests(t *testing.T) {
	s := startStampServer(t, "--drain", "200ms")
	s.mustCLI("blueprint", "push", blueprintDirOf(t, "../../examples/ledger-v1/stamp.yaml", ledgerRelease[1]))
	s.mustCLI("blueprint", "push", blueprintDirOf(t, "../../examples/ledger/stamp.yaml", ledgerRelease[2],
		"    public: true\n", "    public: true\n    upgrade: recreate\n"))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger@1.0.0")
	invoice := addInvoice(t, s, "acme")

	tr := startTraffic(s, "acme")
	tr.await(t, 10, "from 1.0.0 first")
	out := s.mustCLI("tenant", "upgrade", "acme", "--to", "2.0.0")
	tr.await(t, 10, "from 2.0.0 after")
	tr.finish()

	if n := tr.failed.Load(); n > 0 {
		t.Errorf("%d of %d requests failed during the recreate upgrade: %q", n, tr.sent.Load(), tr.errors)
	}
	if tr.releases["1"] == 0 || tr.releases["2"] == 0 {
		t.Errorf("answers by release: %v; want both 1 and 2 to have answered", tr.releases)
	}
	t.Logf("%d requests during the recreate upgrade, by release: %v", tr.sent.Load(), tr.releases)
	if !strings.Contains(out, "  stop") || !strings.Contains(out, "upgraded: from 1.0.0 to 2.0.0") {
		t.Errorf("upgrade output lacks the stop step or the outcome:\n%s", out)
	}
	steps := stepEvents(t, s, "acme")
	stop, start := steps[stamp.StepStop], steps[stamp.StepStart]
	if stop == nil || start == nil || start.StartedAt.Before(stop.FinishedAt) {
		t.Fatalf("stop %+v, start %+v: want the old version stopped before the new one started", stop, start)
	}
	if snap := steps[stamp.StepSnapshot]; snap == nil || snap.StartedAt.Before(stop.FinishedAt) {
		t.Errorf("snapshot %+v: want it taken after the old version stopped", snap)
	}
	if !hasEvent(t, s, "acme", stamp.EventTenantHolding) {
		t.Error("no tenant.holding event")
	}
	if procs := tenantProcesses(t, s.data); len(procs) != 1 || !strings.HasSuffix(procs[0].id, "@2.0.0") {
		t.Errorf("processes after the upgrade: %v, want web-0@2.0.0 alone", procs)
	}
	if sc := readSchema(t, s, "acme"); !slices.Contains(sc.invoiceColumns, "due_on") || sc.invoices < 1 {
		t.Errorf("database after the upgrade: %+v; want due_on and invoice %d", sc, invoice)
	}
	if tn := s.tenant("acme"); !tn.Ready() || tn.Status.Version != "2.0.0" || len(tn.Status.Endpoints) != 1 {
		t.Errorf("tenant after the upgrade: phase %s, version %s, endpoints %v", tn.Status.Phase, tn.Status.Version, tn.Status.Endpoints)
	}
}

// TestFailedRecreateUpgradeStartsTheOldVersionAgain upgrades with
// recreate to the broken release 3 (its health check fails after its
// migration): the old version, stopped for the upgrade, serves again on
// its restored database.
func TestFailedRecreateUpgradeStartsTheOldVersionAgain(t *testing.T) {
	s := startStampServer(t, "--drain", "200ms", "--health-timeout", "3s")
	s.mustCLI("blueprint", "push", blueprintDirOf(t, "../../examples/ledger/stamp.yaml", ledgerRelease[2]))
	s.mustCLI("blueprint", "push", blueprintDirOf(t, "testdata/ledger-v3/stamp.yaml", ledgerRelease[3],
		"    public: true\n", "    public: true\n    upgrade: recreate\n"))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger@2.0.0")
	addInvoice(t, s, "acme")
	before := readSchema(t, s, "acme")

	if _, errOut, code := s.cli("tenant", "upgrade", "acme", "--to", "3.0.0"); code == 0 {
		t.Fatalf("upgrade to the broken 3.0.0 succeeded:\n%s", errOut)
	}
	waitFor(t, "acme to serve 2.0.0 again", time.Minute, func() bool {
		tn := s.tenant("acme")
		return tn.Ready() && tn.Spec.Version == "2.0.0"
	})
	if code, body := s.do("GET", "acme", "/version", ""); code != 200 || !strings.Contains(body, `"release":2`) {
		t.Errorf("GET /version after the failed upgrade: %d %s", code, body)
	}
	if after := readSchema(t, s, "acme"); !slices.Equal(after.tables, before.tables) || after.invoices != before.invoices {
		t.Errorf("database after the failed upgrade: %+v, want it as before: %+v", after, before)
	}
	if procs := tenantProcesses(t, s.data); len(procs) != 1 || !strings.HasSuffix(procs[0].id, "@2.0.0") {
		t.Errorf("processes after the failed upgrade: %v, want web-0@2.0.0 alone", procs)
	}
}

// TestAddressesAndHookEnv creates a tenant whose blueprint passes its
// port itself (port_env: false), gives the service its public URL, and
// has a seed with an env of its own that runs once the service is
// healthy: the seed sees its env and the URL, the service does not see
// the seed's env, and a $$ is a literal $.
func TestAddressesAndHookEnv(t *testing.T) {
	s := startStampServer(t)
	dir := blueprintDir(t,
		"    public: true\n", "    public: true\n    port_env: false\n",
		"      TENANT: ${tenant.name}\n", "      TENANT: ${tenant.name}\n      PORT: ${port}\n      SITE_URL: ${tenant.url}\n",
		`  seed: [bin/ledger, seed, --admin, "${param.admin_email}", --currency, "${param.currency}"]`,
		`  seed:
    command: [/usr/bin/env]
    env: { ADMIN_PASSWORD: "pa$$word", SEED_URL: "${tenant.url}/admin" }
    after: healthy`)
	s.mustCLI("blueprint", "push", dir)
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger")

	_, port, _ := strings.Cut(s.router, ":")
	url := "http://acme.localhost:" + port
	seedOut, err := os.ReadFile(filepath.Join(s.data, "local", "tenants", "acme", "tasks", "seed-g1.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ADMIN_PASSWORD=pa$word", "SEED_URL=" + url + "/admin", "SITE_URL=" + url, "STAMP_HOOK=seed"} {
		if !strings.Contains(string(seedOut), want+"\n") {
			t.Errorf("seed environment lacks %s:\n%s", want, seedOut)
		}
	}
	procs := tenantProcesses(t, s.data)
	if len(procs) != 1 {
		t.Fatalf("processes: %v, want one", procs)
	}
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", procs[0].pid))
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Split(string(environ), "\x00")
	endpoint := s.tenant("acme").Status.Endpoints[0]
	_, instPort, _ := strings.Cut(endpoint, ":")
	if !slices.Contains(env, "SITE_URL="+url) || !slices.Contains(env, "PORT="+instPort) ||
		slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "ADMIN_PASSWORD=") }) {
		t.Errorf("service environment: want SITE_URL=%s and PORT=%s, no ADMIN_PASSWORD:\n%s", url, instPort, strings.Join(env, "\n"))
	}
	steps := stepEvents(t, s, "acme")
	if seed, health := steps[stamp.StepSeed], steps[stamp.StepHealth]; seed == nil || health == nil || seed.StartedAt.Before(health.FinishedAt) {
		t.Errorf("seed %+v, health %+v: want the seed to start once the service was healthy", seed, health)
	}
	if code, body := s.do("GET", "acme", "/api/invoices", ""); code != 200 {
		t.Errorf("GET /api/invoices: %d %s", code, body)
	}
}

// TestRequirements pushes a blueprint that requires a command the host
// lacks and one too old: push warns, server --check says what is missing
// and why, create is refused with the same message; once the host
// provides them, create succeeds.
func TestRequirements(t *testing.T) {
	tools := t.TempDir()
	passable(t, tools)
	if err := os.Chmod(tools, 0o755); err != nil {
		t.Fatal(err)
	}
	tool := func(name, script string) {
		if err := os.WriteFile(filepath.Join(tools, name), []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tool("stamp-test-convert", `echo "convert version 1.9.4"`)
	t.Setenv("PATH", tools+":"+os.Getenv("PATH"))
	s := startStampServer(t)
	dir := blueprintDir(t, "services:\n", "requires: [\"stamp-test-convert >= 1.10\", stamp-test-pdf]\nservices:\n")

	_, errOut, code := s.cli("blueprint", "push", dir)
	convert := filepath.Join(tools, "stamp-test-convert")
	tooOld := "stamp-test-convert >= 1.10: " + convert + " is version 1.9.4 (the first x.y[.z] in the output of `" + convert + " --version`: \"convert version 1.9.4\"), older than 1.10"
	notFound := "stamp-test-pdf: not found in the PATH tenants get ("
	if code != 0 || !strings.Contains(errOut, "warning: this host does not provide what ledger@2.0.0 requires: "+tooOld) || !strings.Contains(errOut, notFound) {
		t.Errorf("push: exit %d, stderr:\n%s\nwant exit 0 and a warning naming both requirements", code, errOut)
	}

	check, errOut, code := s.cli("server", "--check", "--tenant-uids", s.uids)
	if code != 0 || !strings.Contains(check, "requires: "+tooOld+" (ledger@2.0.0)") || !strings.Contains(check, "requires: "+notFound) ||
		!strings.Contains(check, "path: tenants get PATH="+tools+":") {
		t.Errorf("server --check: exit %d:\n%s%s", code, check, errOut)
	}

	_, errOut, code = s.cli("tenant", "create", "acme", "--blueprint", "ledger")
	if code == 0 || !strings.Contains(errOut, tooOld) || !strings.Contains(errOut, notFound) {
		t.Errorf("create: exit %d, stderr:\n%s\nwant it refused naming both requirements", code, errOut)
	}
	if _, err := s.client().GetTenant(context.Background(), "acme"); stamp.ErrorCode(err) != stamp.ENOTFOUND {
		t.Errorf("refused tenant: got %v, want it not created", err)
	}
	_, errOut, code = s.cli("release", "create", "ledger@2.0.0")
	if code == 0 || !strings.Contains(errOut, tooOld) {
		t.Errorf("release: exit %d, stderr:\n%s\nwant it refused naming what is missing", code, errOut)
	}

	tool("stamp-test-convert", `echo "convert version 1.10.0"`)
	tool("stamp-test-pdf", `echo pdf`)
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger")
	check = s.mustCLI("server", "--check", "--tenant-uids", s.uids)
	if !strings.Contains(check, "requires: stamp-test-convert >= 1.10: ok, "+convert+" 1.10.0 (ledger@2.0.0)") {
		t.Errorf("server --check once installed:\n%s", check)
	}
}

// TestBuildStep pushes a blueprint whose build fails, then one whose
// build works: the failure names the step and shows the end of its
// output; the success keeps its output in .stamp/build.log and its time
// in a blueprint.built event, and a second push does not build again.
func TestBuildStep(t *testing.T) {
	s := startStampServer(t)
	dir := blueprintDir(t, "services:\n", "build: [sh, -c, \"seq 1 50; echo compile error >&2; exit 3\"]\nservices:\n")
	_, errOut, code := s.cli("blueprint", "push", dir)
	if code != 1 || !strings.Contains(errOut, "build step of ledger@2.0.0 failed after") ||
		!strings.Contains(errOut, "exit status 3") || !strings.Contains(errOut, "50\ncompile error\n") || strings.Contains(errOut, "last lines of its output (all of it is in "+filepath.Join(dir, ".stamp", "build.log")+"):\n1\n") {
		t.Errorf("failed build: exit %d, stderr:\n%s", code, errOut)
	}
	if _, err := s.client().GetBundle(context.Background(), "ledger", "2.0.0"); stamp.ErrorCode(err) != stamp.ENOTFOUND {
		t.Errorf("a failed build pushed: %v", err)
	}

	dir = blueprintDir(t, "services:\n", "build: [sh, -c, \"echo building; sleep 0.2; echo >> built-count\"]\nservices:\n")
	_, errOut, _ = s.cli("blueprint", "push", dir)
	if !strings.Contains(errOut, "built ledger@2.0.0 in ") {
		t.Errorf("push stderr:\n%s", errOut)
	}
	if log, err := os.ReadFile(filepath.Join(dir, ".stamp", "build.log")); err != nil || string(log) != "building\n" {
		t.Errorf("build log: %q, %v", log, err)
	}
	events, err := s.client().Events(context.Background(), stamp.EventFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(events, func(e *stamp.Event) bool { return e.Type == stamp.EventBlueprintBuilt })
	if i < 0 || events[i].FinishedAt.Sub(events[i].StartedAt) < 200*time.Millisecond || !strings.HasPrefix(events[i].Message, "ledger@2.0.0 built in ") {
		t.Errorf("blueprint.built event: %+v", events)
	}
	out := s.mustCLI("blueprint", "push", dir)
	if !strings.Contains(out, "is already pushed") {
		t.Errorf("second push:\n%s", out)
	}
	if count, _ := os.ReadFile(filepath.Join(dir, "built-count")); string(count) != "\n" {
		t.Errorf("the build ran %d times, want once", strings.Count(string(count), "\n"))
	}

	// A changed stamp.yaml under the same version is refused, not
	// skipped along with the build.
	y, err := os.ReadFile(filepath.Join(dir, "stamp.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "stamp.yaml"), append(y, "# changed\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = s.cli("blueprint", "push", dir)
	if code == 0 || !strings.Contains(errOut, "already pushed") || !strings.Contains(errOut, "as a new version") {
		t.Errorf("push of a changed stamp.yaml: exit %d, stderr:\n%s\nwant it refused", code, errOut)
	}
}

// TestBuildStepTimeout pushes a blueprint whose build hangs with a
// grandchild holding its output open: past --build-timeout the push fails
// promptly, naming the command and the deadline, and the grandchild is
// killed with the build's process group.
func TestBuildStepTimeout(t *testing.T) {
	s := startStampServer(t)
	dir := blueprintDir(t, "services:\n", "build: [sh, -c, \"sleep 30 & echo $! > grandchild.pid; echo started; wait\"]\nservices:\n")
	start := time.Now()
	_, errOut, code := s.cli("blueprint", "push", dir, "--build-timeout", "1s")
	took := time.Since(start)
	if code != 1 || took > 15*time.Second ||
		!strings.Contains(errOut, "build step of ledger@2.0.0 did not finish within 1s (--build-timeout)") ||
		!strings.Contains(errOut, "sh -c sleep 30 &") || !strings.Contains(errOut, "started") {
		t.Errorf("hung build: exit %d after %s, stderr:\n%s", code, took, errOut)
	}
	pid, err := os.ReadFile(filepath.Join(dir, "grandchild.pid"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the build's grandchild to be killed", 5*time.Second, func() bool {
		stat, err := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/stat")
		return err != nil || isZombie(stat)
	})
	if _, err := s.client().GetBundle(context.Background(), "ledger", "2.0.0"); stamp.ErrorCode(err) != stamp.ENOTFOUND {
		t.Errorf("a timed-out build pushed: %v", err)
	}
	if _, errOut, code := s.cli("blueprint", "push", dir, "--build-timeout", "0s"); code == 0 || !strings.Contains(errOut, "--build-timeout must be positive") {
		t.Errorf("push --build-timeout 0s: exit %d, stderr:\n%s", code, errOut)
	}
}
