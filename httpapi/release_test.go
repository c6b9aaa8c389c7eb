package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// These tests cover the upgrade, pin and release routes as a client sees
// them. Neither the reconciler nor the release controller runs here: a
// tenant becomes ready, starts upgrading or fails, and a release tenant
// fails or a release finishes, only because a test writes that state
// straight into the store, as those loops would.

// replaceOnce is strings.Replace of exactly one occurrence; it fails the
// test when old is missing, so that a fixture cannot silently stay the same.
func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if strings.Count(s, old) != 1 {
		t.Fatalf("fixture: %q occurs %d times, want once", old, strings.Count(s, old))
	}
	return strings.Replace(s, old, new, 1)
}

// pushLedgers pushes the ledger versions the tests move tenants between:
//
//	1.0.0, 1.1.0  the same plans, parameters and engine
//	2.0.0         no business plan
//	2.1.0         a new required parameter, region
//	3.0.0         a PostgreSQL database, which the test server lacks
//
// and crm@1.0.0, a second blueprint.
func (e *testEnv) pushLedgers(t *testing.T) {
	t.Helper()
	e.push(t, ledgerYAML)
	e.push(t, ledgerVersion("1.1.0"))
	e.push(t, replaceOnce(t, ledgerVersion("2.0.0"), "  business: { memory: 512Mi, cpu: 1,    replicas: 2 }\n", ""))
	e.push(t, replaceOnce(t, ledgerVersion("2.1.0"), "  admin_email: { required: true }\n", "  admin_email: { required: true }\n  region: { required: true }\n"))
	e.push(t, replaceOnce(t, ledgerVersion("3.0.0"), "engine: sqlite", "engine: postgres"))
	e.push(t, replaceOnce(t, ledgerYAML, "name: ledger", "name: crm"))
}

// createTenant creates a tenant through the API; req.Params defaults to
// the one required parameter.
func (e *testEnv) createTenant(t *testing.T, req CreateTenantRequest) *stamp.Tenant {
	t.Helper()
	if req.Params == nil {
		req.Params = map[string]string{"admin_email": "ops@" + req.Name + ".test"}
	}
	tn, err := e.client.CreateTenant(context.Background(), req)
	if err != nil {
		t.Fatalf("create tenant %s: %v", req.Name, err)
	}
	return tn
}

