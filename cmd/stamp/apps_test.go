package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stamphq/stamp/engine/postgres"
)

// These tests run two real open-source apps nobody here wrote, from the
// blueprints under examples/ with no shell wrapper: Miniflux (Go,
// PostgreSQL), built at push from the Go module proxy, and Radicale
// (Python, a data directory), Debian's package. scripts/apps installs
// both; each test skips, saying so, where its app cannot be had.

// TestMinifluxTenants creates two Miniflux tenants, each with a database,
// a role and an admin of its own, shows that each sees only its own data
// through the router, upgrades one from Miniflux 2.3.3 to 2.3.5 (three
// real migrations) under a stream of requests with none failed, and
// deletes both, leaving nothing behind.
func TestMinifluxTenants(t *testing.T) {
	requireSlow(t)
	old, cur := exampleCopy(t, "miniflux-2.3.3"), exampleCopy(t, "miniflux")
	requireGoModules(t, old)
	requireGoModules(t, cur)
	_, tenantPG := tenantCluster(t)
	s := startStampServer(t, "--tenant-postgres", tenantPG, "--drain", "300ms")
	for dir, ref := range map[string]string{old: "miniflux@2.3.3", cur: "miniflux@2.3.5"} {
		if out := s.mustCLI("blueprint", "push", dir); !strings.Contains(out, "pushed "+ref) {
			t.Fatalf("push of %s: %s", ref, out)
		}
	}
	tenants := []string{"acme", "globex"}
	password := map[string]string{}
	for _, name := range tenants {
		s.mustCLI("tenant", "create", name, "--blueprint", "miniflux@2.3.3")
		password[name] = s.revealSecret(name, "admin_password")
	}

	// Miniflux is configured by its environment, as its docs say, and
	// listens where Stamp said: not on 0.0.0.0:$PORT.
	env, _ := instanceProc(t, s, "acme")
	tn := s.tenant("acme")
	if _, ok := env["PORT"]; ok || env["LISTEN_ADDR"] != tn.Status.Endpoints[0] || env["BASE_URL"] != tn.Status.URL {
		t.Errorf("acme's environment: PORT %q, LISTEN_ADDR %q, BASE_URL %q; want no PORT, %s and %s",
			env["PORT"], env["LISTEN_ADDR"], env["BASE_URL"], tn.Status.Endpoints[0], tn.Status.URL)
	}
	if v, ok := env["ADMIN_PASSWORD"]; ok {
		t.Errorf("the running service holds the seed's ADMIN_PASSWORD %q", v)
	}

	// Each tenant sees its own data only, and its own users only.
	categories := func(tenant string) string {
		code, body := s.send(s.appRequest("GET", tenant, "/v1/categories", "", "admin", password[tenant]))
		if code != http.StatusOK {
			t.Fatalf("GET categories of %s: %d %s", tenant, code, body)
		}
		return body
	}
	for _, name := range tenants {
		code, body := s.send(s.appRequest("POST", name, "/v1/categories", `{"title":"News of `+name+`"}`, "admin", password[name]))
		if code != http.StatusCreated {
			t.Fatalf("POST category to %s: %d %s", name, code, body)
		}
	}
	for _, pair := range [][2]string{{"acme", "globex"}, {"globex", "acme"}} {
		own, other := pair[0], pair[1]
		if body := categories(own); !strings.Contains(body, "News of "+own) || strings.Contains(body, "News of "+other) {
			t.Errorf("categories of %s: %s; want its own and not %s's", own, body, other)
		}
		if code, _ := s.send(s.appRequest("GET", other, "/v1/me", "", "admin", password[own])); code != http.StatusUnauthorized {
			t.Errorf("%s's admin password on %s: %d, want 401", own, other, code)
		}
	}

	// Upgrade acme to 2.3.5 under a stream of reads and writes.
	version := func(b []byte) string {
		var v struct{ Version string }
		json.Unmarshal(b, &v)
		return v.Version
	}
	tr := startRequests(func(i int) *http.Request {
		if i%4 == 3 {
			return s.appRequest("POST", "acme", "/v1/categories", fmt.Sprintf(`{"title":"Load %d"}`, i), "admin", password["acme"])
		}
		return s.appRequest("GET", "acme", "/v1/version", "", "admin", password["acme"])
	}, version)
	tr.await(t, 10, "from 2.3.3 first")
	s.mustCLI("tenant", "upgrade", "acme", "--to", "2.3.5")
	tr.await(t, 10, "from 2.3.5 after")
	tr.finish()
	t.Logf("%d requests during the upgrade, by version: %v", tr.sent.Load(), tr.releases)
	if n := tr.failed.Load(); n > 0 {
		t.Errorf("%d of %d requests failed during the upgrade: %q", n, tr.sent.Load(), tr.errors)
	}
	if tr.releases["2.3.3"] == 0 || tr.releases["2.3.5"] == 0 {
		t.Errorf("answers by version: %v; want both 2.3.3 and 2.3.5 to have answered", tr.releases)
	}
	if tn := s.tenant("acme"); tn.Status.Version != "2.3.5" || !tn.Ready() {
		t.Errorf("acme after the upgrade: version %q, phase %s", tn.Status.Version, tn.Status.Phase)
	}
	if body := categories("acme"); !strings.Contains(body, "News of acme") {
		t.Errorf("acme lost its data in the upgrade: %s", body)
	}
	db := func(tenant string) string {
		return strings.Replace(tenantPG, "/postgres?", "/"+postgres.ObjectName(tenant, "main")+"?", 1)
	}
	schema := `SELECT version::int FROM schema_version`
	gotify := `SELECT count(*) FROM information_schema.columns WHERE table_name = 'integrations' AND column_name = 'gotify_enabled'`
	if a, g := count(t, db("acme"), schema), count(t, db("globex"), schema); a != g+3 || count(t, db("acme"), gotify) != 1 || count(t, db("globex"), gotify) != 0 {
		t.Errorf("schema versions: acme %d, globex %d; want 2.3.5's three migrations on acme alone", a, g)
	}
	if tn := s.tenant("globex"); tn.Status.Version != "2.3.3" || !strings.Contains(categories("globex"), "News of globex") {
		t.Errorf("globex, not upgraded: version %q", tn.Status.Version)
	}
	// Both versions' pools of 20 fit under the role's limit.
	limit := count(t, tenantPG, `SELECT rolconnlimit FROM pg_roles WHERE rolname = $1`, postgres.ObjectName("acme", "main"))
	if limit != -1 && limit < 2*20 {
		t.Errorf("acme's role may open %d connections; two versions of Miniflux open up to 40", limit)
	}

	deleteApps(t, s, tenants...)
	for what, sql := range map[string]string{
		"databases": `SELECT count(*) FROM pg_database WHERE datname LIKE 'stamp_%'`,
		"roles":     `SELECT count(*) FROM pg_roles WHERE rolname LIKE 'stamp_%'`,
	} {
		if n := count(t, tenantPG, sql); n != 0 {
			t.Errorf("%d tenant %s left after delete", n, what)
		}
	}
}

