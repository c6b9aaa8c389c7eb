package httpapi

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/sqlite"
)

const ledgerYAML = `name: ledger
version: 1.0.0
description: Invoicing for small businesses

parameters:
  currency: { default: EUR, pattern: "^[A-Z]{3}$" }
  admin_email: { required: true }

plans:
  starter:  { memory: 128Mi, cpu: 0.25, replicas: 1, idle: 15m }
  business: { memory: 512Mi, cpu: 1,    replicas: 2 }
default_plan: starter

databases:
  main: { engine: sqlite }

services:
  web:
    command: [bin/ledger, serve]
    port: 8080
    public: true
    env:
      DATABASE_URL: ${db.main.url}
      CURRENCY: ${param.currency}
`

// ledgerVersion returns the ledger blueprint at another version.
func ledgerVersion(version string) string {
	return strings.Replace(ledgerYAML, "version: 1.0.0", "version: "+version, 1)
}

// testEnv is a server on a real SQLite store, reached over real HTTP.
type testEnv struct {
	client *Client
	store  stamp.Store
	url    string
	token  string
	logs   *syncBuffer

	mu       sync.Mutex
	enqueued []string
}

// newTestEnv starts a server; configure adjusts its Config (the store
// included, so that a test can wrap it).
func newTestEnv(t *testing.T, configure ...func(*Config)) *testEnv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "stamp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	token := NewToken()
	if err := st.CreateToken(ctx, &stamp.Token{ID: "admin", Name: "admin", Role: stamp.RoleAdmin, Hash: HashToken(token)}); err != nil {
		t.Fatal(err)
	}
	env := &testEnv{store: st, token: token, logs: new(syncBuffer)}
	cfg := Config{
		Store:   st,
		Engines: map[string]bool{"sqlite": true},
		Logger:  slog.New(slog.NewJSONHandler(env.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Enqueue: func(name string) {
			env.mu.Lock()
			defer env.mu.Unlock()
			env.enqueued = append(env.enqueued, name)
		},
	}
	for _, f := range configure {
		f(&cfg)
	}
	srv := httptest.NewServer(NewServer(cfg))
	t.Cleanup(srv.Close)
	env.url = srv.URL
	env.client = NewClient(srv.URL, token)
	return env
}

// raw sends a request without the client and returns the status, the
// headers and the decoded error body (zero for a success).
func (e *testEnv) raw(t *testing.T, method, path, token string, body io.Reader) (int, http.Header, errorDetail) {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode >= 400 && ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want %q", method, path, ct, "application/json")
	}
	var eb errorBody
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(data, &eb); err != nil {
			t.Fatalf("%s %s: error body %q is not JSON: %v", method, path, data, err)
		}
	}
	return resp.StatusCode, resp.Header, eb.Error
}

// push uploads a bundle holding stamp.yaml and fails the test on error.
func (e *testEnv) push(t *testing.T, yaml string) *stamp.Bundle {
	t.Helper()
	b, _, err := e.client.PushBundle(context.Background(), packBundle(t, map[string]string{"stamp.yaml": yaml}))
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	return b
}

func (e *testEnv) enqueuedNames() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.enqueued...)
}

// packBundle builds a bundle archive (gzipped tar) of files.
func packBundle(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, content := range files {
		hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// wantError checks that err is a *stamp.Error with code and message.
func wantError(t *testing.T, err error, code, msg string) {
	t.Helper()
	var se *stamp.Error
	if !errors.As(err, &se) {
		t.Fatalf("got error %v (%T), want *stamp.Error %s %q", err, err, code, msg)
	}
	if se.Code != code || se.Message != msg {
		t.Errorf("got %s %q, want %s %q", se.Code, se.Message, code, msg)
	}
}

// syncBuffer is a log destination safe to read while the server writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// waitFor returns the log once it contains s; the deadline only keeps a
// broken test from hanging.
func (b *syncBuffer) waitFor(t *testing.T, s string) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b.mu.Lock()
		out := b.buf.String()
		b.mu.Unlock()
		if strings.Contains(out, s) {
			return out
		}
	}
	t.Fatalf("log never contained %q", s)
	return ""
}

