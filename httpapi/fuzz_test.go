package httpapi

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/backup"
	"github.com/stamphq/stamp/keyring"
	"github.com/stamphq/stamp/store/sqlite"
)

// bodyRoutes are the routes that read a JSON request body, one per
// request type, on resources that exist in FuzzRequestBodies' server.
var bodyRoutes = []struct{ method, path string }{
	{"POST", "/v1/tenants"},                         // CreateTenantRequest
	{"PATCH", "/v1/tenants/acme"},                   // SetTenantRequest
	{"POST", "/v1/tenants/acme/upgrade"},            // UpgradeTenantRequest
	{"POST", "/v1/tenants/acme/pin"},                // PinTenantRequest
	{"POST", "/v1/releases"},                        // CreateReleaseRequest
	{"POST", "/v1/releases/nope/tenants/acme/skip"}, // SkipRequest
	{"POST", "/v1/webhooks"},                        // CreateWebhookRequest
	{"POST", "/v1/tokens"},                          // CreateTokenRequest
	{"POST", "/v1/blueprints/ledger/1.0.0/yank"},    // YankRequest
	{"POST", "/v1/tenants/acme/backups"},            // BackupRequest
	{"POST", "/v1/tenants/acme/restore"},            // RestoreRequest
	{"POST", "/v1/tenants/acme/clone"},              // CloneRequest
	{"POST", "/v1/pipeline-events"},                 // PipelineEventRequest
}

// FuzzRequestBodies sends each body to every route that reads a JSON
// request, through the real handlers and store (in process, as an
// admin): no body panics the server or is answered 500, the answer to a
// bad one is a 4xx JSON error with a message.
func FuzzRequestBodies(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"name":"globex","blueprint":"ledger","params":{"admin_email":"a@b.c"}}`,
		`{"name":"ci","role":"viewer","expires":"30d"}`, `{"url":"http://127.0.0.1:9/x","events":["tenant.*"]}`,
		`{"version":"1.0.0","plan":"starter"}`, `{"params":{"currency":"USD"},"plan":"business"}`,
		`{"blueprint":"ledger","version":"1.0.0","waves":["1","10%","100%"],"soak":"1s"}`,
		`{"reason":"broken"}`, `{"recipients":["age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"]}`,
		`{"backup":"20261205T011500Z-00000001"}`, `{"name":"staging","plan":"starter"}`,
		`{"blueprint":"ledger","version":"1.1.0","commit":"a1b2c3","stage":"build","startedAt":"2026-12-01T10:00:00Z","finishedAt":"2026-12-01T10:02:00Z"}`, `[]`, `null`, `{"name":`, `{"name":"a","name":"b"}`, "\x00", `{"expires":"99999999d"}`,
	} {
		f.Add([]byte(seed))
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "stamp.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	token := NewToken()
	if err := st.CreateToken(ctx, &stamp.Token{ID: "admin", Name: "admin", Role: stamp.RoleAdmin, Hash: HashToken(token)}); err != nil {
		f.Fatal(err)
	}
	srv := NewServer(Config{Store: st, Engines: map[string]bool{"sqlite": true}, Logger: slog.New(slog.DiscardHandler), Backups: emptyBackups(f)})
	push := httptest.NewRequest("POST", "/v1/blueprints", strings.NewReader(string(packBundle(f, map[string]string{"stamp.yaml": ledgerYAML}))))
	push.Header.Set("Authorization", "Bearer "+token)
	pushed := httptest.NewRecorder()
	srv.ServeHTTP(pushed, push)
	if pushed.Code != http.StatusCreated {
		f.Fatalf("push: %d %s", pushed.Code, pushed.Body)
	}
	if err := st.CreateTenant(ctx, &stamp.Tenant{Name: "acme", Spec: stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0", Plan: "starter"}}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, rt := range bodyRoutes {
			req := httptest.NewRequest(rt.method, rt.path, strings.NewReader(string(body)))
			req.Header.Set("Authorization", "Bearer "+token)
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, req)
			if w.Code >= 500 {
				t.Fatalf("%s %s with %q: %d %s", rt.method, rt.path, body, w.Code, w.Body)
			}
			if w.Code >= 400 && !strings.Contains(w.Body.String(), `"message":"`) {
				t.Fatalf("%s %s with %q: %d without an error message: %s", rt.method, rt.path, body, w.Code, w.Body)
			}
		}
	})
}

// emptyBackups keeps backups in a real store in a temporary directory;
// a tenant's backup holds its manifest alone, as for a tenant with no
// database (the reconciler's part is tested in cmd/stamp).
func emptyBackups(tb testing.TB) *Backups {
	ring, err := keyring.New(bytes.Repeat([]byte{7}, keyring.KeySize))
	if err != nil {
		tb.Fatal(err)
	}
	store, err := backup.Open(context.Background(), "file://"+tb.TempDir(), ring, tb.TempDir(), stamp.SystemClock{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	return &Backups{Store: store, Take: func(ctx context.Context, t *stamp.Tenant, reason string, recipients ...age.Recipient) (*stamp.Backup, error) {
		m := &backup.Manifest{ID: backup.NewID(time.Now()), Tenant: t.Name, Blueprint: t.Spec.Blueprint, Version: t.Spec.Version, Reason: reason, CreatedAt: time.Now()}
		return store.Take(ctx, m, nil, recipients...)
	}}
}
