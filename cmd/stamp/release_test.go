package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/httpapi"
)

// The tests of this file upgrade tenants between real releases of the
// example app: ledger@1.0.0 (release 1), ledger@2.0.0 (release 2, which
// adds invoices.due_on with a backfill) and ledger@3.0.0 (release 3, which
// adds a payments table and then fails its health check on purpose).

// pushLedger pushes the ledger versions of the given releases.
func pushLedger(t *testing.T, s *stampServer, releases ...int) {
	t.Helper()
	paths := map[int]string{
		1: "../../examples/ledger-v1/stamp.yaml",
		2: "../../examples/ledger/stamp.yaml",
		3: "testdata/ledger-v3/stamp.yaml",
	}
	for _, rel := range releases {
		s.mustCLI("blueprint", "push", blueprintDirOf(t, paths[rel], ledgerRelease[rel]))
	}
}

// createTenants creates the named tenants of ledger@version at once and
// waits until every one is ready.
func createTenants(t *testing.T, s *stampServer, version string, names ...string) {
	t.Helper()
	c := s.client()
	for _, name := range names {
		if _, err := c.CreateTenant(context.Background(), httpapi.CreateTenantRequest{Name: name, Blueprint: "ledger", Version: version}); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	waitFor(t, fmt.Sprintf("%d tenants to be ready", len(names)), 2*time.Minute, func() bool {
		for _, name := range names {
			if tn := s.tenant(name); !tn.Ready() {
				return false
			}
		}
		return true
	})
}

// tenant reads tenant name through the API.
func (s *stampServer) tenant(name string) *stamp.Tenant {
	s.t.Helper()
	tn, err := s.client().GetTenant(context.Background(), name)
	if err != nil {
		s.t.Fatalf("get tenant %s: %v", name, err)
	}
	return tn
}

// addInvoice writes a customer and an invoice to tenant and returns the
// invoice's id.
func addInvoice(t *testing.T, s *stampServer, tenant string) int {
	t.Helper()
	code, body := s.do("POST", tenant, "/api/customers", `{"name":"Road Runner","email":"beep@`+tenant+`.test"}`)
	if code != http.StatusCreated {
		t.Fatalf("POST customer to %s: %d %s", tenant, code, body)
	}
	var customer struct{ ID int }
	json.Unmarshal([]byte(body), &customer)
	code, body = s.do("POST", tenant, "/api/invoices", fmt.Sprintf(`{"customer_id":%d,"amount_cents":4200}`, customer.ID))
	if code != http.StatusCreated {
		t.Fatalf("POST invoice to %s: %d %s", tenant, code, body)
	}
	var invoice struct{ ID int }
	json.Unmarshal([]byte(body), &invoice)
	return invoice.ID
}

// schema describes tenant's SQLite database: its tables, the columns of
// invoices and the migrations it recorded.
type schema struct {
	tables, invoiceColumns []string
	migrations             []int
	invoices               int
}

func readSchema(t *testing.T, s *stampServer, tenant string) schema {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.data, "databases", tenant, "main.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sc schema
	query := func(q string, each func(*sql.Rows) error) {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := each(rows); err != nil {
				t.Fatal(err)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	query(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`, func(r *sql.Rows) error {
		var n string
		err := r.Scan(&n)
		sc.tables = append(sc.tables, n)
		return err
	})
	query(`SELECT name FROM pragma_table_info('invoices') ORDER BY cid`, func(r *sql.Rows) error {
		var n string
		err := r.Scan(&n)
		sc.invoiceColumns = append(sc.invoiceColumns, n)
		return err
	})
	query(`SELECT version FROM schema_migrations ORDER BY version`, func(r *sql.Rows) error {
		var v int
		err := r.Scan(&v)
		sc.migrations = append(sc.migrations, v)
		return err
	})
	query(`SELECT count(*) FROM invoices`, func(r *sql.Rows) error { return r.Scan(&sc.invoices) })
	return sc
}

// traffic sends requests for tenant through the router until stopped or
// a bound is reached, and counts what came back.
type traffic struct {
	sent, failed atomic.Int64
	mu           sync.Mutex
	errors       []string
	releases     map[string]int // Ledger-Release header -> answers
	stop         context.CancelFunc
	done         chan struct{}
}

// startTraffic reads invoices and writes customers for tenant, one request
// at a time, at most 20,000 requests or 2 minutes.
func startTraffic(s *stampServer, tenant string) *traffic {
	ctx, stop := context.WithTimeout(context.Background(), 2*time.Minute)
	tr := &traffic{releases: map[string]int{}, stop: stop, done: make(chan struct{})}
	_, port, _ := net.SplitHostPort(s.router)
	client := &http.Client{Timeout: 10 * time.Second}
	go func() {
		defer close(tr.done)
		for i := 0; i < 20000 && ctx.Err() == nil; i++ {
			method, path, body := "GET", "/api/invoices", ""
			if i%4 == 0 {
				method, path, body = "POST", "/api/customers", fmt.Sprintf(`{"name":"Load %d","email":"load%d@%s.test"}`, i, i, tenant)
			}
			req, _ := http.NewRequest(method, "http://"+s.router+path, strings.NewReader(body))
			req.Host = tenant + ".localhost:" + port
			req.Header.Set("Accept", "application/json")
			tr.sent.Add(1)
			resp, err := client.Do(req)
			if err != nil {
				tr.fail(fmt.Sprintf("%s %s: %v", method, path, err))
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 300 {
				tr.fail(fmt.Sprintf("%s %s: %d %s", method, path, resp.StatusCode, b))
				continue
			}
			tr.mu.Lock()
			tr.releases[resp.Header.Get("Ledger-Release")]++
			tr.mu.Unlock()
		}
	}()
	return tr
}

func (tr *traffic) fail(msg string) {
	tr.failed.Add(1)
	tr.mu.Lock()
	if len(tr.errors) < 10 {
		tr.errors = append(tr.errors, msg)
	}
	tr.mu.Unlock()
}

func (tr *traffic) finish() {
	tr.stop()
	<-tr.done
}

// await waits until n more requests were answered (or failed), when: one
// is sent at a time, so n+1 more sent means n more done.
func (tr *traffic) await(t *testing.T, n int64, when string) {
	t.Helper()
	target := tr.sent.Load() + n + 1
	waitFor(t, fmt.Sprintf("%d more answers %s", n, when), 30*time.Second, func() bool { return tr.sent.Load() >= target })
}

// TestUpgradeUnderTraffic upgrades a tenant from 1.0.0 to 2.0.0 while
// requests flow through the router: none fails, the data written before
// is there after (with the new column backfilled), and the old version is
// gone. Going back to 1.0.0 then restores the pre-upgrade snapshot: the
// schema loses the new column again.
func TestUpgradeUnderTraffic(t *testing.T) {
	s := startStampServer(t, "--drain", "300ms")
	pushLedger(t, s, 1, 2)
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger@1.0.0")
	invoice := addInvoice(t, s, "acme")

	tr := startTraffic(s, "acme")
	tr.await(t, 10, "from 1.0.0 first")
	out := s.mustCLI("tenant", "upgrade", "acme", "--to", "2.0.0")
	tr.await(t, 10, "from 2.0.0 after")
	tr.finish()

	for _, step := range []string{"check", "secrets", "database", "snapshot", "migrate", "start", "health", "route", "retire"} {
		if !strings.Contains(out, "  "+step) {
			t.Errorf("upgrade output lacks step %s:\n%s", step, out)
		}
	}
	if !strings.Contains(out, "upgraded: from 1.0.0 to 2.0.0") {
		t.Errorf("upgrade output lacks the outcome:\n%s", out)
	}
	if n := tr.failed.Load(); n > 0 {
		t.Errorf("%d of %d requests failed during the upgrade: %q", n, tr.sent.Load(), tr.errors)
	}
	if tr.releases["1"] == 0 || tr.releases["2"] == 0 {
		t.Errorf("answers by release: %v; want both 1 and 2 to have answered", tr.releases)
	}
	t.Logf("%d requests during the upgrade, by release: %v", tr.sent.Load(), tr.releases)

	code, body := s.do("GET", "acme", "/api/invoices", "")
	var invoices []struct {
		ID    int    `json:"id"`
		DueOn string `json:"due_on"`
	}
	if err := json.Unmarshal([]byte(body), &invoices); code != http.StatusOK || err != nil {
		t.Fatalf("GET invoices after the upgrade: %d %s", code, body)
	}
	if i := slices.IndexFunc(invoices, func(v struct {
		ID    int    `json:"id"`
		DueOn string `json:"due_on"`
	}) bool {
		return v.ID == invoice
	}); i < 0 || invoices[i].DueOn == "" {
		t.Errorf("invoice %d written before the upgrade, after it: %+v; want it with due_on backfilled", invoice, invoices)
	}
	tn := s.tenant("acme")
	if tn.Status.Version != "2.0.0" || tn.Status.Upgrade == nil || tn.Status.Upgrade.Result != stamp.UpgradeSucceeded || !tn.Ready() {
		t.Errorf("tenant after the upgrade: version %q, upgrade %+v, phase %s", tn.Status.Version, tn.Status.Upgrade, tn.Status.Phase)
	}
	if got := s.mustCLI("tenant", "get", "acme"); !regexp.MustCompile(`upgrade:\s+1\.0\.0 -> 2\.0\.0, upgraded`).MatchString(got) ||
		!regexp.MustCompile(`serving:\s+2\.0\.0`).MatchString(got) {
		t.Errorf("tenant get after the upgrade:\n%s", got)
	}
	if procs := tenantProcesses(t, s.data); len(procs) != 1 || !strings.HasSuffix(procs[0].id, "@2.0.0") {
		t.Errorf("processes after the upgrade: %v, want web-0@2.0.0 alone", procs)
	}
	if sc := readSchema(t, s, "acme"); !slices.Contains(sc.invoiceColumns, "due_on") {
		t.Errorf("invoice columns after the upgrade: %v, want due_on", sc.invoiceColumns)
	}

	// Back to 1.0.0: the snapshot taken before the upgrade is restored.
	out = s.mustCLI("tenant", "upgrade", "acme", "--to", "1.0.0")
	if !strings.Contains(out, "  restore") || strings.Contains(out, "  migrate") {
		t.Errorf("going back should restore, not migrate:\n%s", out)
	}
	sc := readSchema(t, s, "acme")
	if slices.Contains(sc.invoiceColumns, "due_on") || !slices.Equal(sc.migrations, []int{1}) || sc.invoices != 1 {
		t.Errorf("database after going back: %+v; want release 1's schema and the one invoice from before", sc)
	}
	if code, body := s.do("GET", "acme", "/version", ""); code != http.StatusOK || !strings.Contains(body, `"release":1`) {
		t.Errorf("GET /version after going back: %d %s", code, body)
	}
}

// TestBrokenReleaseRollsBack releases the broken 3.0.0 over 20 tenants in
// waves 1, 25%, 100%: the first wave's tenant fails its health check after
// its migration, so the release stops there; that tenant is back on 2.0.0
// with its data and schema from before, and no other tenant was touched.
func TestBrokenReleaseRollsBack(t *testing.T) {
	s := startStampServer(t, "--health-timeout", "3s")
	pushLedger(t, s, 2, 3)
	var names []string
	for i := range 20 {
		names = append(names, fmt.Sprintf("t%02d", i))
	}
	createTenants(t, s, "2.0.0", names...)
	addInvoice(t, s, "t00")
	before := readSchema(t, s, "t00")
	generations := map[string]int64{}
	for _, n := range names {
		generations[n] = s.tenant(n).Generation
	}

	out, errOut, code := s.cli("release", "create", "ledger@3.0.0", "--waves", "1,25%,100%", "--soak", "0s", "--wait")
	if code != 1 {
		t.Fatalf("release of the broken version: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	rels, err := s.client().Releases(context.Background())
	if err != nil || len(rels) != 1 {
		t.Fatalf("releases: %v %v", rels, err)
	}
	rel := rels[0]
	if rel.Status.State != stamp.ReleaseFailed || !strings.Contains(rel.Status.Message, "wave 1") {
		t.Errorf("release: %s %q; want failed at wave 1", rel.Status.State, rel.Status.Message)
	}
	first := rel.Status.Tenants[0]
	if first.Name != "t00" || first.State != stamp.ReleaseTenantFailed || !strings.Contains(first.Message, "health") {
		t.Errorf("first wave's tenant in the release: %+v; want t00 failed at health", first)
	}
	for _, rt := range rel.Status.Tenants[1:] {
		if rt.State != stamp.ReleaseTenantSkipped || !strings.Contains(rt.Message, "stopped at wave 1") {
			t.Errorf("tenant %s in the release: %s %q; want skipped as the release stopped", rt.Name, rt.State, rt.Message)
		}
	}
	if !strings.Contains(out, "t00") || !strings.Contains(out, "failed") {
		t.Errorf("release output lacks the failed tenant:\n%s", out)
	}

	t00 := s.tenant("t00")
	u := t00.Status.Upgrade
	if t00.Spec.Version != "2.0.0" || t00.Status.Version != "2.0.0" || !t00.Ready() ||
		u == nil || u.Result != stamp.UpgradeRolledBack || u.FailedStep != stamp.StepHealth {
		t.Errorf("t00 after the rollback: spec %s, serving %s, phase %s, upgrade %+v", t00.Spec.Version, t00.Status.Version, t00.Status.Phase, u)
	}
	if after := readSchema(t, s, "t00"); !slices.Equal(after.tables, before.tables) || !slices.Equal(after.migrations, before.migrations) ||
		after.invoices != before.invoices || slices.Contains(after.tables, "payments") {
		t.Errorf("t00's database after the rollback: %+v; want it as before: %+v", after, before)
	}
	if code, body := s.do("GET", "t00", "/version", ""); code != http.StatusOK || !strings.Contains(body, `"release":2`) {
		t.Errorf("t00 after the rollback: GET /version %d %s", code, body)
	}
	for _, n := range names[1:] {
		tn := s.tenant(n)
		if tn.Generation != generations[n] || tn.Status.Upgrade != nil || tn.Status.Version != "2.0.0" {
			t.Errorf("tenant %s was touched: generation %d (was %d), upgrade %+v", n, tn.Generation, generations[n], tn.Status.Upgrade)
		}
	}
	events, err := s.client().Events(context.Background(), stamp.EventFilter{Tenant: "t00"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(events, func(e *stamp.Event) bool {
		return e.Type == stamp.EventTenantRolledBack && e.Step == stamp.StepHealth && strings.Contains(e.Message, "deliberately broken")
	}) {
		for _, e := range events {
			t.Logf("event %s %s %s %s", e.Type, e.Step, e.Status, e.Message)
		}
		t.Errorf("t00's events lack a rollback naming the health step and the cause")
	}
	if procs := tenantProcesses(t, s.data); len(procs) != 20 {
		t.Errorf("%d tenant processes after the rollback, want 20: %v", len(procs), procs)
	}
}

// withoutRequests drops the API's request lines from a server log.
func withoutRequests(log string) string {
	var keep []string
	for line := range strings.Lines(log) {
		if !strings.Contains(line, `"msg":"http request"`) {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "")
}

// TestReleaseGateFailsOnACrashDuringTheSoak: the canary passes its
// upgrade, then its new process is killed while the wave soaks. The
// monitor's incident fails the gate, so the canary goes back to the old
// version and the next wave never starts.
func TestReleaseGateFailsOnACrashDuringTheSoak(t *testing.T) {
	s := startStampServer(t)
	pushLedger(t, s, 1, 2)
	createTenants(t, s, "1.0.0", "t0", "t1")
	generation := s.tenant("t1").Generation

	s.mustCLI("release", "create", "ledger@2.0.0", "--waves", "1,100%", "--soak", "1m")
	var id string
	waitFor(t, "the canary to soak", time.Minute, func() bool {
		rels, err := s.client().Releases(context.Background())
		if err != nil || len(rels) != 1 {
			return false
		}
		id = rels[0].ID
		return !rels[0].Status.GateSince.IsZero()
	})
	var killed bool
	for _, p := range tenantProcesses(t, s.data) {
		if p.tenant == "t0" && strings.HasSuffix(p.id, "@2.0.0") {
			if err := syscall.Kill(p.pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	if !killed {
		t.Fatalf("no process of t0 at 2.0.0: %v", tenantProcesses(t, s.data))
	}
	var rel *stamp.Release
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(lastLines(withoutRequests(s.log()), 80))
			t.Log(s.mustCLI("incident", "list"))
			t.Log(s.mustCLI("events", "--tenant", "t0"))
		}
	})
	waitFor(t, "the release to fail and roll back", time.Minute, func() bool {
		var err error
		rel, err = s.client().Release(context.Background(), id)
		return err == nil && rel.Finished()
	})
	if rel.Status.State != stamp.ReleaseFailed || !strings.Contains(rel.Status.Message, "incident(s) on the wave's tenants since their upgrade: [t0: inc-") ||
		!strings.Contains(rel.Status.Message, "exit") {
		t.Errorf("release: %s %q; want failed on t0's incident", rel.Status.State, rel.Status.Message)
	}
	if t0 := s.tenant("t0"); t0.Spec.Version != "1.0.0" || t0.Status.Version != "1.0.0" {
		t.Errorf("t0 after the failed gate: spec %s, serving %s; want 1.0.0", t0.Spec.Version, t0.Status.Version)
	}
	if t1 := s.tenant("t1"); t1.Generation != generation || t1.Status.Version != "1.0.0" {
		t.Errorf("t1 was touched: generation %d (was %d), serving %s", t1.Generation, generation, t1.Status.Version)
	}
}

// TestReleaseSurvivesServerKill kills the server with SIGKILL in the
// middle of a release over 30 tenants; restarted, it finishes the release
// and every tenant ends on the new version, upgraded exactly once.
func TestReleaseSurvivesServerKill(t *testing.T) {
	s := startStampServer(t, "--drain", "200ms")
	pushLedger(t, s, 1, 2)
	var names []string
	for i := range 30 {
		names = append(names, fmt.Sprintf("k%02d", i))
	}
	createTenants(t, s, "1.0.0", names...)

	s.mustCLI("release", "create", "ledger@2.0.0", "--waves", "1,10%,100%", "--soak", "0s", "--max-parallel", "4")
	c := s.client()
	release := func() *stamp.Release {
		rels, err := c.Releases(context.Background())
		if err != nil || len(rels) != 1 {
			t.Fatalf("releases: %v %v", rels, err)
		}
		return rels[0]
	}
	waitFor(t, "the release to be under way in its last wave", time.Minute, func() bool {
		r := release()
		if r.Finished() {
			t.Fatalf("the release ended before the kill: %s", r.Status.State)
		}
		return r.Status.Wave == 2 && slices.ContainsFunc(r.Status.Tenants, func(rt stamp.ReleaseTenant) bool {
			return rt.State == stamp.ReleaseTenantUpgrading
		})
	})
	s.kill()
	s.start()
	waitFor(t, "the release to end", 3*time.Minute, func() bool { return release().Finished() })
	r := release()
	if r.Status.State != stamp.ReleaseSucceeded {
		t.Fatalf("release after the restart: %s %q", r.Status.State, r.Status.Message)
	}
	for _, rt := range r.Status.Tenants {
		if rt.State != stamp.ReleaseTenantUpgraded {
			t.Errorf("tenant %s in the release: %s %q", rt.Name, rt.State, rt.Message)
		}
	}
	// A tenant counts as upgraded once its route switched; its old version
	// may still be draining.
	waitFor(t, "every tenant to be ready", 30*time.Second, func() bool {
		for _, n := range names {
			if !s.tenant(n).Ready() {
				return false
			}
		}
		return true
	})
	upgraded := map[string]int{}
	for after := int64(0); ; {
		events, err := c.Events(context.Background(), stamp.EventFilter{AfterSeq: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) == 0 {
			break
		}
		for _, e := range events {
			if e.Type == stamp.EventTenantUpgraded {
				upgraded[e.Tenant]++
			}
			after = e.Seq
		}
	}
	for _, n := range names {
		tn := s.tenant(n)
		if tn.Spec.Version != "2.0.0" || tn.Status.Version != "2.0.0" || !tn.Ready() {
			t.Errorf("%s: spec %s, serving %s, phase %s", n, tn.Spec.Version, tn.Status.Version, tn.Status.Phase)
		}
		if upgraded[n] != 1 {
			t.Errorf("%s was upgraded %d times, want once", n, upgraded[n])
		}
	}
	procs := tenantProcesses(t, s.data)
	byTenant := map[string][]string{}
	for _, p := range procs {
		byTenant[p.tenant] = append(byTenant[p.tenant], p.id)
	}
	for _, n := range names {
		if ids := byTenant[n]; len(ids) != 1 || ids[0] != "web-0@2.0.0" {
			t.Errorf("%s runs %v, want web-0@2.0.0 alone", n, ids)
		}
	}
}

// TestReleaseSkipsPinnedAndReportsDownTenants checks that a release leaves
// a pinned tenant out and reports a tenant that is down before its upgrade
// instead of upgrading it blind, while the others are upgraded.
func TestReleaseSkipsPinnedAndReportsDownTenants(t *testing.T) {
	s := startStampServer(t)
	pushLedger(t, s, 1, 2)
	createTenants(t, s, "1.0.0", "pinned", "down", "up-a", "up-b")
	s.mustCLI("tenant", "pin", "pinned", "1.0.0")
	var stopped int
	for _, p := range tenantProcesses(t, s.data) {
		if p.tenant == "down" {
			stopped = p.pid
		}
	}
	// A stopped process answers nothing: down, yet not restarted.
	if err := syscall.Kill(stopped, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(stopped, syscall.SIGCONT) })

	out := s.mustCLI("release", "create", "ledger@2.0.0", "--waves", "100%", "--soak", "0s", "--wait")
	rels, err := s.client().Releases(context.Background())
	if err != nil || len(rels) != 1 {
		t.Fatalf("releases: %v %v", rels, err)
	}
	states := map[string]stamp.ReleaseTenant{}
	for _, rt := range rels[0].Status.Tenants {
		states[rt.Name] = rt
	}
	if rt := states["pinned"]; rt.State != stamp.ReleaseTenantSkipped || rt.Message != "pinned to version 1.0.0" {
		t.Errorf("pinned tenant in the release: %+v", rt)
	}
	if rt := states["down"]; rt.State != stamp.ReleaseTenantSkipped || !strings.Contains(rt.Message, "not healthy before the upgrade") {
		t.Errorf("down tenant in the release: %+v", rt)
	}
	for _, n := range []string{"up-a", "up-b"} {
		if rt := states[n]; rt.State != stamp.ReleaseTenantUpgraded {
			t.Errorf("%s in the release: %+v", n, rt)
		}
		if tn := s.tenant(n); tn.Status.Version != "2.0.0" {
			t.Errorf("%s serves %s, want 2.0.0", n, tn.Status.Version)
		}
	}
	for _, n := range []string{"pinned", "down"} {
		if tn := s.tenant(n); tn.Status.Version != "1.0.0" || tn.Spec.Version != "1.0.0" {
			t.Errorf("%s: spec %s, serving %s; want 1.0.0", n, tn.Spec.Version, tn.Status.Version)
		}
	}
	if !strings.Contains(out, "pinned to version 1.0.0") || !strings.Contains(out, "not healthy before the upgrade") {
		t.Errorf("release output lacks the reasons:\n%s", out)
	}
	if _, errOut, code := s.cli("tenant", "upgrade", "pinned", "--to", "2.0.0"); code == 0 || !strings.Contains(errOut, "pinned to version 1.0.0") {
		t.Errorf("upgrading a pinned tenant by hand: exit %d, %s", code, errOut)
	}
}

// TestUpgradeOnPostgres upgrades a tenant whose database is on PostgreSQL
// under traffic with no failed request, then releases the broken 3.0.0 to
// it: the snapshot (a copy of the database) is restored, so the payments
// table of 3.0.0's migration is gone and the rows are as before.
func TestUpgradeOnPostgres(t *testing.T) {
	_, tenantPG := tenantCluster(t)
	s := startStampServer(t, "--tenant-postgres", tenantPG, "--drain", "300ms", "--health-timeout", "3s")
	pg := []string{"name: ledger", "name: ledger-pg", "main: { engine: sqlite }", "main: { engine: postgres }"}
	s.mustCLI("blueprint", "push", blueprintDirOf(t, "../../examples/ledger-pg-v1/stamp.yaml", ledgerRelease[1]))
	s.mustCLI("blueprint", "push", blueprintDirOf(t, "../../examples/ledger-pg/stamp.yaml", ledgerRelease[2]))
	s.mustCLI("blueprint", "push", blueprintDirOf(t, "testdata/ledger-v3/stamp.yaml", ledgerRelease[3], pg...))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger-pg@1.0.0")
	addInvoice(t, s, "acme")
	db := strings.Replace(tenantPG, "/postgres?", "/stamp_acme_main?", 1)
	column := `SELECT count(*) FROM information_schema.columns WHERE table_name = 'invoices' AND column_name = 'due_on'`
	payments := `SELECT count(*) FROM information_schema.tables WHERE table_name = 'payments'`

	tr := startTraffic(s, "acme")
	tr.await(t, 10, "from 1.0.0 first")
	s.mustCLI("tenant", "upgrade", "acme", "--to", "2.0.0")
	tr.await(t, 10, "from 2.0.0 after")
	tr.finish()
	if n := tr.failed.Load(); n > 0 {
		t.Errorf("%d of %d requests failed during the upgrade: %q", n, tr.sent.Load(), tr.errors)
	}
	if count(t, db, column) != 1 {
		t.Fatalf("invoices.due_on missing after the upgrade to 2.0.0")
	}
	invoices := count(t, db, `SELECT count(*) FROM invoices`)

	out, errOut, code := s.cli("tenant", "upgrade", "acme", "--to", "3.0.0")
	if code != 1 || !strings.Contains(errOut, "failed at health") {
		t.Fatalf("upgrade to the broken 3.0.0: exit %d\n%s\n%s", code, out, errOut)
	}
	if n := count(t, db, payments); n != 0 {
		t.Errorf("the payments table of 3.0.0 survived the rollback")
	}
	if count(t, db, column) != 1 || count(t, db, `SELECT count(*) FROM invoices`) != invoices {
		t.Errorf("database after the rollback differs from before the upgrade")
	}
	waitFor(t, "acme to answer as 2.0.0 again", 30*time.Second, func() bool {
		code, body := s.do("GET", "acme", "/version", "")
		return code == http.StatusOK && strings.Contains(body, `"release":2`)
	})
	if tn := s.tenant("acme"); tn.Spec.Version != "2.0.0" || !tn.Ready() {
		t.Errorf("acme after the rollback: spec %s, phase %s", tn.Spec.Version, tn.Status.Phase)
	}
}