func TestHealth(t *testing.T) {
	ready := errors.New("store ping: database is locked")
	env := newTestEnv(t, func(c *Config) { c.Ready = func(context.Context) error { return ready } })
	if status, _, _ := env.raw(t, "GET", "/healthz", "", nil); status != http.StatusOK {
		t.Errorf("healthz: got %d, want %d", status, http.StatusOK)
	}
	status, _, e := env.raw(t, "GET", "/readyz", "", nil)
	if status != http.StatusServiceUnavailable || e.Message != "not ready" {
		t.Errorf("readyz: got %d %q, want %d %q", status, e.Message, http.StatusServiceUnavailable, "not ready")
	}
}

func TestAuth(t *testing.T) {
	env := newTestEnv(t)
	tests := []struct {
		name, header, want string
	}{
		{"missing", "", `missing bearer token: send the header "Authorization: Bearer <token>"`},
		{"other scheme", "Basic YWRtaW46YWRtaW4=", `missing bearer token: send the header "Authorization: Bearer <token>"`},
		{"wrong token", "Bearer " + NewToken(), "bearer token is not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", env.url+"/v1/tenants", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate: got %q, want Bearer", got)
			}
			wantError(t, responseError(resp), stamp.EUNAUTHORIZED, tt.want)
		})
	}
	t.Run("client", func(t *testing.T) {
		_, err := NewClient(env.url, "stp_nope").ListTenants(context.Background())
		wantError(t, err, stamp.EUNAUTHORIZED, "bearer token is not valid")
		if _, err := env.client.ListTenants(context.Background()); err != nil {
			t.Errorf("with the admin token: %v", err)
		}
	})
}

func TestToken(t *testing.T) {
	a, b := NewToken(), NewToken()
	if a == b || !strings.HasPrefix(a, "stp_") || len(a) != len("stp_")+52 {
		t.Errorf("NewToken: got %q and %q, want two distinct stp_ tokens of 56 characters", a, b)
	}
	if got, want := HashToken("secret"), "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"; got != want {
		t.Errorf("HashToken: got %q, want %q", got, want)
	}
}

func TestPushBundle(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.MaxBundleBytes = 8 << 10 })
	ctx := context.Background()
	content := packBundle(t, map[string]string{"stamp.yaml": ledgerYAML, "README": "hi"})

	b, created, err := env.client.PushBundle(ctx, content)
	if err != nil {
		t.Fatal(err)
	}
	if !created || b.Ref() != "ledger@1.0.0" || b.Size != int64(len(content)) || !strings.HasPrefix(b.Digest, "sha256:") {
		t.Errorf("first push: got %+v created=%v, want ledger@1.0.0 created", b, created)
	}
	again, created, err := env.client.PushBundle(ctx, content)
	if err != nil || created || again.Digest != b.Digest {
		t.Errorf("second push: got %+v created=%v err=%v, want the same bundle, not created", again, created, err)
	}

	changed := packBundle(t, map[string]string{"stamp.yaml": ledgerYAML, "README": "changed"})
	_, _, err = env.client.PushBundle(ctx, changed)
	if code := stamp.ErrorCode(err); code != stamp.ECONFLICT || !strings.Contains(err.Error(), "ledger@1.0.0") {
		t.Errorf("changed content: got %s %v, want conflict naming ledger@1.0.0", code, err)
	}

	broken := strings.Replace(ledgerVersion("1.1.0"), "port: 8080", "port: 8080\n    colour: blue", 1)
	_, _, err = env.client.PushBundle(ctx, packBundle(t, map[string]string{"stamp.yaml": broken}))
	if code := stamp.ErrorCode(err); code != stamp.EUNPROCESSABLE || !strings.Contains(err.Error(), "stamp.yaml:21") || !strings.Contains(err.Error(), "colour") {
		t.Errorf("broken blueprint: got %s %v, want unprocessable naming stamp.yaml:21 and colour", code, err)
	}

	_, _, err = env.client.PushBundle(ctx, packBundle(t, map[string]string{"README": "no blueprint"}))
	wantError(t, err, stamp.EUNPROCESSABLE, "bundle has no stamp.yaml at its root")

	_, _, err = env.client.PushBundle(ctx, []byte("not an archive"))
	if code := stamp.ErrorCode(err); code != stamp.EUNPROCESSABLE && code != stamp.EINVALID {
		t.Errorf("garbage: got %s %v, want a client error", code, err)
	}

	noise := make([]byte, 16<<10)
	rand.Read(noise)
	_, _, err = env.client.PushBundle(ctx, packBundle(t, map[string]string{"stamp.yaml": ledgerYAML, "noise": string(noise)}))
	wantError(t, err, stamp.ETOOLARGE, "request body is over the 8 KiB limit")

	events, err := env.client.Events(ctx, stamp.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Type != stamp.EventBlueprintPushed {
		t.Errorf("events: got %+v, want one %s", events, stamp.EventBlueprintPushed)
	}
}

