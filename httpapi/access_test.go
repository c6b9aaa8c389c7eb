package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// Whether a token confined to a tenant may call a route (policy).
const (
	fleet  = ""       // no
	own    = "own"    // on its own tenant, {name}; others do not exist
	listed = "listed" // yes, and it lists its own tenant alone
	common = "common" // yes: the route holds nothing of any tenant
)

// policy is who may call each route of the API, written out apart from
// the route table (routes.go) that enforces it: the least role ("" for
// anyone, without a token), and whether a token confined to a tenant may
// call it. A route missing here fails TestRouteAccess.
var policy = map[string]struct {
	role   stamp.Role
	tenant string
}{
	"GET /healthz": {"", fleet},
	"GET /readyz":  {"", fleet},
	"GET /metrics": {stamp.RoleViewer, fleet},

	"POST /v1/blueprints":                         {stamp.RoleOperator, fleet},
	"GET /v1/blueprints":                          {stamp.RoleViewer, common},
	"GET /v1/whoami":                              {stamp.RoleViewer, common},
	"GET /v1/blueprints/{name}":                   {stamp.RoleViewer, common},
	"GET /v1/blueprints/{name}/{version}":         {stamp.RoleViewer, common},
	"POST /v1/blueprints/{name}/{version}/yank":   {stamp.RoleOperator, fleet},
	"DELETE /v1/blueprints/{name}/{version}/yank": {stamp.RoleOperator, fleet},

	"POST /v1/tenants":                            {stamp.RoleOperator, fleet},
	"GET /v1/tenants":                             {stamp.RoleViewer, listed},
	"GET /v1/tenant-counts":                       {stamp.RoleViewer, listed},
	"GET /v1/tenants/{name}":                      {stamp.RoleViewer, own},
	"DELETE /v1/tenants/{name}":                   {stamp.RoleOperator, own},
	"POST /v1/tenants/{name}/undelete":            {stamp.RoleOperator, own},
	"PATCH /v1/tenants/{name}":                    {stamp.RoleOperator, own},
	"GET /v1/tenants/{name}/secrets":              {stamp.RoleAdmin, own},
	"POST /v1/tenants/{name}/retry":               {stamp.RoleOperator, own},
	"POST /v1/tenants/{name}/wake":                {stamp.RoleOperator, own},
	"POST /v1/tenants/{name}/suspend":             {stamp.RoleOperator, fleet},
	"POST /v1/tenants/{name}/resume":              {stamp.RoleOperator, fleet},
	"POST /v1/tenants/{name}/upgrade":             {stamp.RoleOperator, own},
	"POST /v1/tenants/{name}/pin":                 {stamp.RoleOperator, own},
	"DELETE /v1/tenants/{name}/pin":               {stamp.RoleOperator, own},
	"POST /v1/tenants/{name}/backups":             {stamp.RoleOperator, own},
	"GET /v1/tenants/{name}/backups":              {stamp.RoleViewer, own},
	"GET /v1/tenants/{name}/backups/{id}/archive": {stamp.RoleOperator, own},
	"POST /v1/tenants/{name}/restore":             {stamp.RoleOperator, own},
	"POST /v1/tenants/{name}/clone":               {stamp.RoleOperator, fleet},
	"POST /v1/tenants/{name}/import":              {stamp.RoleOperator, fleet},
	"GET /v1/tenants/{name}/events":               {stamp.RoleViewer, own},
	"GET /v1/tenants/{name}/logs":                 {stamp.RoleViewer, own},
	"POST /v1/releases":                           {stamp.RoleOperator, fleet},
	"GET /v1/releases":                            {stamp.RoleViewer, fleet},
	"GET /v1/releases/{id}":                       {stamp.RoleViewer, fleet},
	"POST /v1/releases/{id}/pause":                {stamp.RoleOperator, fleet},
	"POST /v1/releases/{id}/resume":               {stamp.RoleOperator, fleet},
	"POST /v1/releases/{id}/abort":                {stamp.RoleOperator, fleet},
	"GET /v1/incidents":                           {stamp.RoleViewer, fleet},
	"GET /v1/incidents/stats":                     {stamp.RoleViewer, fleet},
	"GET /v1/incidents/{id}":                      {stamp.RoleViewer, fleet},
	"POST /v1/incidents/{id}/ack":                 {stamp.RoleOperator, fleet},
	"POST /v1/incidents/{id}/resolve":             {stamp.RoleOperator, fleet},
	"POST /v1/webhooks":                           {stamp.RoleAdmin, fleet},
	"GET /v1/webhooks":                            {stamp.RoleViewer, fleet},
	"GET /v1/webhooks/{id}":                       {stamp.RoleViewer, fleet},
	"DELETE /v1/webhooks/{id}":                    {stamp.RoleAdmin, fleet},
	"GET /v1/webhooks/{id}/attempts":              {stamp.RoleViewer, fleet},
	"GET /v1/events":                              {stamp.RoleViewer, fleet},
	"GET /v1/flow":                                {stamp.RoleViewer, fleet},
	"POST /v1/pipeline-events":                    {stamp.RoleOperator, fleet},
	"POST /v1/keys/rotate":                        {stamp.RoleAdmin, fleet},
	"POST /v1/gc":                                 {stamp.RoleAdmin, fleet},
	"GET /v1/audit":                               {stamp.RoleAdmin, fleet},
	"POST /v1/tokens":                             {stamp.RoleAdmin, fleet},
	"GET /v1/tokens":                              {stamp.RoleAdmin, fleet},
	"DELETE /v1/tokens/{ref}":                     {stamp.RoleAdmin, fleet},
	"POST /v1/releases/{id}/tenants/{name}/skip":  {stamp.RoleOperator, fleet},
	"POST /v1/releases/{id}/tenants/{name}/retry": {stamp.RoleOperator, fleet},
}

