package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stamphq/stamp"
	pgengine "github.com/stamphq/stamp/engine/postgres"
	"github.com/stamphq/stamp/httpapi"
)

// readyPooled returns the names of the pool's ready stamps of version.
func readyPooled(t *testing.T, s *stampServer, version string) []string {
	t.Helper()
	pooled, err := s.client().ListPooled(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pooled {
		if p.Ready() && p.Spec.Version == version && p.Spec.Desired == stamp.DesiredRunning {
			names = append(names, p.Name)
		}
	}
	return names
}

// TestWarmPoolCreate: a plan with `pool: 2` keeps two stamps made ahead,
// listed apart from the tenants and reachable by no route. Two creates
// claim them: each tenant runs under its stamp's runtime, serves its own
// name, parameters, data and secrets, and shares none of them with the
// other. The ledger takes its tenant's environment by a bind, so the
// stamp's process serves on. The pool fills again, and a new version
// replaces it.
func TestWarmPoolCreate(t *testing.T) {
	s := startStampServer(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(lastLines(withoutRequests(s.log()), 60))
		}
	})
	pushLedgerAs(t, s, "../../examples/ledger/stamp.yaml", 2, "idle: 15m }", "idle: 15m, pool: 2 }")
	var pool []string
	waitFor(t, "two pooled stamps", time.Minute, func() bool {
		pool = readyPooled(t, s, "2.0.0")
		return len(pool) == 2
	})
	if out := s.mustCLI("tenant", "list", "--pooled"); !strings.Contains(out, pool[0]) || !strings.Contains(out, "ledger@2.0.0") {
		t.Errorf("tenant list --pooled does not show %s of ledger@2.0.0:\n%s", pool[0], out)
	}
	if tenants, err := s.client().ListTenants(context.Background()); err != nil || len(tenants) != 0 {
		t.Errorf("tenants while only the pool exists: %d, %v; want none", len(tenants), err)
	}
	if code, _ := s.do("GET", pool[0], "/", ""); code != 404 {
		t.Errorf("GET / of pooled stamp %s through the router: %d, want 404 (no route until claimed)", pool[0], code)
	}

	stampPIDs := pidsByRuntime(t, s)
	c := s.client()
	for name, currency := range map[string]string{"acme": "USD", "globex": "GBP"} {
		req := httpapi.CreateTenantRequest{Name: name, Blueprint: "ledger", Params: map[string]string{"currency": currency}}
		if _, err := c.CreateTenant(context.Background(), req); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	waitFor(t, "both tenants ready", time.Minute, func() bool { return s.tenant("acme").Ready() && s.tenant("globex").Ready() })
	acme, globex := s.tenant("acme"), s.tenant("globex")
	if out := s.mustCLI("events", "--tenant", "acme"); !strings.Contains(out, "claimed from the warm pool: "+acme.Status.Runtime) {
		t.Errorf("acme's events do not say which stamp it claimed:\n%s", out)
	}
	claimed := []string{acme.Status.Runtime, globex.Status.Runtime}
	if slices.Sort(claimed); !slices.Equal(claimed, pool) {
		t.Fatalf("runtimes of acme and globex: %v, want the pool's stamps %v", claimed, pool)
	}

	for name, currency := range map[string]string{"acme": "USD", "globex": "GBP"} {
		code, page := s.do("GET", name, "/", "")
		if code != 200 || !strings.Contains(page, name) || !strings.Contains(page, currency) {
			t.Errorf("GET / of %s: %d, want its name and its currency %s:\n%s", name, code, currency, page)
		}
	}
	if code, body := s.do("POST", "acme", "/api/customers", `{"name":"Wile E.","email":"wile@acme.test"}`); code != 201 {
		t.Fatalf("create a customer of acme: %d %s", code, body)
	}
	if _, body := s.do("GET", "globex", "/api/customers", ""); strings.Contains(body, "Wile") {
		t.Errorf("globex sees acme's customer: %s", body)
	}
	for _, tn := range []*stamp.Tenant{acme, globex} {
		secret := s.revealSecret(tn.Name, "session_key")
		if got := tenantEnv(t, s, tn.Status.Runtime, "2.0.0", "SESSION_KEY"); got != secret {
			t.Errorf("%s's process runs with SESSION_KEY %q, its secret is %q", tn.Name, got, secret)
		}
		// The page shows the name (above) though the process started as
		// the stamp's: it was bound, not restarted.
		if got, want := pidsByRuntime(t, s)[tn.Status.Runtime], stampPIDs[tn.Status.Runtime]; want == 0 || got != want {
			t.Errorf("%s's process: pid %d, want %d, the stamp's, bound to it", tn.Name, got, want)
		}
	}
	if s.revealSecret("acme", "session_key") == s.revealSecret("globex", "session_key") {
		t.Error("acme and globex have the same session key")
	}
	if a, g := tenantEnv(t, s, acme.Status.Runtime, "2.0.0", "DATABASE_URL"), tenantEnv(t, s, globex.Status.Runtime, "2.0.0", "DATABASE_URL"); a == g {
		t.Errorf("acme and globex share the database %s", a)
	}

	// A restarted server takes the claimed runtimes up again as their
	// tenants', never as leftovers of deleted stamps.
	s.kill()
	s.start()
	waitFor(t, "acme to serve its customer after a restart", time.Minute, func() bool {
		code, body := s.do("GET", "acme", "/api/customers", "")
		return code == 200 && strings.Contains(body, "Wile")
	})

	waitFor(t, "the pool to fill again", time.Minute, func() bool {
		pool = readyPooled(t, s, "2.0.0")
		return len(pool) == 2 && !slices.Contains(pool, acme.Status.Runtime) && !slices.Contains(pool, globex.Status.Runtime)
	})

	// A new version: its pool replaces the old one's stamps.
	pushLedgerAs(t, s, "../../examples/ledger/stamp.yaml", 2, "idle: 15m }", "idle: 15m, pool: 2 }", "version: 2.0.0", "version: 2.1.0")
	waitFor(t, "the pool of 2.1.0 to replace 2.0.0's", time.Minute, func() bool {
		pooled, err := s.client().ListPooled(context.Background())
		return err == nil && len(pooled) == 2 && len(readyPooled(t, s, "2.1.0")) == 2
	})

	// A claimed tenant upgrades in its runtime like any tenant.
	s.mustCLI("tenant", "upgrade", "globex", "--to", "2.1.0")
	waitFor(t, "globex on 2.1.0", time.Minute, func() bool {
		g := s.tenant("globex")
		return g.Ready() && g.Status.Version == "2.1.0"
	})
	if got := tenantEnv(t, s, globex.Status.Runtime, "2.1.0", "TENANT"); got != "globex" {
		t.Errorf("globex's 2.1.0 process runs as TENANT %q", got)
	}
	if _, body := s.do("GET", "globex", "/", ""); !strings.Contains(body, "GBP") {
		t.Errorf("globex after its upgrade lost its currency:\n%s", body)
	}

	runtimeDir := filepath.Join(s.data, "local", "tenants", acme.Status.Runtime)
	if _, err := os.Stat(runtimeDir); err != nil {
		t.Fatalf("the files of acme's runtime: %v", err)
	}
	s.mustCLI("tenant", "delete", "acme")
	for _, p := range tenantProcesses(t, s.data) {
		if p.tenant == acme.Status.Runtime {
			t.Errorf("process %d of deleted acme's runtime %s still runs", p.pid, p.tenant)
		}
	}
	if _, err := os.Stat(runtimeDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the files of deleted acme's runtime: %v, want none left", err)
	}
}