func TestGetBundle(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	for _, v := range []string{"1.0.0", "1.10.0", "1.2.0"} {
		env.push(t, ledgerVersion(v))
	}

	latest, err := env.client.GetBundle(ctx, "ledger", "")
	if err != nil {
		t.Fatal(err)
	}
	if latest.Version != "1.10.0" || latest.Blueprint != ledgerVersion("1.10.0") {
		t.Errorf("latest: got version %q, want %q with its stamp.yaml", latest.Version, "1.10.0")
	}
	one, err := env.client.GetBundle(ctx, "ledger", "1.2.0")
	if err != nil || one.Version != "1.2.0" || one.Description != "Invoicing for small businesses" {
		t.Errorf("1.2.0: got %+v, %v", one, err)
	}
	list, err := env.client.ListBundles(ctx)
	if err != nil || len(list) != 3 {
		t.Errorf("list: got %d bundles (%v), want 3", len(list), err)
	}

	_, err = env.client.GetBundle(ctx, "nope", "")
	wantError(t, err, stamp.ENOTFOUND, `blueprint "nope" does not exist`)
	_, err = env.client.GetBundle(ctx, "ledger", "9.9.9")
	wantError(t, err, stamp.ENOTFOUND, "blueprint ledger@9.9.9 does not exist (versions: 1.0.0, 1.2.0, 1.10.0)")
}