// setTenant changes a tenant's record in the store directly, standing in
// for the reconciler, which does not run in these tests.
func (e *testEnv) setTenant(t *testing.T, name string, change func(*stamp.Tenant)) {
	t.Helper()
	ctx := context.Background()
	tn, err := e.store.GetTenant(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	change(tn)
	if err := e.store.UpdateTenant(ctx, tn); err != nil {
		t.Fatalf("update tenant %s: %v", name, err)
	}
}

// serve marks a tenant ready on version, as the reconciler would once
// the tenant's current generation runs it.
func (e *testEnv) serve(t *testing.T, name, version string) {
	t.Helper()
	e.setTenant(t, name, func(tn *stamp.Tenant) {
		tn.Spec.Version = version
		tn.Status.Phase, tn.Status.Version, tn.Status.ObservedGeneration = stamp.PhaseReady, version, tn.Generation
	})
}

// setRelease changes a release in the store directly, standing in for
// the release controller, which does not run in these tests.
func (e *testEnv) setRelease(t *testing.T, id string, change func(*stamp.Release)) {
	t.Helper()
	ctx := context.Background()
	rel, err := e.store.GetRelease(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	change(rel)
	if err := e.store.UpdateRelease(ctx, rel); err != nil {
		t.Fatalf("update release %s: %v", id, err)
	}
}

// finishRelease marks release id succeeded, so that another release of
// its blueprint may start.
func (e *testEnv) finishRelease(t *testing.T, id string) {
	t.Helper()
	e.setRelease(t, id, func(r *stamp.Release) { r.Status.State = stamp.ReleaseSucceeded })
}

// call sends a raw JSON request and returns the status, the error (zero
// for a success) and the body.
func (e *testEnv) call(t *testing.T, method, path, body string) (int, errorDetail, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var eb errorBody
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(data, &eb); err != nil {
			t.Fatalf("%s %s: error body %q is not JSON: %v", method, path, data, err)
		}
	}
	return resp.StatusCode, eb.Error, data
}

// apiError is one expected error answer.
type apiError struct {
	status int
	code   string
	msg    string
}

// check compares an answer with want.
func (want apiError) check(t *testing.T, status int, got errorDetail) {
	t.Helper()
	if status != want.status || got.Code != want.code || got.Message != want.msg {
		t.Errorf("got %d %s %q,\nwant %d %s %q", status, got.Code, got.Message, want.status, want.code, want.msg)
	}
}

// eventTypes returns the types of the events f selects, each with the
// generation and message, one string per event.
func (e *testEnv) eventTypes(t *testing.T, f stamp.EventFilter) []string {
	t.Helper()
	events, err := e.client.Events(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range events {
		out = append(out, fmt.Sprintf("%s gen=%d %q", ev.Type, ev.Generation, ev.Message))
	}
	return out
}

func TestUpgradeTenant(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	env.pushLedgers(t)
	env.createTenant(t, CreateTenantRequest{Name: "acme", Blueprint: "ledger", Version: "1.0.0"})
	env.serve(t, "acme", "1.0.0")

	got, err := env.client.UpgradeTenant(ctx, "acme", "1.1.0")
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.Version != "1.1.0" || got.Generation != 2 {
		t.Errorf("after upgrade: version %q generation %d, want 1.1.0 and 2", got.Spec.Version, got.Generation)
	}
	// The API only records the wish: the status is the reconciler's.
	if got.Status.Version != "1.0.0" || got.Status.Phase != stamp.PhaseReady {
		t.Errorf("after upgrade: status version %q phase %q, want 1.0.0 ready untouched", got.Status.Version, got.Status.Phase)
	}
	if n := env.enqueuedNames(); len(n) != 2 || n[1] != "acme" {
		t.Errorf("enqueued: got %q, want acme woken by the create and the upgrade", n)
	}

	// The same version again changes nothing: no generation, no event.
	again, err := env.client.UpgradeTenant(ctx, "acme", "1.1.0")
	if err != nil {
		t.Fatal(err)
	}
	if again.Generation != 2 || again.ResourceVersion != got.ResourceVersion {
		t.Errorf("same version: generation %d resource version %d, want 2 and %d (no write)", again.Generation, again.ResourceVersion, got.ResourceVersion)
	}

	// A finished move (any result) does not block the next one.
	env.setTenant(t, "acme", func(tn *stamp.Tenant) {
		tn.Status.Upgrade = &stamp.Upgrade{From: "1.0.0", To: "1.1.0", Result: stamp.UpgradeRolledBack}
	})
	if _, err := env.client.UpgradeTenant(ctx, "acme", "1.0.0"); err != nil {
		t.Errorf("after a rolled-back move: %v", err)
	}

	// A pin to the very version asked for does not block it.
	env.createTenant(t, CreateTenantRequest{Name: "globex", Blueprint: "ledger", Version: "1.0.0"})
	if _, err := env.client.PinTenant(ctx, "globex", "2.0.0"); err != nil {
		t.Fatal(err)
	}
	if up, err := env.client.UpgradeTenant(ctx, "globex", "2.0.0"); err != nil || up.Spec.Version != "2.0.0" || up.Generation != 2 {
		t.Errorf("pinned to the version asked for: got %+v, %v; want 2.0.0 at generation 2", up, err)
	}

	want := []string{
		`tenant.created gen=1 "ledger@1.0.0 plan starter"`,
		`tenant.upgrade-requested gen=2 "version 1.0.0 to 1.1.0"`,
		`tenant.upgrade-requested gen=3 "downgrading from 1.1.0 to 1.0.0"`,
	}
	if got := env.eventTypes(t, stamp.EventFilter{Tenant: "acme"}); !slices.Equal(got, want) {
		t.Errorf("events of acme:\ngot  %q\nwant %q", got, want)
	}
}

func TestUpgradeTenantErrors(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.MaxBodyBytes = 1 << 10 })
	env.pushLedgers(t)
	for _, name := range []string{"acme", "gone", "busy", "held"} {
		env.createTenant(t, CreateTenantRequest{Name: name, Blueprint: "ledger", Version: "1.0.0"})
		env.serve(t, name, "1.0.0")
	}
	env.createTenant(t, CreateTenantRequest{Name: "big", Blueprint: "ledger", Version: "1.0.0", Plan: "business"})
	if _, err := env.client.DeleteTenant(context.Background(), "gone", DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	env.setTenant(t, "busy", func(tn *stamp.Tenant) {
		tn.Spec.Version = "1.1.0"
		tn.Status.Phase = stamp.PhaseUpgrading
		tn.Status.Upgrade = &stamp.Upgrade{From: "1.0.0", To: "1.1.0"}
	})
	if _, err := env.client.PinTenant(context.Background(), "held", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	before := env.eventTypes(t, stamp.EventFilter{})

	tests := []struct {
		name, tenant, body string
		want               apiError
	}{
		{"unknown tenant", "nope", `{"version":"1.1.0"}`, apiError{404, stamp.ENOTFOUND, `tenant "nope" does not exist`}},
		{"unknown version", "acme", `{"version":"9.9.9"}`, apiError{404, stamp.ENOTFOUND, "blueprint ledger@9.9.9 does not exist; push it first"}},
		{"deleting", "gone", `{"version":"1.1.0"}`, apiError{409, stamp.ECONFLICT, `tenant "gone" is being deleted`}},
		{"upgrading", "busy", `{"version":"2.0.0"}`, apiError{409, stamp.ECONFLICT, `tenant "busy" is upgrading from 1.0.0 to 1.1.0; wait until that ends`}},
		{"pinned elsewhere", "held", `{"version":"1.1.0"}`, apiError{409, stamp.ECONFLICT, `tenant "held" is pinned to version 1.0.0; unpin it first`}},
		{"plan missing", "big", `{"version":"2.0.0"}`, apiError{422, stamp.EUNPROCESSABLE,
			`ledger@2.0.0 does not fit tenant big: plan "business" does not exist in blueprint ledger@2.0.0 (plans: starter)`}},
		{"parameter missing", "acme", `{"version":"2.1.0"}`, apiError{422, stamp.EUNPROCESSABLE,
			`ledger@2.1.0 does not fit tenant acme: parameter "region" is required`}},
		{"engine missing", "acme", `{"version":"3.0.0"}`, apiError{422, stamp.EUNPROCESSABLE,
			`blueprint ledger@3.0.0 needs database engine "postgres" for database "main", which this server does not provide (available: sqlite)`}},
		{"empty version", "acme", `{"version":""}`, apiError{400, stamp.EINVALID, "version is empty; name the version to upgrade to"}},
		{"no body", "acme", ``, apiError{400, stamp.EINVALID, "request body is empty; a JSON object is expected"}},
		{"unknown field", "acme", `{"to":"1.1.0"}`, apiError{400, stamp.EINVALID, `unknown field "to"`}},
		{"wrong type", "acme", `{"version":110}`, apiError{400, stamp.EINVALID, `field "version": expected a string, got a JSON number`}},
		{"too large", "acme", `{"version":"` + strings.Repeat("1", 2<<10) + `"}`, apiError{413, stamp.ETOOLARGE, "request body is over the 1 KiB limit"}},
		{"too large after the object", "acme", `{"version":"1.1.0"}` + strings.Repeat(" ", 2<<10), apiError{413, stamp.ETOOLARGE, "request body is over the 1 KiB limit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, got, _ := env.call(t, "POST", "/v1/tenants/"+tt.tenant+"/upgrade", tt.body)
			tt.want.check(t, status, got)
		})
	}

	// A refused upgrade writes nothing.
	if after := env.eventTypes(t, stamp.EventFilter{}); !slices.Equal(after, before) {
		t.Errorf("refused upgrades added events: %q", after[len(before):])
	}
	for name, gen := range map[string]int64{"acme": 1, "gone": 2, "busy": 1, "held": 1, "big": 1} {
		tn, err := env.client.GetTenant(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		if tn.Generation != gen {
			t.Errorf("%s: generation %d after refused upgrades, want %d", name, tn.Generation, gen)
		}
	}
}

func TestPinTenant(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.MaxBodyBytes = 1 << 10 })
	ctx := context.Background()
	env.pushLedgers(t)
	env.createTenant(t, CreateTenantRequest{Name: "acme", Blueprint: "ledger", Version: "1.0.0"})

	steps := []struct {
		name    string
		method  string
		body    string
		wantPin string
	}{
		{"pin", "POST", `{"version":"1.1.0"}`, "1.1.0"},
		{"pin again", "POST", `{"version":"1.1.0"}`, "1.1.0"},
		{"pin elsewhere", "POST", `{"version":"1.0.0"}`, "1.0.0"},
		{"unpin", "DELETE", ``, ""},
		{"unpin again", "DELETE", ``, ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			status, e, body := env.call(t, s.method, "/v1/tenants/acme/pin", s.body)
			if status != http.StatusOK {
				t.Fatalf("got %d %q, want 200", status, e.Message)
			}
			var got stamp.Tenant
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			// A pin changes nothing that runs: no new generation.
			if got.Spec.Pin != s.wantPin || got.Generation != 1 || got.Spec.Version != "1.0.0" {
				t.Errorf("got pin %q generation %d version %q, want pin %q at generation 1 on 1.0.0", got.Spec.Pin, got.Generation, got.Spec.Version, s.wantPin)
			}
		})
	}
	want := []string{
		`tenant.created gen=1 "ledger@1.0.0 plan starter"`,
		`tenant.pinned gen=1 "1.1.0"`,
		`tenant.pinned gen=1 "1.0.0"`,
		`tenant.pinned gen=1 ""`,
	}
	if got := env.eventTypes(t, stamp.EventFilter{Tenant: "acme"}); !slices.Equal(got, want) {
		t.Errorf("events of acme:\ngot  %q\nwant %q", got, want)
	}

	errs := []struct {
		name, method, path, body string
		want                     apiError
	}{
		{"unknown version", "POST", "/v1/tenants/acme/pin", `{"version":"9.9.9"}`, apiError{404, stamp.ENOTFOUND, "blueprint ledger@9.9.9 does not exist"}},
		{"unknown tenant", "POST", "/v1/tenants/nope/pin", `{"version":"1.0.0"}`, apiError{404, stamp.ENOTFOUND, `tenant "nope" does not exist`}},
		{"unpin unknown tenant", "DELETE", "/v1/tenants/nope/pin", ``, apiError{404, stamp.ENOTFOUND, `tenant "nope" does not exist`}},
		{"empty version", "POST", "/v1/tenants/acme/pin", `{}`, apiError{400, stamp.EINVALID, "version is empty; name the version to pin the tenant to"}},
		{"no body", "POST", "/v1/tenants/acme/pin", ``, apiError{400, stamp.EINVALID, "request body is empty; a JSON object is expected"}},
		{"unknown field", "POST", "/v1/tenants/acme/pin", `{"pin":"1.0.0"}`, apiError{400, stamp.EINVALID, `unknown field "pin"`}},
		{"too large", "POST", "/v1/tenants/acme/pin", `{"version":"` + strings.Repeat("1", 2<<10) + `"}`, apiError{413, stamp.ETOOLARGE, "request body is over the 1 KiB limit"}},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			status, got, _ := env.call(t, tt.method, tt.path, tt.body)
			tt.want.check(t, status, got)
		})
	}
	if got := env.eventTypes(t, stamp.EventFilter{Tenant: "acme"}); len(got) != len(want) {
		t.Errorf("refused pins added events: %q", got[len(want):])
	}

	// The client's PinTenant with an empty version unpins.
	if _, err := env.client.PinTenant(ctx, "acme", "1.1.0"); err != nil {
		t.Fatal(err)
	}
	if tn, err := env.client.PinTenant(ctx, "acme", ""); err != nil || tn.Spec.Pin != "" {
		t.Errorf("client unpin: got %+v, %v; want no pin", tn, err)
	}
}

