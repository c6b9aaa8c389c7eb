package main

import (
	"context"
	"fmt"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/httpapi"
)

// These tests need a real PostgreSQL: the README's test command starts a
// throwaway cluster and exports its superuser URL as STAMP_TEST_POSTGRES.

// testPostgres returns the superuser URL of the test cluster, or skips.
func testPostgres(t *testing.T) string {
	t.Helper()
	url := os.Getenv("STAMP_TEST_POSTGRES")
	if url == "" {
		t.Skip("STAMP_TEST_POSTGRES is not set: run ./scripts/test, or scripts/postgres start DIR and export the URL it prints")
	}
	return url
}

// scratchDatabase creates an empty database on the test cluster for one
// test and returns its URL; it is dropped when the test ends.
func scratchDatabase(t *testing.T) string {
	t.Helper()
	admin := testPostgres(t)
	name := fmt.Sprintf("stamp_test_%d", time.Now().UnixNano())
	exec1(t, admin, "CREATE DATABASE "+name)
	t.Cleanup(func() { exec1(t, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	return strings.Replace(admin, "/postgres?", "/"+name+"?", 1)
}

// exec1 runs one statement on the database at url.
func exec1(t *testing.T, url, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to test PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// count runs a counting query on the database at url.
func count(t *testing.T, url, sql string, args ...any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to test PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// seedRuns counts how often the counting seed hook of blueprintDir's
// edited blueprint ran for tenant.
func seedRuns(t *testing.T, data, tenant string) int {
	t.Helper()
	runs, err := os.ReadFile(filepath.Join(data, "local", "tenants", tenant, "data", "seed-runs"))
	if err != nil {
		t.Errorf("seed of %s: %v", tenant, err)
		return 0
	}
	return strings.Count(string(runs), "seeded")
}

// countingSeed is the blueprint edit that makes the seed hook count its runs.
var countingSeed = []string{`seed: [bin/ledger, seed,`, `seed: [sh, -c, 'echo seeded >> "$HOME/seed-runs" && exec "$STAMP_BUNDLE/$0" "$@"', bin/ledger, seed,`}

func TestTwoServersShareTheWorkAndTakeOver(t *testing.T) {
	store := scratchDatabase(t)
	data := t.TempDir()
	a := startStampServerIn(t, data, "--store", store)
	b := startStampServerIn(t, data, "--store", store)
	a.mustCLI("blueprint", "push", blueprintDir(t, countingSeed...))
	ctx := context.Background()
	clients := []*httpapi.Client{a.client(), b.client()}
	var names []string
	for i := range 20 {
		name := fmt.Sprintf("ha%d", i)
		names = append(names, name)
		if _, err := clients[i%2].CreateTenant(ctx, httpapi.CreateTenantRequest{Name: name, Blueprint: "ledger"}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "a few tenants to be ready", 60*time.Second, func() bool {
		ready := 0
		for _, name := range names {
			if tn, err := clients[1].GetTenant(ctx, name); err == nil && tn.Ready() {
				ready++
			}
		}
		return ready >= 3
	})
	a.kill()
	killed := time.Now()
	waitFor(t, "all 20 tenants ready after a was killed", 90*time.Second, func() bool {
		for _, name := range names {
			tn, err := clients[1].GetTenant(ctx, name)
			if err != nil || !tn.Ready() {
				return false
			}
		}
		return true
	})
	t.Logf("all 20 ready %s after the kill", time.Since(killed).Round(time.Millisecond))

	perTenant := map[string]int{}
	for _, p := range tenantProcesses(t, data) {
		perTenant[p.tenant]++
	}
	for _, name := range names {
		if perTenant[name] != 1 {
			t.Errorf("tenant %s has %d processes, want 1", name, perTenant[name])
		}
		if n := seedRuns(t, data, name); n != 1 {
			t.Errorf("seed of %s ran %d times, want 1", name, n)
		}
		if code, body := b.do("GET", name, "/api/invoices", ""); code != http.StatusOK {
			t.Errorf("GET invoices of %s through b: %d %s", name, code, body)
		}
	}
	// Kill an instance a owned: b, its owner now, restarts it.
	procs := tenantProcesses(t, data)
	syscallKill(t, procs[0].pid)
	waitFor(t, procs[0].tenant+" to serve again", 30*time.Second, func() bool {
		code, _ := b.do("GET", procs[0].tenant, "/healthz", "")
		return code == http.StatusOK
	})
}

func TestRouterServesWhileTheServerRestarts(t *testing.T) {
	store := scratchDatabase(t)
	s := startStampServer(t, "--store", store)
	s.mustCLI("blueprint", "push", blueprintDir(t))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger")
	s.mustCLI("tenant", "create", "globex", "--blueprint", "ledger")

	routerAddr := freePort(t)
	router := exec.Command(stampBin, "router", "--store", store, "--router-listen", routerAddr)
	router.Stdout, router.Stderr = os.Stderr, os.Stderr
	if err := router.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		router.Process.Kill()
		router.Wait()
	})
	front := &stampServer{t: t, router: routerAddr}
	waitFor(t, "the separate router to serve acme", 30*time.Second, func() bool {
		code, _ := front.tryDo("acme", "/healthz")
		return code == http.StatusOK
	})

	// A bounded stream of requests to both tenants through the separate
	// router, while the server is killed and started again.
	var sent, failed atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, tenant := range []string{"acme", "globex"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.Now().Add(60 * time.Second)
			for i := 0; i < 100000 && time.Now().Before(deadline); i++ {
				select {
				case <-stop:
					return
				default:
				}
				code, err := front.tryDo(tenant, "/api/invoices")
				sent.Add(1)
				if err != nil || code != http.StatusOK {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("%s: %d %v", tenant, code, err))
				}
			}
		}()
	}
	// more waits for n more requests: some before the kill, some while
	// the server is down (the point), some once it is back.
	more := func(what string, n int64) {
		target := sent.Load() + n
		waitFor(t, fmt.Sprintf("%d more requests %s", n, what), 30*time.Second, func() bool { return sent.Load() >= target })
	}
	more("before the kill", 50)
	s.kill()
	more("while the server is down", 100)
	s.start()
	s.mustCLI("tenant", "list")
	more("after the restart", 50)
	close(stop)
	wg.Wait()
	t.Logf("%d requests through the separate router, %d failed", sent.Load(), failed.Load())
	if failed.Load() != 0 {
		t.Errorf("%d of %d requests failed; first: %v", failed.Load(), sent.Load(), firstFailure.Load())
	}
	if sent.Load() < 100 {
		t.Errorf("only %d requests were sent", sent.Load())
	}
}

// tryDo is do without failing the test on a transport error.
func (s *stampServer) tryDo(tenant, path string) (int, error) {
	req, err := http.NewRequest("GET", "http://"+s.router+path, nil)
	if err != nil {
		return 0, err
	}
	req.Host = tenant + ".localhost"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil
}

func TestServerRefusesABadStore(t *testing.T) {
	u, err := neturl.Parse(testPostgres(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = neturl.UserPassword(u.User.Username(), "not-the-password")
	wrong := u.String()
	tests := []struct {
		name, store, want string
	}{
		{"wrong password", wrong, "password authentication failed"},
		{"nothing listening", "postgres://postgres:pw@127.0.0.1:1/postgres?sslmode=disable", "127.0.0.1:1"},
		{"not a store", "mysql://x", `want "sqlite", "sqlite:PATH" or a postgres:// URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(stampBin, "server", "--data", t.TempDir(), "--store", tt.store,
				"--listen", freePort(t), "--router-listen", freePort(t))
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("server started with store %q", tt.store)
			}
			msg := strings.TrimSpace(string(out))
			if !strings.Contains(msg, tt.want) {
				t.Errorf("output %q lacks %q", msg, tt.want)
			}
			if strings.Contains(msg, "not-the-password") {
				t.Errorf("output %q shows the password", msg)
			}
			if lines := strings.Count(msg, "\n") + 1; lines > 2 {
				t.Errorf("output has %d lines, want one clear line:\n%s", lines, msg)
			}
		})
	}
}

// tenantCluster starts a PostgreSQL cluster of the test's own for tenant
// databases, so the test can stop and restart it; it returns the cluster's
// directory and superuser URL.
func tenantCluster(t *testing.T) (dir, url string) {
	t.Helper()
	testPostgres(t) // the machine has PostgreSQL set up by the test script
	parent, err := os.MkdirTemp("", "stamp-tenant-pg-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(parent, 0o711) // the postgres user must reach the cluster
	dir = filepath.Join(parent, "pg")
	out, err := exec.Command("../../scripts/postgres", "start", dir).Output()
	if err != nil {
		t.Fatalf("start a tenant cluster: %v", err)
	}
	t.Cleanup(func() {
		exec.Command("../../scripts/postgres", "stop", dir).Run()
		os.RemoveAll(parent)
	})
	return dir, strings.TrimSpace(string(out))
}

// pgBlueprintDir is blueprintDir for the postgres variant of the app.
func pgBlueprintDir(t *testing.T, edits ...string) string {
	return blueprintDir(t, append([]string{"name: ledger", "name: ledger-pg", "main: { engine: sqlite }", "main: { engine: postgres }"}, edits...)...)
}

func TestPostgresEngineTenants(t *testing.T) {
	_, tenantPG := tenantCluster(t)
	s := startStampServer(t, "--tenant-postgres", tenantPG)
	s.mustCLI("blueprint", "push", pgBlueprintDir(t))
	// Tenant names are DNS labels, but some are SQL keywords.
	names := []string{"select", "user", "a-b"}
	for _, name := range names {
		s.mustCLI("tenant", "create", name, "--blueprint", "ledger-pg")
	}
	code, body := s.do("POST", "select", "/api/customers", `{"name":"Robert'); DROP TABLE customers;--","email":"bobby@tables.test"}`)
	if code != http.StatusCreated {
		t.Fatalf("POST customer to select: %d %s", code, body)
	}
	for tenant, want := range map[string]string{"select": "bobby@tables.test", "user": "[]"} {
		_, body := s.do("GET", tenant, "/api/customers", "")
		if !strings.Contains(body, want) {
			t.Errorf("customers of %s: %s, want %s in it", tenant, body, want)
		}
	}
	if n := count(t, tenantPG, `SELECT count(*) FROM pg_database WHERE datname LIKE 'stamp_%'`); n != 3 {
		t.Errorf("%d tenant databases, want 3", n)
	}
	for _, name := range names {
		s.mustCLI("tenant", "delete", name)
	}
	if n := count(t, tenantPG, `SELECT count(*) FROM pg_database WHERE datname LIKE 'stamp_%'`); n != 0 {
		t.Errorf("%d tenant databases left after delete, want 0", n)
	}
	if n := count(t, tenantPG, `SELECT count(*) FROM pg_roles WHERE rolname LIKE 'stamp_%'`); n != 0 {
		t.Errorf("%d tenant roles left after delete, want 0", n)
	}
}

func TestTenantPostgresDownDuringCreate(t *testing.T) {
	dir, tenantPG := tenantCluster(t)
	s := startStampServer(t, "--tenant-postgres", tenantPG)
	s.mustCLI("blueprint", "push", pgBlueprintDir(t))
	if err := exec.Command("../../scripts/postgres", "stop", dir).Run(); err != nil {
		t.Fatal(err)
	}
	c := s.client()
	ctx := context.Background()
	if _, err := c.CreateTenant(ctx, httpapi.CreateTenantRequest{Name: "acme", Blueprint: "ledger-pg"}); err != nil {
		t.Fatal(err)
	}
	var retry *stamp.Event
	waitFor(t, "a retry event", 30*time.Second, func() bool {
		events, _ := c.Events(ctx, stamp.EventFilter{Tenant: "acme"})
		for _, e := range events {
			if e.Type == stamp.EventRetry {
				retry = e
				return true
			}
		}
		return false
	})
	if retry.Step != stamp.StepDatabase {
		t.Errorf("retry at step %q, want %q: %s", retry.Step, stamp.StepDatabase, retry.Message)
	}
	// The event is for whoever reads the tenant: the driver's error, with
	// the database server's address, stays in the server log.
	if !strings.HasPrefix(retry.Message, "database: an internal error; the server log has it (pass ") || strings.Contains(retry.Message, "127.0.0.1") {
		t.Errorf("retry event message %q; want the stable sentence, no address", retry.Message)
	}
	if !strings.Contains(s.log(), "connect") {
		t.Errorf("the server log does not hold the connection error the event left out")
	}
	if tn, _ := c.GetTenant(ctx, "acme"); tn.Status.Phase != stamp.PhaseProvisioning {
		t.Errorf("phase %q while the database server is down, want provisioning", tn.Status.Phase)
	}
	if out, err := exec.Command("../../scripts/postgres", "resume", dir).CombinedOutput(); err != nil {
		t.Fatalf("restart the tenant cluster: %v\n%s", err, out)
	}
	waitFor(t, "acme ready once PostgreSQL is back", 90*time.Second, func() bool {
		tn, err := c.GetTenant(ctx, "acme")
		return err == nil && tn.Ready()
	})
	if n := count(t, tenantPG, `SELECT count(*) FROM pg_roles WHERE rolname LIKE 'stamp_%'`); n != 1 {
		t.Errorf("%d tenant roles, want 1", n)
	}
	if code, body := s.do("GET", "acme", "/api/invoices", ""); code != http.StatusOK {
		t.Errorf("GET invoices: %d %s", code, body)
	}
}

func TestServersWithDataDirsOfTheirOwnShareAStore(t *testing.T) {
	store := scratchDatabase(t)
	a := startStampServer(t, "--store", store)
	b := startStampServer(t, "--store", store) // another host, say: its own data dir and admin token
	a.mustCLI("blueprint", "push", blueprintDir(t))
	if out := b.mustCLI("blueprint", "list"); !strings.Contains(out, "ledger") {
		t.Errorf("b does not see what was pushed through a:\n%s", out)
	}
}