// credential is one kind of credential TestRouteAccess sends.
type credential struct {
	name   string
	secret string
	role   stamp.Role // "" for one that must not get in
	tenant string     // the tenant it is confined to
}

// TestRouteAccess calls every route of the API, through the real server
// and store, as every kind of caller: none, a bad token, an expired and
// a revoked one, each role fleet-wide, and each role confined to tenant
// acme, on acme and on globex. Refusals must be 401 (no valid token),
// 403 (role too weak, or a tenant's token on a fleet-wide route) and 404
// (another tenant, as if it did not exist); a caller let in reaches the
// handler, whatever it then answers.
func TestRouteAccess(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.Metrics, c.AnonymousAuditRate = new(fakeMetrics), -1 })
	ctx := context.Background()
	for _, name := range []string{"acme", "globex"} {
		if err := env.store.CreateTenant(ctx, &stamp.Tenant{Name: name, Spec: stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0", Plan: "starter"}}); err != nil {
			t.Fatal(err)
		}
	}
	callers := []credential{{name: "no token"}, {name: "bad token", secret: NewToken()}}
	token := func(name string, role stamp.Role, tenant string, change func(*stamp.Token)) credential {
		t.Helper()
		secret := NewToken()
		tok := &stamp.Token{ID: name, Name: name, Role: role, Tenant: tenant, Hash: HashToken(secret)}
		if change != nil {
			change(tok)
		}
		if err := env.store.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		c := credential{name: name, secret: secret, role: role, tenant: tenant}
		if tok.Valid(time.Now()) != nil {
			c.role = ""
		}
		return c
	}
	callers = append(callers,
		token("expired", stamp.RoleAdmin, "", func(tok *stamp.Token) { tok.ExpiresAt = time.Now().Add(-time.Second) }),
		token("revoked", stamp.RoleAdmin, "", func(tok *stamp.Token) { tok.RevokedAt = time.Now().Add(-time.Second) }),
		credential{name: "admin", secret: env.token, role: stamp.RoleAdmin})
	for _, role := range []stamp.Role{stamp.RoleOperator, stamp.RoleViewer} {
		callers = append(callers, token(string(role), role, "", nil))
	}
	for _, role := range stamp.Roles {
		callers = append(callers, token("acme-"+string(role), role, "acme", nil))
	}

	table := routes(Config{Store: env.store, Metrics: new(fakeMetrics)}, newBlueprintCache(1))
	var patterns []string
	for _, rt := range table {
		patterns = append(patterns, rt.pattern)
		if _, ok := policy[rt.pattern]; !ok {
			t.Errorf("route %q has no row in policy: say who may call it", rt.pattern)
		}
	}
	for pattern := range policy {
		if !slices.Contains(patterns, pattern) {
			t.Errorf("policy has a row for %q, which is no route", pattern)
		}
	}

	type sent struct {
		method, url, caller string
		status              int
	}
	calls := map[string]sent{} // by request id
	for _, pattern := range patterns {
		want := policy[pattern]
		method, path, _ := strings.Cut(pattern, " ")
		for _, c := range callers {
			targets := []string{"acme"}
			if c.tenant != "" && want.tenant == own {
				targets = append(targets, "globex")
			}
			for _, target := range targets {
				url := strings.NewReplacer("{name}", target, "{version}", "1.0.0", "{id}", "nope", "{ref}", "nope").Replace(path)
				t.Run(pattern+"/"+c.name+"/"+target, func(t *testing.T) {
					id := fmt.Sprintf("access-%d", len(calls))
					status, e := call(t, env.url, method, url, c.secret, id)
					calls[id] = sent{method, url, c.name, status}
					switch wantStatus := expected(want.role, want.tenant, c, target); wantStatus {
					case 0: // let in: whatever the handler says, but no refusal
						if status == http.StatusUnauthorized || status == http.StatusForbidden {
							t.Errorf("%s %s as %s: got %d %s, want the handler to answer", method, url, c.name, status, e.Message)
						}
					default:
						if status != wantStatus {
							t.Errorf("%s %s as %s: got %d %s, want %d", method, url, c.name, status, e.Message, wantStatus)
						}
						if wantStatus == http.StatusNotFound && e.Message != `tenant "globex" does not exist` {
							t.Errorf("%s %s as %s: message %q, want the one of a tenant that does not exist", method, url, c.name, e.Message)
						}
					}
				})
			}
		}
	}

	// Each call that may change something left one audit record, with
	// its caller and outcome; reads left none.
	recs, err := env.store.ListAudit(ctx, stamp.AuditFilter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string][]*stamp.AuditRecord{}
	withChange := 0
	for _, rec := range recs {
		byID[rec.RequestID] = append(byID[rec.RequestID], rec)
		if rec.Status == 0 {
			withChange++
		}
	}
	if withChange == 0 {
		t.Errorf("no audit record was written with the change it records")
	}
	for id, c := range calls {
		got := byID[id]
		if c.method == http.MethodGet {
			if len(got) != 0 && !strings.HasSuffix(c.url, "/secrets") {
				t.Errorf("%s %s as %s: %d audit records, want none for a read", c.method, c.url, c.caller, len(got))
			}
			continue
		}
		if len(got) != 1 {
			t.Errorf("%s %s as %s: %d audit records, want 1", c.method, c.url, c.caller, len(got))
			continue
		}
		rec := got[0]
		wantName := c.caller
		switch c.caller {
		case "no token", "bad token", "expired", "revoked":
			wantName = "" // no valid token: nobody known
		}
		wantOutcome := stamp.AuditOK
		if c.status >= 400 {
			wantOutcome = stamp.AuditFailed
		}
		if rec.TokenName != wantName || rec.Outcome != wantOutcome || rec.Resource != c.url || (rec.Status != 0 && rec.Status != c.status) {
			t.Errorf("%s %s as %s (answered %d): audit record %+v, want token %q, outcome %s", c.method, c.url, c.caller, c.status, rec, wantName, wantOutcome)
		}
	}
}