func TestCreateTenantChannelAndLabels(t *testing.T) {
	env := newTestEnv(t)
	env.push(t, ledgerYAML)
	labels := func(n int) map[string]string {
		m := map[string]string{}
		for i := range n {
			m[fmt.Sprintf("k%02d", i)] = "v"
		}
		return m
	}
	tests := []struct {
		name    string
		channel string
		labels  map[string]string
		want    apiError // zero: created
	}{
		{"default channel", "", nil, apiError{}},
		{"stable", stamp.ChannelStable, nil, apiError{}},
		{"beta", stamp.ChannelBeta, nil, apiError{}},
		{"unknown channel", "alpha", nil, apiError{400, stamp.EINVALID, `channel "alpha" is unknown; use stable or beta`}},
		{"uppercase channel", "Beta", nil, apiError{400, stamp.EINVALID, `channel "Beta" is unknown; use stable or beta`}},
		{"32 labels", "", labels(32), apiError{}},
		{"33 labels", "", labels(33), apiError{400, stamp.EINVALID, "33 labels given; at most 32 are allowed"}},
		{"uppercase key", "", map[string]string{"Region": "eu"}, apiError{400, stamp.EINVALID,
			`label name "Region" has uppercase 'R' at position 1; only a-z, 0-9 and '-' are allowed`}},
		{"dotted key", "", map[string]string{"app.kubernetes.io": "x"}, apiError{400, stamp.EINVALID,
			`label name "app.kubernetes.io" has '.' at position 4; only a-z, 0-9 and '-' are allowed`}},
		{"long key", "", map[string]string{strings.Repeat("k", 64): "x"}, apiError{400, stamp.EINVALID,
			`label name "` + strings.Repeat("k", 64) + `" is 64 characters long; at most 63 are allowed`}},
		{"bad value", "", map[string]string{"region": "eu_west"}, apiError{400, stamp.EINVALID,
			`label region value name "eu_west" has '_' at position 3; only a-z, 0-9 and '-' are allowed`}},
		{"empty value", "", map[string]string{"region": ""}, apiError{400, stamp.EINVALID, "label region value name is empty"}},
		{"first bad key named", "", map[string]string{"b_": "x", "a_": "x"}, apiError{400, stamp.EINVALID,
			`label name "a_" has '_' at position 2; only a-z, 0-9 and '-' are allowed`}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("t%d", i)
			req := CreateTenantRequest{Name: name, Blueprint: "ledger", Params: map[string]string{"admin_email": "a@b.c"}, Channel: tt.channel, Labels: tt.labels}
			body, err := json.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			status, got, data := env.call(t, "POST", "/v1/tenants", string(body))
			if tt.want.status != 0 {
				tt.want.check(t, status, got)
				if _, err := env.client.GetTenant(context.Background(), name); stamp.ErrorCode(err) != stamp.ENOTFOUND {
					t.Errorf("refused tenant %s: get answered %v, want not found", name, err)
				}
				return
			}
			var tn stamp.Tenant
			if status != http.StatusCreated || json.Unmarshal(data, &tn) != nil {
				t.Fatalf("got %d %q, want 201", status, got.Message)
			}
			if tn.Spec.Channel != tt.channel || len(tn.Spec.Labels) != len(tt.labels) {
				t.Errorf("got channel %q and %d labels, want %q and %d", tn.Spec.Channel, len(tn.Spec.Labels), tt.channel, len(tt.labels))
			}
		})
	}
}