// TestWarmPoolTwoServersOnPostgres: two servers on one PostgreSQL store
// with tenant databases in PostgreSQL, a pool of two. Creates through
// both claim what the answering server holds and make the rest from
// nothing; every tenant keeps its own data. Killed, the server that
// claimed hands its tenants to the other, which takes their runtimes up
// (never removing them as leftovers); deleted, a claimed tenant takes
// its stamp's database and role with it.
func TestWarmPoolTwoServersOnPostgres(t *testing.T) {
	store := scratchDatabase(t)
	_, tenantPG := tenantCluster(t)
	data := t.TempDir()
	a := startStampServerIn(t, data, "--store", store, "--tenant-postgres", tenantPG)
	b := startStampServerIn(t, data, "--store", store, "--tenant-postgres", tenantPG)
	a.mustCLI("blueprint", "push", pgBlueprintDir(t, "idle: 15m }", "idle: 15m, pool: 2 }"))
	ctx := context.Background()
	waitFor(t, "two pooled stamps", time.Minute, func() bool {
		pooled, err := a.client().ListPooled(ctx)
		ready := 0
		for _, p := range pooled {
			if p.Ready() {
				ready++
			}
		}
		return err == nil && ready == 2
	})

	names := []string{"p0", "p1", "p2", "p3"}
	for i, name := range names {
		c := []*stampServer{a, b}[i%2].client()
		if _, err := c.CreateTenant(ctx, httpapi.CreateTenantRequest{Name: name, Blueprint: "ledger-pg"}); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	// Ready in the store is not yet routed by the other server, whose
	// router reads changes every poll: wait for b to route all four.
	routed := func(s *stampServer) bool {
		for _, name := range names {
			if code, _ := s.do("GET", name, "/healthz", ""); code != http.StatusOK {
				return false
			}
		}
		return true
	}
	waitFor(t, "four tenants routed by b", time.Minute, func() bool { return routed(b) })
	runtimes := map[string]string{}
	for _, name := range names {
		tn, err := b.client().GetTenant(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		runtimes[name] = tn.Status.Runtime
		body := fmt.Sprintf(`{"name":"%s","email":"%s@example.test"}`, name, name)
		if code, out := b.do("POST", name, "/api/customers", body); code != http.StatusCreated {
			t.Fatalf("create a customer of %s: %d %s", name, code, out)
		}
	}
	claimed := 0
	for _, rt := range runtimes {
		if rt != "" {
			claimed++
		}
	}
	if claimed == 0 {
		t.Fatalf("no create claimed a pooled stamp: runtimes %v", runtimes)
	}
	for name, rt := range runtimes {
		if db := pgengine.ObjectName(cmp.Or(rt, name), "main"); count(t, tenantPG, `SELECT count(*) FROM pg_database WHERE datname = $1`, db) != 1 {
			t.Errorf("%s (runtime %q) has no database %s", name, rt, db)
		}
	}

	a.kill()
	waitFor(t, "b to serve every tenant's own customer", 90*time.Second, func() bool {
		for _, name := range names {
			code, out := b.do("GET", name, "/api/customers", "")
			if code != http.StatusOK || strings.Count(out, "@example.test") != 1 || !strings.Contains(out, name+"@") {
				return false
			}
		}
		return true
	})

	for _, name := range names {
		b.mustCLI("tenant", "delete", name)
	}
	for name, rt := range runtimes {
		if rt == "" {
			continue
		}
		db := pgengine.ObjectName(rt, "main")
		if n := count(t, tenantPG, `SELECT count(*) FROM pg_database WHERE datname = $1`, db); n != 0 {
			t.Errorf("database %s of deleted %s (runtime %s) is left", db, name, rt)
		}
	}
}

// pidsByRuntime returns the pid of each runtime's process: a runtime of
// the ledger on a plan of one replica runs one.
func pidsByRuntime(t *testing.T, s *stampServer) map[string]int {
	t.Helper()
	pids := make(map[string]int)
	for _, p := range tenantProcesses(t, s.data) {
		pids[p.tenant] = p.pid
	}
	return pids
}