func TestCreateTenant(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	env.push(t, ledgerYAML)
	env.push(t, ledgerVersion("1.1.0"))

	got, err := env.client.CreateTenant(ctx, CreateTenantRequest{
		Name:      "acme",
		Blueprint: "ledger",
		Params:    map[string]string{"admin_email": "ops@acme.test"},
		Labels:    map[string]string{"region": "eu"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := stamp.TenantSpec{
		Blueprint: "ledger", Version: "1.1.0", Plan: "starter", Desired: stamp.DesiredRunning,
		Params: map[string]string{"admin_email": "ops@acme.test", "currency": "EUR"},
		Labels: map[string]string{"region": "eu"},
	}
	if g, w := jsonString(t, got.Spec), jsonString(t, want); g != w {
		t.Errorf("spec: got %s, want %s", g, w)
	}
	if got.Generation != 1 || got.Status.Phase != stamp.PhaseProvisioning || got.ResourceVersion == 0 {
		t.Errorf("got generation %d phase %q resourceVersion %d, want 1 %q and a resource version",
			got.Generation, got.Status.Phase, got.ResourceVersion, stamp.PhaseProvisioning)
	}
	if g := env.enqueuedNames(); len(g) != 1 || g[0] != "acme" {
		t.Errorf("enqueued: got %q, want [acme]", g)
	}

	stored, err := env.client.GetTenant(ctx, "acme")
	if err != nil || jsonString(t, stored.Spec) != jsonString(t, want) {
		t.Errorf("get: got %+v, %v", stored, err)
	}
	pinned, err := env.client.CreateTenant(ctx, CreateTenantRequest{
		Name: "globex", Blueprint: "ledger", Version: "1.0.0", Plan: "business",
		Params: map[string]string{"admin_email": "it@globex.test", "currency": "USD"},
	})
	if err != nil || pinned.Spec.Version != "1.0.0" || pinned.Spec.Plan != "business" || pinned.Spec.Params["currency"] != "USD" {
		t.Errorf("pinned: got %+v, %v", pinned, err)
	}
	list, err := env.client.ListTenants(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "acme" || list[1].Name != "globex" {
		t.Errorf("list: got %v, %v; want acme and globex", list, err)
	}

	events, err := env.client.Events(ctx, stamp.EventFilter{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Type != stamp.EventTenantCreated || events[0].Generation != 1 {
		t.Errorf("events: got %s, want one %s of generation 1", jsonString(t, events), stamp.EventTenantCreated)
	}
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestCreateTenantErrors(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.MaxBodyBytes = 1 << 10 })
	env.push(t, ledgerYAML)
	env.push(t, ledgerVersion("1.1.0"))
	env.push(t, strings.Replace(strings.Replace(ledgerYAML, "name: ledger", "name: bigledger", 1), "engine: sqlite", "engine: postgres", 1))
	if _, err := env.client.CreateTenant(context.Background(), CreateTenantRequest{Name: "acme", Blueprint: "ledger", Params: map[string]string{"admin_email": "a@b.c"}}); err != nil {
		t.Fatal(err)
	}

	const email = `"params":{"admin_email":"a@b.c"}`
	tests := []struct {
		name string
		body string
		code string
		msg  string
	}{
		{"empty name", `{"name":"","blueprint":"ledger"}`, stamp.EINVALID, "tenant name is empty"},
		{"64 chars", `{"name":"` + strings.Repeat("a", 64) + `","blueprint":"ledger"}`, stamp.EINVALID,
			`tenant name "` + strings.Repeat("a", 64) + `" is 64 characters long; at most 63 are allowed`},
		{"uppercase", `{"name":"Acme","blueprint":"ledger"}`, stamp.EINVALID,
			`tenant name "Acme" has uppercase 'A' at position 1; only a-z, 0-9 and '-' are allowed`},
		{"leading dash", `{"name":"-x","blueprint":"ledger"}`, stamp.EINVALID, `tenant name "-x" must not start or end with '-'`},
		{"trailing dash", `{"name":"x-","blueprint":"ledger"}`, stamp.EINVALID, `tenant name "x-" must not start or end with '-'`},
		{"underscore", `{"name":"a_b","blueprint":"ledger"}`, stamp.EINVALID,
			`tenant name "a_b" has '_' at position 2; only a-z, 0-9 and '-' are allowed`},
		{"path", `{"name":"../etc","blueprint":"ledger"}`, stamp.EINVALID,
			`tenant name "../etc" has '.' at position 1; only a-z, 0-9 and '-' are allowed`},
		{"reserved www", `{"name":"www","blueprint":"ledger"}`, stamp.EINVALID, `tenant name "www" is reserved`},
		{"reserved admin", `{"name":"admin","blueprint":"ledger"}`, stamp.EINVALID, `tenant name "admin" is reserved`},
		{"no blueprint", `{"name":"initech"}`, stamp.EINVALID, "blueprint is empty; name the blueprint to stamp out"},
		{"duplicate", `{"name":"acme","blueprint":"ledger",` + email + `}`, stamp.ECONFLICT, `tenant "acme" already exists`},
		{"unknown blueprint", `{"name":"initech","blueprint":"nope"}`, stamp.ENOTFOUND, `blueprint "nope" does not exist`},
		{"unknown version", `{"name":"initech","blueprint":"ledger","version":"9.9.9"}`, stamp.ENOTFOUND,
			"blueprint ledger@9.9.9 does not exist (versions: 1.0.0, 1.1.0)"},
		{"missing engine", `{"name":"initech","blueprint":"bigledger",` + email + `}`, stamp.EUNPROCESSABLE,
			`blueprint bigledger@1.0.0 needs database engine "postgres" for database "main", which this server does not provide (available: sqlite)`},
		{"unknown plan", `{"name":"initech","blueprint":"ledger","plan":"gold",` + email + `}`, stamp.EUNPROCESSABLE,
			`plan "gold" does not exist in blueprint ledger@1.1.0 (plans: business, starter)`},
		{"missing param", `{"name":"initech","blueprint":"ledger"}`, stamp.EUNPROCESSABLE, `parameter "admin_email" is required`},
		{"pattern", `{"name":"initech","blueprint":"ledger","params":{"admin_email":"a@b.c","currency":"euro"}}`, stamp.EUNPROCESSABLE,
			`parameter "currency": value "euro" does not match pattern "^[A-Z]{3}$"`},
		{"malformed", `{"name":"initech",`, stamp.EINVALID, "malformed JSON: unexpected EOF"},
		{"not JSON", `name=initech`, stamp.EINVALID, "malformed JSON: invalid character 'a' in literal null (expecting 'u')"},
		{"empty body", ``, stamp.EINVALID, "request body is empty; a JSON object is expected"},
		{"trailing data", `{"name":"initech"} {}`, stamp.EINVALID, "malformed JSON: unexpected data after the object"},
		{"unknown field", `{"name":"initech","blueprint":"ledger","colour":"blue"}`, stamp.EINVALID, `unknown field "colour"`},
		{"wrong type", `{"name":"initech","blueprint":"ledger","params":{"seats":3}}`, stamp.EINVALID, `field "params": expected a string, got a JSON number`},
		{"too large", `{"name":"initech","blueprint":"ledger","labels":{"x":"` + strings.Repeat("x", 2<<10) + `"}}`, stamp.ETOOLARGE,
			"request body is over the 1 KiB limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, got := env.raw(t, "POST", "/v1/tenants", env.token, strings.NewReader(tt.body))
			if got.Code != tt.code || got.Message != tt.msg {
				t.Errorf("got %d %s %q, want %s %q", status, got.Code, got.Message, tt.code, tt.msg)
			}
			if want := statusByCode[tt.code]; status != want {
				t.Errorf("got status %d, want %d", status, want)
			}
		})
	}
	if g := env.enqueuedNames(); len(g) != 1 {
		t.Errorf("enqueued: got %q, want only the first acme", g)
	}
}

func TestDeleteTenant(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	env.push(t, ledgerYAML)
	if _, err := env.client.CreateTenant(ctx, CreateTenantRequest{Name: "acme", Blueprint: "ledger", Params: map[string]string{"admin_email": "a@b.c"}}); err != nil {
		t.Fatal(err)
	}
	for _, attempt := range []string{"first", "again"} {
		t.Run(attempt, func(t *testing.T) {
			status, _, _ := env.raw(t, "DELETE", "/v1/tenants/acme", env.token, nil)
			if status != http.StatusAccepted {
				t.Errorf("got status %d, want %d", status, http.StatusAccepted)
			}
			got, err := env.client.GetTenant(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			if got.Spec.Desired != stamp.DesiredDeleted || got.Status.Phase != stamp.PhaseDeleting || got.Generation != 2 {
				t.Errorf("got desired %q phase %q generation %d, want %q %q 2",
					got.Spec.Desired, got.Status.Phase, got.Generation, stamp.DesiredDeleted, stamp.PhaseDeleting)
			}
		})
	}
	if g := env.enqueuedNames(); len(g) != 3 {
		t.Errorf("enqueued: got %q, want acme three times (create, delete, delete again)", g)
	}
	events, err := env.client.Events(ctx, stamp.EventFilter{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range events {
		types = append(types, e.Type)
	}
	if g, w := strings.Join(types, ","), "tenant.created,tenant.deleting"; g != w {
		t.Errorf("events: got %s, want %s", g, w)
	}
	_, err = env.client.DeleteTenant(ctx, "nope", DeleteOptions{})
	wantError(t, err, stamp.ENOTFOUND, `tenant "nope" does not exist`)
}

func TestRetryTenant(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	env.push(t, ledgerYAML)
	if _, err := env.client.CreateTenant(ctx, CreateTenantRequest{Name: "acme", Blueprint: "ledger", Params: map[string]string{"admin_email": "a@b.c"}}); err != nil {
		t.Fatal(err)
	}
	_, err := env.client.RetryTenant(ctx, "acme")
	wantError(t, err, stamp.ECONFLICT, `tenant "acme" is not failed (phase: provisioning): only a failed tenant can be retried`)

	// The reconciler marks it failed.
	tn, err := env.store.GetTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	tn.Status = stamp.TenantStatus{Phase: stamp.PhaseFailed, FailedStep: stamp.StepMigrate, Message: "migrate hook exited with code 3", ObservedGeneration: 1}
	if err := env.store.UpdateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	got, err := env.client.RetryTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if got.Generation != 2 || got.Status.Phase != stamp.PhaseProvisioning || got.Status.FailedStep != "" || got.Status.Message != "" {
		t.Errorf("after retry: generation %d, status %+v; want generation 2, provisioning, no failure", got.Generation, got.Status)
	}
	events, err := env.client.Events(ctx, stamp.EventFilter{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if last := events[len(events)-1]; last.Type != stamp.EventTenantRetrying || last.Generation != 2 {
		t.Errorf("last event %s at generation %d, want %s at 2", last.Type, last.Generation, stamp.EventTenantRetrying)
	}
	_, err = env.client.RetryTenant(ctx, "nope")
	wantError(t, err, stamp.ENOTFOUND, `tenant "nope" does not exist`)
}

func TestEvents(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	env.push(t, ledgerYAML)
	for _, name := range []string{"acme", "globex"} {
		if _, err := env.client.CreateTenant(ctx, CreateTenantRequest{Name: name, Blueprint: "ledger", Params: map[string]string{"admin_email": "a@b.c"}}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := env.client.Events(ctx, stamp.EventFilter{})
	if err != nil || len(all) != 3 {
		t.Fatalf("all events: got %d (%v), want 3", len(all), err)
	}
	after, err := env.client.Events(ctx, stamp.EventFilter{AfterSeq: all[0].Seq, Limit: 1})
	if err != nil || len(after) != 1 || after[0].Seq != all[1].Seq {
		t.Errorf("after %d limit 1: got %s, %v; want event %d", all[0].Seq, jsonString(t, after), err, all[1].Seq)
	}

	status, _, _ := env.raw(t, "GET", "/v1/tenants/globex/events", env.token, nil)
	if status != http.StatusOK {
		t.Errorf("tenant events: got %d, want 200", status)
	}
	// A removed tenant's events stay readable by filter, not by path.
	acme, err := env.store.GetTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if err := env.store.DeleteTenant(ctx, "acme", acme.ResourceVersion); err != nil {
		t.Fatal(err)
	}
	status, _, e := env.raw(t, "GET", "/v1/tenants/acme/events", env.token, nil)
	if status != http.StatusNotFound || e.Message != `tenant "acme" does not exist` {
		t.Errorf("removed tenant by path: got %d %q, want 404", status, e.Message)
	}
	gone, err := env.client.Events(ctx, stamp.EventFilter{Tenant: "acme"})
	if err != nil || len(gone) != 1 || gone[0].Tenant != "acme" {
		t.Errorf("removed tenant by filter: got %s, %v; want its created event", jsonString(t, gone), err)
	}

	for _, q := range []struct{ query, msg string }{
		{"after=-1", `query parameter after="-1" is not a sequence number (a non-negative integer)`},
		{"limit=0", `query parameter limit="0" must be an integer from 1 to 1000`},
		{"limit=lots", `query parameter limit="lots" must be an integer from 1 to 1000`},
	} {
		t.Run(q.query, func(t *testing.T) {
			status, _, e := env.raw(t, "GET", "/v1/events?"+q.query, env.token, nil)
			if status != http.StatusBadRequest || e.Message != q.msg {
				t.Errorf("got %d %q, want 400 %q", status, e.Message, q.msg)
			}
		})
	}
}

// fakeLogs is a LogReader above the interface: it streams whatever the
// test writes into the pipe of the named service.
// It records the options of the last call.
type fakeLogs struct {
	r *io.PipeReader

	mu   sync.Mutex
	opts stamp.LogOptions
}

func (f *fakeLogs) Logs(ctx context.Context, tenant, service string, opts stamp.LogOptions) (io.ReadCloser, error) {
	if service != "web" {
		return nil, stamp.Errorf(stamp.ENOTFOUND, "tenant %q has no service %q", tenant, service)
	}
	f.mu.Lock()
	f.opts = opts
	f.mu.Unlock()
	return f.r, nil
}

func TestLogs(t *testing.T) {
	pr, pw := io.Pipe()
	logs := &fakeLogs{r: pr}
	env := newTestEnv(t, func(c *Config) { c.Logs = logs })
	// Registered after the server's cleanup so that it runs first and ends
	// the stream the server is serving.
	t.Cleanup(func() { pw.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	env.push(t, ledgerYAML)
	if _, err := env.client.CreateTenant(ctx, CreateTenantRequest{Name: "acme", Blueprint: "ledger", Params: map[string]string{"admin_email": "a@b.c"}}); err != nil {
		t.Fatal(err)
	}

	_, err := env.client.Logs(ctx, "nope", "web", stamp.LogOptions{})
	wantError(t, err, stamp.ENOTFOUND, `tenant "nope" does not exist`)
	_, err = env.client.Logs(ctx, "acme", "worker", stamp.LogOptions{})
	wantError(t, err, stamp.ENOTFOUND, `tenant "acme" has no service "worker"`)

	for _, tail := range []string{"-3", "ten"} {
		req, _ := http.NewRequest("GET", env.url+"/v1/tenants/acme/logs?tail="+tail, nil)
		req.Header.Set("Authorization", "Bearer "+env.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := `query parameter tail=\"` + tail + `\" is not a number of lines`; resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), want) {
			t.Errorf("tail=%s: %d %s; want 400 and %s", tail, resp.StatusCode, body, want)
		}
	}

	want := stamp.LogOptions{Tail: 50, Follow: true}
	rc, err := env.client.Logs(ctx, "acme", "web", want)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	logs.mu.Lock()
	got := logs.opts
	logs.mu.Unlock()
	if got != want {
		t.Errorf("the driver was asked for %+v, want %+v", got, want)
	}
	// Each write must reach the follower before the next one is made:
	// without flushing, the read below would block until the deadline.
	buf := make([]byte, 64)
	for _, line := range []string{"listening on :8080\n", "GET / 200\n"} {
		if _, err := pw.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
		n, err := io.ReadAtLeast(rc, buf, len(line))
		if err != nil || string(buf[:n]) != line {
			t.Errorf("got %q (%v), want %q", buf[:n], err, line)
		}
	}

	t.Run("unavailable", func(t *testing.T) {
		env := newTestEnv(t)
		_, err := env.client.Logs(ctx, "acme", "web", stamp.LogOptions{})
		wantError(t, err, stamp.EUNAVAILABLE, "logs are not available")
	})
}

// faultyStore is a fake above Store whose GetTenant fails the way a
// broken disk would, with detail that must not reach clients.
type faultyStore struct {
	Store
}

const faultyDetail = "disk I/O error reading /var/lib/stamp/state.db"

func (faultyStore) GetTenant(ctx context.Context, name string) (*stamp.Tenant, error) {
	return nil, errors.New(faultyDetail)
}

func TestInternalErrorMasked(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.Store = faultyStore{c.Store} })
	req, _ := http.NewRequest("GET", env.url+"/v1/tenants/acme", nil)
	req.Header.Set("Authorization", "Bearer "+env.token)
	req.Header.Set(requestIDHeader, "req-42")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("got status %d, want 500", resp.StatusCode)
	}
	if got, want := strings.TrimSpace(string(body)), `{"error":{"code":"internal","message":"internal error"}}`; got != want {
		t.Errorf("got body %s, want %s", got, want)
	}
	if got := resp.Header.Get(requestIDHeader); got != "req-42" {
		t.Errorf("got request id %q, want the one sent", got)
	}

	logs := env.logs.waitFor(t, `"request_id":"req-42"`)
	if n := strings.Count(logs, faultyDetail); n != 1 {
		t.Errorf("the real error is logged %d times, want once:\n%s", n, logs)
	}
	if !strings.Contains(logs, `"level":"ERROR"`) || !strings.Contains(logs, `"pattern":"GET /v1/tenants/{name}"`) ||
		!strings.Contains(logs, `"tenant":"acme"`) {
		t.Errorf("want an error line with the route pattern and the tenant, got:\n%s", logs)
	}

	_, err = env.client.GetTenant(context.Background(), "acme")
	var se *stamp.Error
	if !errors.As(err, &se) || se.Code != stamp.EINTERNAL || !strings.HasPrefix(se.Message, "internal error (request id ") || strings.Contains(se.Message, "disk") {
		t.Errorf("client: got %v, want internal error with a request id and no detail", err)
	}
}

// countingStore counts archive reads, to show the blueprint cache works.
type countingStore struct {
	Store
	mu    sync.Mutex
	reads int
}

func (s *countingStore) BundleContent(ctx context.Context, digest string) ([]byte, error) {
	s.mu.Lock()
	s.reads++
	s.mu.Unlock()
	return s.Store.BundleContent(ctx, digest)
}

func TestCreateReadsArchiveOnce(t *testing.T) {
	var counting *countingStore
	env := newTestEnv(t, func(c *Config) {
		counting = &countingStore{Store: c.Store}
		c.Store = counting
	})
	env.push(t, ledgerYAML)
	for _, name := range []string{"a1", "a2", "a3", "a4"} {
		if _, err := env.client.CreateTenant(context.Background(), CreateTenantRequest{Name: name, Blueprint: "ledger", Params: map[string]string{"admin_email": "a@b.c"}}); err != nil {
			t.Fatal(err)
		}
	}
	counting.mu.Lock()
	defer counting.mu.Unlock()
	if counting.reads != 1 {
		t.Errorf("archive read %d times for four tenants, want once", counting.reads)
	}
}

func TestUnknownRoutes(t *testing.T) {
	env := newTestEnv(t)
	tests := []struct {
		method, path string
		status       int
		msg          string
	}{
		{"GET", "/v1/nope", http.StatusNotFound, "no such endpoint: GET /v1/nope"},
		{"PUT", "/v1/tenants/acme", http.StatusMethodNotAllowed, "method PUT is not allowed on /v1/tenants/acme (allowed: DELETE, GET, HEAD, PATCH)"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			status, h, e := env.raw(t, tt.method, tt.path, env.token, nil)
			if status != tt.status || e.Message != tt.msg {
				t.Errorf("got %d %q, want %d %q", status, e.Message, tt.status, tt.msg)
			}
			if h.Get(requestIDHeader) == "" {
				t.Errorf("no %s header", requestIDHeader)
			}
		})
	}
}

func TestClientUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	_, err = NewClient(url, "x").ListTenants(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "connect to stamp server at "+url+": ") || !strings.HasSuffix(err.Error(), ": is `stamp server` running?") {
		t.Errorf("got %v, want a hint to start the server", err)
	}
}

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{512, "512 bytes"}, {1 << 10, "1 KiB"}, {1 << 20, "1 MiB"}, {64 << 20, "64 MiB"}, {1536 << 10, "1.5 MiB"}, {2 << 30, "2 GiB"},
	}
	for _, tt := range tests {
		if got := humanBytes(tt.n); got != tt.want {
			t.Errorf("humanBytes(%d): got %q, want %q", tt.n, got, tt.want)
		}
	}
}