// releaseFleet creates the tenants a release of ledger@2.0.0 sorts:
//
//	a1 a2 a3  serving 1.0.0 on the starter plan: targets
//	big       on the business plan, which 2.0.0 lacks
//	held      pinned to 1.0.0
//	gone      being deleted
//	done      serving 2.0.0 already
//	crm1      of another blueprint
//	betty     serving 1.0.0 on the beta channel, labelled ring=canary
func releaseFleet(t *testing.T, env *testEnv) {
	t.Helper()
	for _, name := range []string{"a1", "a2", "a3", "held", "gone", "done"} {
		env.createTenant(t, CreateTenantRequest{Name: name, Blueprint: "ledger", Version: "1.0.0"})
		env.serve(t, name, "1.0.0")
	}
	env.createTenant(t, CreateTenantRequest{Name: "big", Blueprint: "ledger", Version: "1.0.0", Plan: "business"})
	env.serve(t, "big", "1.0.0")
	env.createTenant(t, CreateTenantRequest{Name: "betty", Blueprint: "ledger", Version: "1.0.0", Channel: stamp.ChannelBeta,
		Labels: map[string]string{"ring": "canary"}})
	env.serve(t, "betty", "1.0.0")
	env.createTenant(t, CreateTenantRequest{Name: "crm1", Blueprint: "crm"})
	env.serve(t, "crm1", "1.0.0")
	env.serve(t, "done", "2.0.0")
	if _, err := env.client.PinTenant(context.Background(), "held", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.client.DeleteTenant(context.Background(), "gone", DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

// targets formats a release's tenants, one string each, in order.
func targets(rel *stamp.Release) []string {
	var out []string
	for _, rt := range rel.Status.Tenants {
		s := fmt.Sprintf("%s wave=%d from=%s %s", rt.Name, rt.Wave, rt.From, rt.State)
		if rt.Message != "" {
			s += ": " + rt.Message
		}
		out = append(out, s)
	}
	return out
}

func TestCreateRelease(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	env.pushLedgers(t)
	releaseFleet(t, env)
	generations := map[string]int64{}
	tenants, err := env.client.ListTenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range tenants {
		generations[tn.Name] = tn.Generation
	}

	rel, err := env.client.CreateRelease(ctx, CreateReleaseRequest{
		Blueprint: "ledger", Version: "2.0.0",
		Waves: []stamp.Wave{{Tenants: []string{"a2"}}, {Count: 2}, {Selector: map[string]string{"ring": "nope"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"a2 wave=0 from=1.0.0 pending",
		"a1 wave=1 from=1.0.0 pending",
		"a3 wave=1 from=1.0.0 pending",
		`big wave=-1 from=1.0.0 skipped: ledger@2.0.0 does not fit tenant big: plan "business" does not exist in blueprint ledger@2.0.0 (plans: starter)`,
		"gone wave=-1 from=1.0.0 skipped: the tenant is being deleted",
		"held wave=-1 from=1.0.0 skipped: pinned to version 1.0.0",
		"betty wave=-1 from=1.0.0 skipped: no wave of the release reaches it",
	}
	if got := targets(rel); !slices.Equal(got, want) {
		t.Errorf("targets:\ngot  %q\nwant %q", got, want)
	}
	if !strings.HasPrefix(rel.ID, "rel-") || rel.Status.State != stamp.ReleaseRunning || rel.ResourceVersion != 1 {
		t.Errorf("got id %q state %q resource version %d, want rel-..., running, 1", rel.ID, rel.Status.State, rel.ResourceVersion)
	}
	spec := rel.Spec
	if spec.MaxParallel != 8 || time.Duration(spec.Soak) != 30*time.Second || spec.MaxErrorRate != 0.01 || spec.OnFailure != stamp.OnFailureRollback || spec.Paused || spec.Aborted {
		t.Errorf("defaults: got %+v, want maxParallel 8, soak 30s, maxErrorRate 0.01, onFailure rollback", spec)
	}

	stored, err := env.client.Release(ctx, rel.ID)
	if err != nil || jsonString(t, stored.Status) != jsonString(t, rel.Status) || jsonString(t, stored.Spec) != jsonString(t, rel.Spec) {
		t.Errorf("get: got %+v, %v; want what create answered", stored, err)
	}
	_, err = env.client.Release(ctx, "rel-nope")
	wantError(t, err, stamp.ENOTFOUND, `release "rel-nope" does not exist`)

	// A release only records its plan: no tenant changes before the
	// controller moves it.
	tenants, err = env.client.ListTenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range tenants {
		if tn.Generation != generations[tn.Name] {
			t.Errorf("%s: generation %d after the release was created, want %d", tn.Name, tn.Generation, generations[tn.Name])
		}
	}

	// One unfinished release per blueprint.
	_, err = env.client.CreateRelease(ctx, CreateReleaseRequest{Blueprint: "ledger", Version: "1.1.0"})
	wantError(t, err, stamp.ECONFLICT, fmt.Sprintf("release %s of ledger@2.0.0 is running; abort it or wait until it ends", rel.ID))
	if _, err := env.client.ControlRelease(ctx, rel.ID, "abort"); err != nil {
		t.Fatal(err)
	}
	// Aborting asks the controller to stop; until it has, the release is
	// unfinished.
	_, err = env.client.CreateRelease(ctx, CreateReleaseRequest{Blueprint: "ledger", Version: "1.1.0"})
	wantError(t, err, stamp.ECONFLICT, fmt.Sprintf("release %s of ledger@2.0.0 is running; abort it or wait until it ends", rel.ID))

	// Another blueprint's release is independent; a channel and a selector
	// narrow the targets.
	crm, err := env.client.CreateRelease(ctx, CreateReleaseRequest{Blueprint: "crm", Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	if len(crm.Status.Tenants) != 0 || len(crm.Spec.Waves) != 1 || crm.Spec.Waves[0].Percent != 100 {
		t.Errorf("crm release: got targets %q waves %+v, want none (crm1 is on 1.0.0) and one wave of 100%%", targets(crm), crm.Spec.Waves)
	}

	env.finishRelease(t, rel.ID)
	beta, err := env.client.CreateRelease(ctx, CreateReleaseRequest{Blueprint: "ledger", Version: "1.1.0", Channel: stamp.ChannelBeta})
	if err != nil {
		t.Fatalf("after the first release finished: %v", err)
	}
	if got, want := targets(beta), []string{"betty wave=0 from=1.0.0 pending"}; !slices.Equal(got, want) {
		t.Errorf("beta targets: got %q, want %q", got, want)
	}
	env.finishRelease(t, beta.ID)
	canary, err := env.client.CreateRelease(ctx, CreateReleaseRequest{Blueprint: "ledger", Version: "1.1.0", Selector: map[string]string{"ring": "canary"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := targets(canary), []string{"betty wave=0 from=1.0.0 pending"}; !slices.Equal(got, want) {
		t.Errorf("canary targets: got %q, want %q", got, want)
	}

	list, err := env.client.Releases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range list {
		ids = append(ids, r.ID)
	}
	if want := []string{rel.ID, crm.ID, beta.ID, canary.ID}; !slices.Equal(ids, want) {
		t.Errorf("list: got %q, want %q (oldest first)", ids, want)
	}

	events, err := env.client.Events(ctx, stamp.EventFilter{Release: rel.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Type != stamp.EventReleaseCreated || events[0].Tenant != "" ||
		events[0].Message != "ledger@2.0.0: 3 tenant(s) in 3 wave(s), 4 skipped" {
		t.Errorf("events of %s: got %s, want one %s", rel.ID, jsonString(t, events), stamp.EventReleaseCreated)
	}
}

func TestListReleasesEmpty(t *testing.T) {
	env := newTestEnv(t)
	status, e, body := env.call(t, "GET", "/v1/releases", "")
	if status != http.StatusOK || strings.TrimSpace(string(body)) != `{"releases":[]}` {
		t.Errorf("got %d %q %s, want 200 and an empty list", status, e.Message, body)
	}
}

func TestCreateReleaseErrors(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.MaxBodyBytes = 1 << 10 })
	env.pushLedgers(t)
	releaseFleet(t, env)

	tests := []struct {
		name, body string
		want       apiError
	}{
		{"no blueprint", `{"version":"2.0.0"}`, apiError{400, stamp.EINVALID, "blueprint is empty; name the blueprint to release"}},
		{"no version", `{"blueprint":"ledger"}`, apiError{400, stamp.EINVALID, "version is empty; name the version to release"}},
		{"maxParallel below", `{"blueprint":"ledger","version":"2.0.0","maxParallel":-1}`, apiError{400, stamp.EINVALID, "maxParallel -1: want 1 to 1000"}},
		{"maxParallel above", `{"blueprint":"ledger","version":"2.0.0","maxParallel":1001}`, apiError{400, stamp.EINVALID, "maxParallel 1001: want 1 to 1000"}},
		{"maxParallel type", `{"blueprint":"ledger","version":"2.0.0","maxParallel":"8"}`, apiError{400, stamp.EINVALID, `field "maxParallel": expected a number, got a JSON string`}},
		{"empty wave", `{"blueprint":"ledger","version":"2.0.0","waves":[{}]}`, apiError{400, stamp.EINVALID,
			"wave 1: a wave sets exactly one of count, percent, tenants and selector; this one sets 0"}},
		{"two-field wave", `{"blueprint":"ledger","version":"2.0.0","waves":[{"count":1},{"count":1,"percent":50}]}`, apiError{400, stamp.EINVALID,
			"wave 2: a wave sets exactly one of count, percent, tenants and selector; this one sets 2"}},
		{"negative count", `{"blueprint":"ledger","version":"2.0.0","waves":[{"count":-1}]}`, apiError{400, stamp.EINVALID, "wave 1: wave count -1: want at least 1"}},
		{"share above 100", `{"blueprint":"ledger","version":"2.0.0","waves":[{"percent":150}]}`, apiError{400, stamp.EINVALID, "wave 1: wave share 150%: want (0, 100]"}},
		{"negative share", `{"blueprint":"ledger","version":"2.0.0","waves":[{"percent":-5}]}`, apiError{400, stamp.EINVALID, "wave 1: wave share -5%: want (0, 100]"}},
		{"wave typo", `{"blueprint":"ledger","version":"2.0.0","waves":[{"pct":5}]}`, apiError{400, stamp.EINVALID, `unknown field "pct"`}},
		{"error rate above", `{"blueprint":"ledger","version":"2.0.0","maxErrorRate":1.5}`, apiError{400, stamp.EINVALID, "maxErrorRate 1.5: want a share from 0 to 1"}},
		{"error rate below", `{"blueprint":"ledger","version":"2.0.0","maxErrorRate":-0.1}`, apiError{400, stamp.EINVALID, "maxErrorRate -0.1: want a share from 0 to 1"}},
		{"onFailure", `{"blueprint":"ledger","version":"2.0.0","onFailure":"retry"}`, apiError{400, stamp.EINVALID, `onFailure "retry": want rollback or pause`}},
		{"channel", `{"blueprint":"ledger","version":"2.0.0","channel":"alpha"}`, apiError{400, stamp.EINVALID, `channel "alpha" is unknown; use stable or beta`}},
		{"selector", `{"blueprint":"ledger","version":"2.0.0","selector":{"Ring":"canary"}}`, apiError{400, stamp.EINVALID,
			`label name "Ring" has uppercase 'R' at position 1; only a-z, 0-9 and '-' are allowed`}},
		{"soak unit", `{"blueprint":"ledger","version":"2.0.0","soak":"30"}`, apiError{400, stamp.EINVALID,
			`duration "30": want a non-negative duration such as "30s"`}},
		{"soak negative", `{"blueprint":"ledger","version":"2.0.0","soak":"-1s"}`, apiError{400, stamp.EINVALID,
			`duration "-1s": want a non-negative duration such as "30s"`}},
		{"soak number", `{"blueprint":"ledger","version":"2.0.0","soak":30}`, apiError{400, stamp.EINVALID,
			`duration 30: want a string such as "30s"`}},
		{"unknown blueprint", `{"blueprint":"nope","version":"1.0.0"}`, apiError{404, stamp.ENOTFOUND, "blueprint nope@1.0.0 does not exist; push it first"}},
		{"unknown version", `{"blueprint":"ledger","version":"9.9.9"}`, apiError{404, stamp.ENOTFOUND, "blueprint ledger@9.9.9 does not exist; push it first"}},
		{"unknown field", `{"blueprint":"ledger","version":"2.0.0","wave":[]}`, apiError{400, stamp.EINVALID, `unknown field "wave"`}},
		{"no body", ``, apiError{400, stamp.EINVALID, "request body is empty; a JSON object is expected"}},
		{"too large", `{"blueprint":"ledger","version":"2.0.0","selector":{"a":"` + strings.Repeat("x", 2<<10) + `"}}`, apiError{413, stamp.ETOOLARGE,
			"request body is over the 1 KiB limit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, got, _ := env.call(t, "POST", "/v1/releases", tt.body)
			tt.want.check(t, status, got)
		})
	}
	if list, err := env.client.Releases(context.Background()); err != nil || len(list) != 0 {
		t.Errorf("refused releases: list got %d, %v; want none recorded", len(list), err)
	}
	if ev := env.eventTypes(t, stamp.EventFilter{}); slices.ContainsFunc(ev, func(s string) bool { return strings.HasPrefix(s, stamp.EventReleaseCreated) }) {
		t.Errorf("refused releases recorded events: %q", ev)
	}
}

// TestCreateReleaseManyWaves needs a body limit that lets 101 waves
// through, to reach the wave count check.
func TestCreateReleaseManyWaves(t *testing.T) {
	env := newTestEnv(t)
	env.pushLedgers(t)
	body := func(n int) string {
		return `{"blueprint":"ledger","version":"2.0.0","waves":[` + strings.TrimSuffix(strings.Repeat(`{"count":1},`, n), ",") + `]}`
	}
	status, got, _ := env.call(t, "POST", "/v1/releases", body(101))
	apiError{400, stamp.EINVALID, "101 waves: at most 100 are allowed"}.check(t, status, got)
	status, got, _ = env.call(t, "POST", "/v1/releases", body(100))
	if status != http.StatusCreated {
		t.Errorf("100 waves: got %d %q, want 201", status, got.Message)
	}
}

func TestCreateReleaseBounds(t *testing.T) {
	env := newTestEnv(t)
	env.pushLedgers(t)
	tests := []struct {
		name, body string
		check      func(stamp.ReleaseSpec) bool
	}{
		{"maxParallel 1", `"maxParallel":1`, func(s stamp.ReleaseSpec) bool { return s.MaxParallel == 1 }},
		{"maxParallel 1000", `"maxParallel":1000`, func(s stamp.ReleaseSpec) bool { return s.MaxParallel == 1000 }},
		{"maxErrorRate 0", `"maxErrorRate":0`, func(s stamp.ReleaseSpec) bool { return s.MaxErrorRate == 0 }},
		{"maxErrorRate 1", `"maxErrorRate":1`, func(s stamp.ReleaseSpec) bool { return s.MaxErrorRate == 1 }},
		{"soak 0s", `"soak":"0s"`, func(s stamp.ReleaseSpec) bool { return s.Soak == 0 }},
		{"soak 1m30s", `"soak":"1m30s"`, func(s stamp.ReleaseSpec) bool { return time.Duration(s.Soak) == 90*time.Second }},
		{"soak null", `"soak":null`, func(s stamp.ReleaseSpec) bool { return time.Duration(s.Soak) == 30*time.Second }},
		{"onFailure pause", `"onFailure":"pause"`, func(s stamp.ReleaseSpec) bool { return s.OnFailure == stamp.OnFailurePause }},
		{"wave share 100", `"waves":[{"percent":12.5},{"percent":100}]`, func(s stamp.ReleaseSpec) bool { return len(s.Waves) == 2 && s.Waves[0].Percent == 12.5 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, e, body := env.call(t, "POST", "/v1/releases", `{"blueprint":"ledger","version":"2.0.0",`+tt.body+`}`)
			var rel stamp.Release
			if status != http.StatusCreated || json.Unmarshal(body, &rel) != nil {
				t.Fatalf("got %d %q, want 201", status, e.Message)
			}
			if !tt.check(rel.Spec) {
				t.Errorf("got spec %s", jsonString(t, rel.Spec))
			}
			env.finishRelease(t, rel.ID)
		})
	}
}

// newRelease creates a release of ledger@2.0.0 over a1, a2 and a3 (one
// wave each) and returns it.
func newRelease(t *testing.T, env *testEnv) *stamp.Release {
	t.Helper()
	rel, err := env.client.CreateRelease(context.Background(), CreateReleaseRequest{
		Blueprint: "ledger", Version: "2.0.0",
		Waves: []stamp.Wave{{Tenants: []string{"a1"}}, {Tenants: []string{"a2"}}, {Percent: 100}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

func TestReleaseControl(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	env.pushLedgers(t)
	releaseFleet(t, env)
	rel := newRelease(t, env)

	steps := []struct {
		action          string
		paused, aborted bool
	}{
		{"pause", true, false},
		{"pause", true, false},
		{"resume", false, false},
		{"abort", false, true},
		{"pause", true, true},
	}
	for i, s := range steps {
		t.Run(fmt.Sprintf("%d %s", i, s.action), func(t *testing.T) {
			status, e, body := env.call(t, "POST", "/v1/releases/"+rel.ID+"/"+s.action, "")
			var got stamp.Release
			if status != http.StatusAccepted || json.Unmarshal(body, &got) != nil {
				t.Fatalf("got %d %q, want 202", status, e.Message)
			}
			// The controller, not the API, moves the state.
			if got.Spec.Paused != s.paused || got.Spec.Aborted != s.aborted || got.Status.State != stamp.ReleaseRunning {
				t.Errorf("got paused %v aborted %v state %q, want %v %v running", got.Spec.Paused, got.Spec.Aborted, got.Status.State, s.paused, s.aborted)
			}
			stored, err := env.client.Release(ctx, rel.ID)
			if err != nil || stored.Spec.Paused != s.paused || stored.Spec.Aborted != s.aborted {
				t.Errorf("stored: got %+v, %v", stored.Spec, err)
			}
		})
	}

	for _, action := range []string{"pause", "resume", "abort"} {
		status, got, _ := env.call(t, "POST", "/v1/releases/rel-nope/"+action, "")
		apiError{404, stamp.ENOTFOUND, `release "rel-nope" does not exist`}.check(t, status, got)
	}
	status, got, _ := env.call(t, "POST", "/v1/releases/"+rel.ID+"/restart", "")
	apiError{404, stamp.ENOTFOUND, "no such endpoint: POST /v1/releases/" + rel.ID + "/restart"}.check(t, status, got)

	// Once finished, a release cannot change.
	for _, state := range []string{stamp.ReleaseSucceeded, stamp.ReleaseFailed, stamp.ReleaseAborted} {
		env.setRelease(t, rel.ID, func(r *stamp.Release) { r.Status.State = state })
		paths := []string{"pause", "resume", "abort", "tenants/a1/skip", "tenants/a1/retry"}
		for _, p := range paths {
			t.Run(state+" "+p, func(t *testing.T) {
				status, got, _ := env.call(t, "POST", "/v1/releases/"+rel.ID+"/"+p, `{}`)
				apiError{409, stamp.ECONFLICT, fmt.Sprintf("release %s is %s: it cannot change any more", rel.ID, state)}.check(t, status, got)
			})
		}
	}
}

func TestReleaseTenantSkipRetry(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.MaxBodyBytes = 1 << 10 })
	ctx := context.Background()
	env.pushLedgers(t)
	releaseFleet(t, env)
	for _, name := range []string{"b1", "b2", "b3", "b4", "b5"} {
		env.createTenant(t, CreateTenantRequest{Name: name, Blueprint: "ledger", Version: "1.0.0"})
		env.serve(t, name, "1.0.0")
	}
	rel := newRelease(t, env)
	// The controller has reached wave 2 and moved tenants along.
	state := map[string]string{
		"a1": stamp.ReleaseTenantFailed, "a2": stamp.ReleaseTenantUpgrading, "a3": stamp.ReleaseTenantUpgraded,
		"b1": stamp.ReleaseTenantRollingBack, "b2": stamp.ReleaseTenantRolledBack, "b3": stamp.ReleaseTenantSkipped,
		"b4": stamp.ReleaseTenantFailed,
	}
	env.setRelease(t, rel.ID, func(r *stamp.Release) {
		r.Status.Wave = 2
		for i := range r.Status.Tenants {
			if s, ok := state[r.Status.Tenants[i].Name]; ok {
				r.Status.Tenants[i].State = s
			}
		}
	})
	conflict := func(name, state string) apiError {
		return apiError{409, stamp.ECONFLICT, fmt.Sprintf("tenant %s is %s in release %s: only a pending or failed tenant can be skipped, and a failed or skipped one retried", name, state, rel.ID)}
	}

	steps := []struct {
		name, path, body string
		want             apiError // zero: 202
		wantTenant       string   // the tenant's line of targets after a 202
	}{
		{"skip pending with reason", "b5/skip", `{"reason":"customer freeze"}`, apiError{}, "b5 wave=2 from=1.0.0 skipped: skipped by an operator: customer freeze"},
		{"skip failed", "a1/skip", `{}`, apiError{}, "a1 wave=0 from=1.0.0 skipped: skipped by an operator"},
		{"skip skipped", "a1/skip", `{}`, conflict("a1", "skipped"), ""},
		{"skip upgrading", "a2/skip", `{}`, conflict("a2", "upgrading"), ""},
		{"skip upgraded", "a3/skip", `{}`, conflict("a3", "upgraded"), ""},
		{"skip rolling back", "b1/skip", `{}`, conflict("b1", "rolling-back"), ""},
		{"skip rolled back", "b2/skip", `{}`, conflict("b2", "rolled-back"), ""},
		{"retry skipped", "a1/retry", ``, apiError{}, "a1 wave=2 from=1.0.0 pending: requeued by an operator"},
		{"retry pending", "a1/retry", ``, conflict("a1", "pending"), ""},
		{"retry failed", "b4/retry", ``, apiError{}, "b4 wave=2 from=1.0.0 pending: requeued by an operator"},
		{"retry skipped in a wave", "b3/retry", ``, apiError{}, "b3 wave=2 from=1.0.0 pending: requeued by an operator"},
		{"retry upgrading", "a2/retry", ``, conflict("a2", "upgrading"), ""},
		{"retry upgraded", "a3/retry", ``, conflict("a3", "upgraded"), ""},
		// Tenants the release left out at creation have no wave: putting a
		// pinned or departing tenant in line would move it against its
		// owner's wish.
		{"retry pinned", "held/retry", ``, apiError{409, stamp.ECONFLICT, fmt.Sprintf(
			"tenant held was left out when release %s was created (pinned to version 1.0.0); a new release can take it", rel.ID)}, ""},
		{"retry deleting", "gone/retry", ``, apiError{409, stamp.ECONFLICT, fmt.Sprintf(
			"tenant gone was left out when release %s was created (the tenant is being deleted); a new release can take it", rel.ID)}, ""},
		{"skip a tenant the release does not target", "done/skip", `{}`, apiError{404, stamp.ENOTFOUND,
			fmt.Sprintf(`release %s does not target tenant "done"`, rel.ID)}, ""},
		{"retry an unknown tenant", "nope/retry", ``, apiError{404, stamp.ENOTFOUND, fmt.Sprintf(`release %s does not target tenant "nope"`, rel.ID)}, ""},
		{"skip without a body", "b4/skip", ``, apiError{}, "b4 wave=2 from=1.0.0 skipped: skipped by an operator"},
		{"skip unknown field", "a1/skip", `{"why":"x"}`, apiError{400, stamp.EINVALID, `unknown field "why"`}, ""},
		{"skip too large", "a1/skip", `{"reason":"` + strings.Repeat("x", 2<<10) + `"}`, apiError{413, stamp.ETOOLARGE, "request body is over the 1 KiB limit"}, ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			before, err := env.client.Release(ctx, rel.ID)
			if err != nil {
				t.Fatal(err)
			}
			status, e, body := env.call(t, "POST", "/v1/releases/"+rel.ID+"/tenants/"+s.path, s.body)
			after, err := env.client.Release(ctx, rel.ID)
			if err != nil {
				t.Fatal(err)
			}
			if s.want.status != 0 {
				s.want.check(t, status, e)
				if after.ResourceVersion != before.ResourceVersion {
					t.Errorf("a refused request wrote the release")
				}
				return
			}
			var got stamp.Release
			if status != http.StatusAccepted || json.Unmarshal(body, &got) != nil {
				t.Fatalf("got %d %q, want 202", status, e.Message)
			}
			name, _, _ := strings.Cut(s.path, "/")
			i := slices.IndexFunc(after.Status.Tenants, func(rt stamp.ReleaseTenant) bool { return rt.Name == name })
			if line := targets(after)[i]; line != s.wantTenant {
				t.Errorf("got %q, want %q", line, s.wantTenant)
			}
			if jsonString(t, got.Status) != jsonString(t, after.Status) {
				t.Errorf("the answer differs from what was stored:\n%s\n%s", jsonString(t, got.Status), jsonString(t, after.Status))
			}
		})
	}

	status, got, _ := env.call(t, "POST", "/v1/releases/rel-nope/tenants/a1/skip", `{}`)
	apiError{404, stamp.ENOTFOUND, `release "rel-nope" does not exist`}.check(t, status, got)
	_, err := env.client.RetryReleaseTenant(ctx, "rel-nope", "a1")
	wantError(t, err, stamp.ENOTFOUND, `release "rel-nope" does not exist`)
	if _, err := env.client.SkipReleaseTenant(ctx, rel.ID, "b3", ""); err != nil {
		t.Errorf("client skip without a reason: %v", err)
	}
}

// fakeRaceStore is a fake above Store that makes concurrent
// requests collide for sure: once armed with n, it holds the first n
// reads of a tenant or a release until all n have read, so that every
// one of those requests changes the same stored version. Later reads pass
// straight through.
type fakeRaceStore struct {
	Store
	mu      sync.Mutex
	waiting int           // reads still to be held
	all     chan struct{} // closed when the last held read is done
}

// arm holds the next n reads.
func (s *fakeRaceStore) arm(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waiting, s.all = n, make(chan struct{})
}

// hold waits, if armed, until the armed number of reads have been made.
func (s *fakeRaceStore) hold(ctx context.Context) error {
	s.mu.Lock()
	if s.waiting == 0 {
		s.mu.Unlock()
		return nil
	}
	s.waiting--
	all := s.all
	if s.waiting == 0 {
		close(all)
	}
	s.mu.Unlock()
	select {
	case <-all:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *fakeRaceStore) GetRelease(ctx context.Context, id string) (*stamp.Release, error) {
	r, err := s.Store.GetRelease(ctx, id)
	if herr := s.hold(ctx); herr != nil {
		return nil, herr
	}
	return r, err
}

func (s *fakeRaceStore) GetTenant(ctx context.Context, name string) (*stamp.Tenant, error) {
	t, err := s.Store.GetTenant(ctx, name)
	if herr := s.hold(ctx); herr != nil {
		return nil, herr
	}
	return t, err
}

// newRaceEnv starts a server whose store is a fakeRaceStore.
func newRaceEnv(t *testing.T) (*testEnv, *fakeRaceStore) {
	t.Helper()
	var race *fakeRaceStore
	env := newTestEnv(t, func(c *Config) {
		race = &fakeRaceStore{Store: c.Store}
		c.Store = race
	})
	return env, race
}

// raceContext bounds a race's requests, only so that a broken barrier
// fails the test instead of hanging it.
func raceContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestSkipConcurrent races operators skipping tenants of one release, all
// of them changing the same stored version of it: every answer must agree
// with the stored release, and no accepted skip may be lost.
func TestSkipConcurrent(t *testing.T) {
	env, race := newRaceEnv(t)
	ctx := raceContext(t)
	env.pushLedgers(t)
	var names []string
	for i := range 8 {
		name := fmt.Sprintf("c%d", i)
		names = append(names, name)
		env.createTenant(t, CreateTenantRequest{Name: name, Blueprint: "ledger", Version: "1.0.0"})
		env.serve(t, name, "1.0.0")
	}
	rel, err := env.client.CreateRelease(ctx, CreateReleaseRequest{Blueprint: "ledger", Version: "1.1.0"})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("same tenant", func(t *testing.T) {
		const n = 4
		errs := make([]error, n)
		race.arm(n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = env.client.SkipReleaseTenant(ctx, rel.ID, "c0", fmt.Sprintf("operator %d", i))
			})
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("operators %d and %d both skipped c0", winner, i)
			case err == nil:
				winner = i
			case stamp.ErrorCode(err) != stamp.ECONFLICT:
				t.Errorf("operator %d: got %v, want success or a conflict", i, err)
			case err.Error() != fmt.Sprintf("tenant c0 is skipped in release %s: only a pending or failed tenant can be skipped, and a failed or skipped one retried", rel.ID):
				t.Errorf("operator %d: got %q, want the conflict to say c0 is skipped already", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("no operator skipped c0")
		}
		got, err := env.client.Release(ctx, rel.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rt := got.Status.Tenants[0]; rt.Name != "c0" || rt.Message != fmt.Sprintf("skipped by an operator: operator %d", winner) {
			t.Errorf("stored: got %+v, want the skip of operator %d", rt, winner)
		}
	})

	t.Run("other tenants", func(t *testing.T) {
		errs := make([]error, len(names))
		race.arm(len(names) - 1)
		var wg sync.WaitGroup
		for i, name := range names[1:] {
			wg.Go(func() { _, errs[i+1] = env.client.SkipReleaseTenant(ctx, rel.ID, name, "") })
		}
		wg.Wait()
		got, err := env.client.Release(ctx, rel.ID)
		if err != nil {
			t.Fatal(err)
		}
		accepted := 0
		for i, rt := range got.Status.Tenants[1:] {
			err := errs[i+1]
			switch {
			case rt.Name != names[i+1]:
				t.Fatalf("tenant %d of the release is %s, want %s", i+1, rt.Name, names[i+1])
			case err == nil && rt.State != stamp.ReleaseTenantSkipped:
				t.Errorf("%s: skip accepted but the tenant is %s: the update was lost", rt.Name, rt.State)
			case err == nil:
				accepted++
			case stamp.ErrorCode(err) != stamp.ECONFLICT:
				t.Errorf("%s: got %v, want success or a conflict", rt.Name, err)
			case err.Error() != fmt.Sprintf("release %q kept changing while it was being updated; try again", rel.ID):
				t.Errorf("%s: got %q, want the release to be named as changing", rt.Name, err)
			case rt.State != stamp.ReleaseTenantPending:
				t.Errorf("%s: skip refused (%v) but the tenant is %s", rt.Name, err, rt.State)
			}
		}
		// All read one version, so at most one got it in first time; the
		// rest retried.
		if accepted == 0 {
			t.Error("no skip was accepted")
		}
	})
}

// TestUpgradeConcurrent races upgrades of one tenant, all changing the
// same stored version of it: each accepted one is a generation and an
// event of its own, and the last event names the stored version.
func TestUpgradeConcurrent(t *testing.T) {
	env, race := newRaceEnv(t)
	ctx := raceContext(t)
	env.pushLedgers(t)
	env.createTenant(t, CreateTenantRequest{Name: "acme", Blueprint: "ledger", Version: "1.0.0"})
	versions := []string{"1.1.0", "2.0.0", "1.1.0", "2.0.0", "1.1.0", "2.0.0"}
	errs := make([]error, len(versions))
	race.arm(len(versions))
	var wg sync.WaitGroup
	for i, v := range versions {
		wg.Go(func() { _, errs[i] = env.client.UpgradeTenant(ctx, "acme", v) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && stamp.ErrorCode(err) != stamp.ECONFLICT {
			t.Errorf("upgrade %d to %s: got %v, want success or a conflict", i, versions[i], err)
		}
	}
	tn, err := env.client.GetTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	events, err := env.client.Events(ctx, stamp.EventFilter{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	requested := 0
	var last *stamp.Event
	for _, ev := range events {
		if ev.Type == stamp.EventTenantUpgradeRequested {
			requested++
			last = ev
		}
	}
	if requested == 0 || tn.Generation != int64(1+requested) {
		t.Errorf("generation %d after %d upgrade events, want at least one and generation %d", tn.Generation, requested, 1+requested)
	}
	if last == nil || last.Generation != tn.Generation || !strings.HasSuffix(last.Message, " to "+tn.Spec.Version) {
		t.Errorf("last upgrade event %+v does not match the tenant (generation %d, version %s)", last, tn.Generation, tn.Spec.Version)
	}
}

func TestEventsByRelease(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	env.pushLedgers(t)
	releaseFleet(t, env)
	ledger := newRelease(t, env)
	crm, err := env.client.CreateRelease(ctx, CreateReleaseRequest{Blueprint: "crm", Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	for _, rel := range []*stamp.Release{ledger, crm} {
		events, err := env.client.Events(ctx, stamp.EventFilter{Release: rel.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 1 || events[0].Release != rel.ID || events[0].Type != stamp.EventReleaseCreated {
			t.Errorf("events of %s: got %s, want only its creation", rel.ID, jsonString(t, events))
		}
	}
	status, e, body := env.call(t, "GET", "/v1/events?release=rel-nope", "")
	if status != http.StatusOK || strings.TrimSpace(string(body)) != `{"events":[]}` {
		t.Errorf("unknown release: got %d %q %s, want 200 and no events", status, e.Message, body)
	}
	all := strings.Join(env.eventTypes(t, stamp.EventFilter{}), "\n")
	if strings.Count(all, stamp.EventReleaseCreated) != 2 || !strings.Contains(all, stamp.EventTenantCreated) {
		t.Errorf("unfiltered: got\n%s\nwant both releases' events and the tenants'", all)
	}
}

// TestReleaseRoutesAuth checks that every route added for upgrades, pins
// and releases wants a token, and that a refused request changes nothing.
func TestReleaseRoutesAuth(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	env.pushLedgers(t)
	releaseFleet(t, env)
	rel := newRelease(t, env)
	routes := []struct{ method, path, body string }{
		{"POST", "/v1/tenants/a1/upgrade", `{"version":"1.1.0"}`},
		{"POST", "/v1/tenants/a1/pin", `{"version":"1.1.0"}`},
		{"DELETE", "/v1/tenants/held/pin", ``},
		{"POST", "/v1/releases", `{"blueprint":"crm","version":"1.0.0"}`},
		{"GET", "/v1/releases", ``},
		{"GET", "/v1/releases/" + rel.ID, ``},
		{"POST", "/v1/releases/" + rel.ID + "/pause", ``},
		{"POST", "/v1/releases/" + rel.ID + "/resume", ``},
		{"POST", "/v1/releases/" + rel.ID + "/abort", ``},
		{"POST", "/v1/releases/" + rel.ID + "/tenants/a1/skip", `{}`},
		{"POST", "/v1/releases/" + rel.ID + "/tenants/a1/retry", ``},
		{"GET", "/v1/events?release=" + rel.ID, ``},
	}
	tokens := []struct{ name, token, msg string }{
		{"no token", "", `missing bearer token: send the header "Authorization: Bearer <token>"`},
		{"bad token", NewToken(), "bearer token is not valid"},
	}
	before := env.eventTypes(t, stamp.EventFilter{})
	for _, r := range routes {
		for _, tok := range tokens {
			t.Run(tok.name+" "+r.method+" "+r.path, func(t *testing.T) {
				status, h, got := env.raw(t, r.method, r.path, tok.token, strings.NewReader(r.body))
				apiError{401, stamp.EUNAUTHORIZED, tok.msg}.check(t, status, got)
				if !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("WWW-Authenticate: got %q, want Bearer", h.Get("WWW-Authenticate"))
				}
			})
		}
	}
	if after := env.eventTypes(t, stamp.EventFilter{}); !slices.Equal(after, before) {
		t.Errorf("refused requests added events: %q", after[len(before):])
	}
	stored, err := env.client.Release(ctx, rel.ID)
	if err != nil || stored.ResourceVersion != rel.ResourceVersion {
		t.Errorf("release: got %+v, %v; want it unwritten", stored, err)
	}
	if list, err := env.client.Releases(ctx); err != nil || len(list) != 1 {
		t.Errorf("releases: got %d, %v; want only %s", len(list), err, rel.ID)
	}
	for _, name := range []string{"a1", "held"} {
		tn, err := env.client.GetTenant(ctx, name)
		if err != nil || tn.Generation != 1 || tn.Spec.Version != "1.0.0" || (name == "held") != (tn.Spec.Pin == "1.0.0") {
			t.Errorf("%s: got %+v, %v; want it unchanged", name, tn.Spec, err)
		}
	}
}