// TestRadicaleTenants creates two Radicale tenants, shows that a calendar
// and an event one writes through the router are its own (in its own data
// directory, unseen by the other), upgrades one from blueprint 1.0.0 to
// 1.1.0 (which adds a parameter with a default) under a stream of reads
// and writes with none failed, and deletes both, leaving nothing behind.
func TestRadicaleTenants(t *testing.T) {
	requireSlow(t)
	requireCommand(t, "radicale")
	s := startStampServer(t, "--drain", "300ms")
	for dir, ref := range map[string]string{exampleCopy(t, "radicale-v1"): "radicale@1.0.0", exampleCopy(t, "radicale"): "radicale@1.1.0"} {
		if out := s.mustCLI("blueprint", "push", dir); !strings.Contains(out, "pushed "+ref) {
			t.Fatalf("push of %s: %s", ref, out)
		}
	}
	tenants := []string{"acme", "globex"}
	for _, name := range tenants {
		s.mustCLI("tenant", "create", name, "--blueprint", "radicale@1.0.0")
	}

	dav := func(method, tenant, path, body string) (int, string) {
		req := s.appRequest(method, tenant, path, body, "alice", "any")
		switch {
		case method == "PUT":
			req.Header.Set("Content-Type", "text/calendar")
		case body != "":
			req.Header.Set("Content-Type", "application/xml")
		}
		if method == "PROPFIND" {
			req.Header.Set("Depth", "1")
		}
		return s.send(req)
	}
	if code, body := dav("MKCOL", "acme", "/alice/meetings/", mkcalendar); code != http.StatusCreated {
		t.Fatalf("MKCOL a calendar on acme: %d %s", code, body)
	}
	if code, body := dav("PUT", "acme", "/alice/meetings/board.ics", event("board", "Board meeting of acme")); code != http.StatusCreated {
		t.Fatalf("PUT an event on acme: %d %s", code, body)
	}
	if code, body := dav("GET", "acme", "/alice/meetings/board.ics", ""); code != http.StatusOK || !strings.Contains(body, "Board meeting of acme") {
		t.Errorf("GET the event from acme: %d %s", code, body)
	}
	if code, body := dav("GET", "globex", "/alice/meetings/board.ics", ""); code != http.StatusNotFound {
		t.Errorf("GET acme's event from globex: %d %s, want 404", code, body)
	}
	if _, body := dav("PROPFIND", "globex", "/alice/", ""); strings.Contains(body, "/alice/meetings/") {
		t.Errorf("globex lists acme's calendar:\n%s", body)
	}
	item := func(tenant string) string {
		return filepath.Join(s.data, "local", "tenants", tenant, "data", "collections", "collection-root", "alice", "meetings", "board.ics")
	}
	if _, err := os.Stat(item("acme")); err != nil {
		t.Errorf("acme's event is not in acme's data directory: %v", err)
	}
	if _, err := os.Stat(item("globex")); !os.IsNotExist(err) {
		t.Errorf("acme's event in globex's data directory: %v", err)
	}

	// Upgrade acme to 1.1.0 under a stream of reads and writes.
	tr := startRequests(func(i int) *http.Request {
		if i%4 == 3 {
			req := s.appRequest("PUT", "acme", fmt.Sprintf("/alice/meetings/load-%d.ics", i), event(fmt.Sprint("load-", i), "Load"), "alice", "any")
			req.Header.Set("Content-Type", "text/calendar")
			return req
		}
		return s.appRequest("GET", "acme", "/alice/meetings/board.ics", "", "alice", "any")
	}, nil)
	tr.await(t, 10, "from 1.0.0 first")
	s.mustCLI("tenant", "upgrade", "acme", "--to", "1.1.0")
	tr.await(t, 10, "from 1.1.0 after")
	tr.finish()
	t.Logf("%d requests during the upgrade", tr.sent.Load())
	if n := tr.failed.Load(); n > 0 || tr.sent.Load() < 20 {
		t.Errorf("%d of %d requests failed during the upgrade: %q", n, tr.sent.Load(), tr.errors)
	}
	if tn := s.tenant("acme"); tn.Status.Version != "1.1.0" || !tn.Ready() {
		t.Errorf("acme after the upgrade: version %q, phase %s", tn.Status.Version, tn.Status.Phase)
	}
	// 1.1.0's new parameter took its default for a tenant that never set it.
	if _, args := instanceProc(t, s, "acme"); !slices.Contains(args, "--server-max-content-length") || !slices.Contains(args, "10000000") {
		t.Errorf("acme runs %q after the upgrade, want 1.1.0's --server-max-content-length 10000000", args)
	}
	if code, body := dav("GET", "acme", "/alice/meetings/board.ics", ""); code != http.StatusOK || !strings.Contains(body, "Board meeting of acme") {
		t.Errorf("GET the event from acme after the upgrade: %d %s", code, body)
	}

	deleteApps(t, s, tenants...)
}

// mkcalendar is the body of an extended MKCOL (RFC 5689) that makes a
// calendar collection.
const mkcalendar = `<?xml version="1.0" encoding="utf-8"?>
<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:set><D:prop><D:resourcetype><D:collection/><C:calendar/></D:resourcetype></D:prop></D:set>
</D:mkcol>`

// event returns an iCalendar object holding one event.
func event(uid, summary string) string {
	return strings.Join([]string{
		"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Stamp//apps test//EN",
		"BEGIN:VEVENT", "UID:" + uid, "DTSTAMP:20260101T000000Z", "DTSTART:20260102T100000Z", "SUMMARY:" + summary, "END:VEVENT",
		"END:VCALENDAR", "",
	}, "\r\n")
}
