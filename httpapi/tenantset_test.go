package httpapi

import (
	"context"
	"strings"
	"testing"

	"github.com/stamphq/stamp"
)

// secretLedgerYAML is ledgerYAML with an initial admin password, a secret
// parameter.
var secretLedgerYAML = strings.Replace(ledgerYAML, "  admin_email: { required: true }",
	"  admin_email: { required: true }\n  admin_password: { required: true, secret: true, pattern: \"^.{8,}$\" }", 1)

const adminPassword = "correct-horse-battery"

// createSecretTenant pushes secretLedgerYAML and creates acme with its
// admin password.
func createSecretTenant(t *testing.T, env *testEnv) *stamp.Tenant {
	t.Helper()
	env.push(t, secretLedgerYAML)
	tn, err := env.client.CreateTenant(t.Context(), CreateTenantRequest{Name: "acme", Blueprint: "ledger",
		Params: map[string]string{"admin_email": "ops@acme.test", "admin_password": adminPassword}})
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

// noneHolds fails the test if the JSON of any of vs holds secret.
func noneHolds(t *testing.T, secret string, vs map[string]any) {
	t.Helper()
	for what, v := range vs {
		if s := jsonString(t, v); strings.Contains(s, secret) {
			t.Errorf("%s holds the secret parameter's value: %s", what, s)
		}
	}
}

// TestSecretParameterIsKeptAsASecret creates a tenant with a secret
// parameter: the value is among the tenant's secrets, and neither the
// stored spec, nor what the API answers, nor the events hold it; the API
// names the parameter with its value redacted.
func TestSecretParameterIsKeptAsASecret(t *testing.T) {
	env := newTestEnv(t)
	created := createSecretTenant(t, env)
	got, err := env.client.GetTenant(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	list, err := env.client.ListTenants(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for what, tn := range map[string]*stamp.Tenant{"create": created, "get": got, "list": list[0]} {
		if v := tn.Spec.Params["admin_password"]; v != stamp.MaskedValue {
			t.Errorf("%s: admin_password shown as %q, want %q", what, v, stamp.MaskedValue)
		}
	}
	stored, err := env.store.GetTenant(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := stored.Spec.Params["admin_password"]; ok || !strings.Contains(strings.Join(stored.Spec.SecretParams, ","), "admin_password") {
		t.Errorf("stored spec: params %v, secret params %v; want admin_password only among the secret params", stored.Spec.Params, stored.Spec.SecretParams)
	}
	secrets, err := env.store.Secrets(t.Context(), "acme")
	if err != nil || secrets["param.admin_password"] != adminPassword {
		t.Errorf("secrets: got %v, %v; want param.admin_password", secrets, err)
	}
	events, err := env.client.Events(t.Context(), stamp.EventFilter{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	noneHolds(t, adminPassword, map[string]any{"create answer": created, "get": got, "list": list, "stored spec": stored.Spec, "events": events})

	_, err = env.client.CreateTenant(t.Context(), CreateTenantRequest{Name: "globex", Blueprint: "ledger",
		Params: map[string]string{"admin_email": "it@globex.test", "admin_password": "short"}})
	wantError(t, err, stamp.EUNPROCESSABLE, `parameter "admin_password": value "short" does not match pattern "^.{8,}$"`)
}

// TestSetTenant changes a tenant's parameters and plan: validated as at
// create, a new generation with its config generation, an event naming
// what changed (a secret value masked), the secret value stored; and no
// change, bad input and a tenant being deleted are answered as such.
func TestSetTenant(t *testing.T) {
	env := newTestEnv(t)
	createSecretTenant(t, env)
	ctx := t.Context()

	bad := []struct {
		req       SetTenantRequest
		code, msg string
	}{
		{SetTenantRequest{}, stamp.EINVALID, "nothing to change: give a plan or parameters"},
		{SetTenantRequest{Plan: "huge"}, stamp.EUNPROCESSABLE, `plan "huge" does not exist in blueprint ledger@1.0.0 (plans: business, starter)`},
		{SetTenantRequest{Params: map[string]string{"colour": "red"}}, stamp.EUNPROCESSABLE, `unknown parameter "colour" (parameters: admin_email, admin_password, currency)`},
		{SetTenantRequest{Params: map[string]string{"currency": "usd"}}, stamp.EUNPROCESSABLE, `parameter "currency": value "usd" does not match pattern "^[A-Z]{3}$"`},
		{SetTenantRequest{Params: map[string]string{"admin_email": ""}}, stamp.EUNPROCESSABLE, `parameter "admin_email" is required`},
	}
	for _, tt := range bad {
		_, err := env.client.SetTenant(ctx, "acme", tt.req)
		wantError(t, err, tt.code, tt.msg)
	}
	if tn, _ := env.store.GetTenant(ctx, "acme"); tn.Generation != 1 {
		t.Fatalf("after refused changes: generation %d, want 1", tn.Generation)
	}

	got, err := env.client.SetTenant(ctx, "acme", SetTenantRequest{Plan: "business",
		Params: map[string]string{"currency": "USD", "admin_password": "new-password-42", "admin_email": "ops@acme.test"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Generation != 2 || got.Spec.ConfigGeneration != 2 || got.Spec.Plan != "business" || got.Spec.Params["currency"] != "USD" ||
		got.Spec.Params["admin_password"] != stamp.MaskedValue || got.Spec.Revision() != "1.0.0_c2" {
		t.Errorf("after set: got generation %d, config %d, plan %s, params %v, revision %s; want 2, 2, business, currency USD, 1.0.0_c2",
			got.Generation, got.Spec.ConfigGeneration, got.Spec.Plan, got.Spec.Params, got.Spec.Revision())
	}
	secrets, _ := env.store.Secrets(ctx, "acme")
	if secrets["param.admin_password"] != "new-password-42" {
		t.Errorf("stored admin_password: got %q, want the new one", secrets["param.admin_password"])
	}
	events, err := env.client.Events(ctx, stamp.EventFilter{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	last := events[len(events)-1]
	if want := `plan starter to business; admin_password [redacted]; currency "EUR" to "USD"`; last.Type != stamp.EventTenantChanged || last.Message != want || last.Generation != 2 {
		t.Errorf("event: got %s %q (generation %d), want %s %q (generation 2)", last.Type, last.Message, last.Generation, stamp.EventTenantChanged, want)
	}
	noneHolds(t, "new-password-42", map[string]any{"answer": got, "events": events})

	again, err := env.client.SetTenant(ctx, "acme", SetTenantRequest{Params: map[string]string{"currency": "USD"}})
	if err != nil || again.Generation != 2 {
		t.Errorf("the same change again: got generation %d, %v; want 2 (nothing changed)", again.Generation, err)
	}
	if _, err := env.client.DeleteTenant(ctx, "acme", DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = env.client.SetTenant(ctx, "acme", SetTenantRequest{Plan: "starter"})
	wantError(t, err, stamp.ECONFLICT, `tenant "acme" is being deleted`)
	_, err = env.client.SetTenant(ctx, "nope", SetTenantRequest{Plan: "starter"})
	wantError(t, err, stamp.ENOTFOUND, `tenant "nope" does not exist`)
}

// TestTenantSecrets lists a tenant's secrets: names and kinds for an
// admin, values only when revealed, and each reveal is an event naming
// the token and the secrets but no value; a token that is not an admin's
// is refused, and nothing is recorded for it.
func TestTenantSecrets(t *testing.T) {
	env := newTestEnv(t)
	createSecretTenant(t, env)
	ctx := t.Context()
	if err := env.store.PutSecrets(ctx, "acme", map[string]string{"session_key": "generated-key-1", "db.main.password": "db-password-1"}); err != nil {
		t.Fatal(err)
	}
	hidden, err := env.client.TenantSecrets(ctx, "acme", false)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"tenant":"acme","revealed":false,"secrets":[{"name":"db.main.password","kind":"database-password"},{"name":"param.admin_password","kind":"parameter"},{"name":"session_key","kind":"generated"}]}`
	if got := jsonString(t, hidden); got != want {
		t.Errorf("listed: got %s, want %s", got, want)
	}
	shown, err := env.client.TenantSecrets(ctx, "acme", true)
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]string{}
	for _, s := range shown.Secrets {
		values[s.Name] = s.Value
	}
	if !shown.Revealed || values["param.admin_password"] != adminPassword || values["session_key"] != "generated-key-1" {
		t.Errorf("revealed: got %s", jsonString(t, shown))
	}
	revealEvents := func() []*stamp.Event {
		events, err := env.client.Events(ctx, stamp.EventFilter{Tenant: "acme"})
		if err != nil {
			t.Fatal(err)
		}
		var out []*stamp.Event
		for _, e := range events {
			if e.Type == stamp.EventTenantSecretsRevealed {
				out = append(out, e)
			}
		}
		return out
	}
	reveals := revealEvents()
	if len(reveals) != 1 || reveals[0].Message != "by admin: db.main.password, param.admin_password, session_key" {
		t.Errorf("reveal events: got %s, want one naming the admin token and the three secrets", jsonString(t, reveals))
	}
	noneHolds(t, adminPassword, map[string]any{"events": reveals})

	ci := NewToken()
	if err := env.store.CreateToken(ctx, &stamp.Token{ID: "ci", Name: "ci", Role: stamp.RoleOperator, Hash: HashToken(ci)}); err != nil {
		t.Fatal(err)
	}
	for _, reveal := range []bool{false, true} {
		_, err := NewClient(env.url, ci).TenantSecrets(ctx, "acme", reveal)
		wantError(t, err, stamp.EFORBIDDEN, "GET /v1/tenants/acme/secrets needs a token of role admin or above; token ci is operator")
	}
	if got := revealEvents(); len(got) != 1 {
		t.Errorf("after refused requests: %d reveal events, want still 1", len(got))
	}
	status, _, body := env.raw(t, "GET", "/v1/tenants/acme/secrets?reveal=yes", env.token, nil)
	if status != 400 || body.Message != `reveal "yes": want true or false` {
		t.Errorf("reveal=yes: got %d %q, want 400", status, body.Message)
	}
	_, err = env.client.TenantSecrets(context.Background(), "nope", false)
	wantError(t, err, stamp.ENOTFOUND, `tenant "nope" does not exist`)
}

// TestUpgradeRefusedForANewRequiredSecret moves a tenant to a version
// that adds a required secret parameter: the tenant cannot have a value
// for it (a change is checked against the version it runs), so the move
// is refused up front rather than failing at its start.
func TestUpgradeRefusedForANewRequiredSecret(t *testing.T) {
	env := newTestEnv(t)
	env.push(t, ledgerYAML)
	if _, err := env.client.CreateTenant(t.Context(), CreateTenantRequest{Name: "acme", Blueprint: "ledger",
		Params: map[string]string{"admin_email": "ops@acme.test"}}); err != nil {
		t.Fatal(err)
	}
	env.push(t, strings.Replace(secretLedgerYAML, "version: 1.0.0", "version: 1.1.0", 1))
	_, err := env.client.UpgradeTenant(t.Context(), "acme", "1.1.0")
	wantError(t, err, stamp.EUNPROCESSABLE, `ledger@1.1.0 does not fit tenant acme: it requires secret parameter "admin_password", which the tenant has no value for; give the parameter a default in ledger@1.1.0`)
}

// secretsRefused is a store whose PutSecrets fails, as a store that
// went away between two writes would.
type secretsRefused struct{ Store }

func (secretsRefused) PutSecrets(context.Context, string, map[string]string) error {
	return stamp.Errorf(stamp.EUNAVAILABLE, "store unavailable")
}

// TestCreateUndoneWhenSecretsFail: a tenant whose secret parameters
// cannot be stored is deleted again, and its history says so: a
// tenant.created is never left without a tenant or an event explaining
// why there is none.
func TestCreateUndoneWhenSecretsFail(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.Store = secretsRefused{c.Store} })
	env.push(t, secretLedgerYAML)
	_, err := env.client.CreateTenant(t.Context(), CreateTenantRequest{Name: "acme", Blueprint: "ledger",
		Params: map[string]string{"admin_email": "ops@acme.test", "admin_password": adminPassword}})
	if err == nil {
		t.Fatal("create with its secrets refused: no error")
	}
	if _, err := env.store.GetTenant(t.Context(), "acme"); stamp.ErrorCode(err) != stamp.ENOTFOUND {
		t.Fatalf("tenant after its secrets were refused: %v; want it gone", err)
	}
	events, err := env.store.ListEvents(t.Context(), stamp.EventFilter{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range events {
		types = append(types, e.Type)
	}
	if strings.Join(types, ",") != stamp.EventTenantCreated+","+stamp.EventTenantDeleted {
		t.Errorf("events of acme: %v; want its creation and its undoing", types)
	}
}