// call sends method url (a path of base) with secret as bearer token (if
// any), request id id and an empty JSON object as body, and returns the
// status and the error answered.
func call(t *testing.T, base, method, url, secret, id string) (int, errorDetail) {
	t.Helper()
	req, err := http.NewRequest(method, base+url, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	req.Header.Set(requestIDHeader, id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var eb errorBody
	if resp.StatusCode >= 400 {
		if err := json.NewDecoder(resp.Body).Decode(&eb); err != nil {
			t.Fatalf("%s %s: error body: %v", method, url, err)
		}
	}
	return resp.StatusCode, eb.Error
}

// expected is the status a route of the least role need (tenant: how a
// tenant's token may call it) answers caller c on target: 0 for let in.
func expected(need stamp.Role, tenant string, c credential, target string) int {
	switch {
	case need == "":
		return 0
	case c.role == "":
		return http.StatusUnauthorized
	case c.tenant != "" && tenant == fleet:
		return http.StatusForbidden
	case c.tenant != "" && tenant == own && target != c.tenant:
		return http.StatusNotFound
	case !c.role.Allows(need):
		return http.StatusForbidden
	}
	return 0
}

// TestTenantTokenSeesNoOtherTenant: a token confined to a tenant lists
// that tenant alone, and a blueprint's detail names no other tenant on
// its version.
func TestTenantTokenSeesNoOtherTenant(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	env.push(t, ledgerYAML)
	for _, name := range []string{"acme", "globex"} {
		if err := env.store.CreateTenant(ctx, &stamp.Tenant{Name: name, Spec: stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0", Plan: "starter"}}); err != nil {
			t.Fatal(err)
		}
	}
	made, err := env.client.CreateToken(ctx, CreateTokenRequest{Name: "support", Role: stamp.RoleViewer, Tenant: "globex"})
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(env.url, made.Secret)
	list, err := c.ListTenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "globex" {
		t.Errorf("tenants listed: got %d, want globex alone", len(list))
	}
	detail, err := c.GetBundle(ctx, "ledger", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(detail.Tenants, []string{"globex"}) {
		t.Errorf("tenants on ledger@1.0.0 as globex's token: %q, want globex alone", detail.Tenants)
	}
}
