package httpapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stamphq/stamp"
)

// TestBackupRoutesRefuse: each refusal of the backup routes has its
// status and says why, and changes nothing.
func TestBackupRoutesRefuse(t *testing.T) {
	var backups *Backups
	env := newTestEnv(t, func(c *Config) {
		backups = emptyBackups(t)
		c.Backups, c.MaxImportBytes = backups, 1<<10
	})
	env.pushLedgers(t)
	env.createTenant(t, CreateTenantRequest{Name: "acme", Blueprint: "ledger", Version: "1.0.0"})
	env.createTenant(t, CreateTenantRequest{Name: "globex", Blueprint: "ledger", Version: "1.0.0"})
	env.serve(t, "acme", "1.0.0")
	code, _, body := env.call(t, "POST", "/v1/tenants/acme/backups", "")
	if code != http.StatusCreated {
		t.Fatalf("backup: %d %s", code, body)
	}

	for _, tc := range []struct {
		name, method, path, body string
		code                     int
		msg                      string
	}{
		{"a recipient that is no age key", "POST", "/v1/tenants/acme/backups", `{"recipients":["ssh-ed25519 AAAA"]}`, 400, "is not an age public key"},
		{"an unknown reason", "POST", "/v1/tenants/acme/backups", `{"reason":"whim"}`, 400, `reason "whim" is neither`},
		{"a backup id that is none", "POST", "/v1/tenants/acme/restore", `{"backup":"../../etc"}`, 400, "is not a backup id"},
		{"a backup that does not exist", "POST", "/v1/tenants/acme/restore", `{"backup":"20990101T000000Z-00000000"}`, 404, `has no backup "20990101T000000Z-00000000"`},
		{"a tenant with no backup", "POST", "/v1/tenants/globex/restore", "", 404, "has no backup; take one"},
		{"a clone onto a tenant that exists", "POST", "/v1/tenants/acme/clone", `{"name":"globex"}`, 409, `tenant "globex" already exists`},
		{"a clone with a bad name", "POST", "/v1/tenants/acme/clone", `{"name":"Bad_Name"}`, 400, "name"},
		{"an import that is no archive", "POST", "/v1/tenants/initech/import", "plain text", 400, "not a Stamp archive"},
		{"an import over the limit", "POST", "/v1/tenants/initech/import", strings.Repeat("x", 4<<10), 413, "over the 1 KiB limit"},
		{"an import onto a tenant that exists", "POST", "/v1/tenants/acme/import", "x", 409, `tenant "acme" already exists`},
	} {
		code, e, _ := env.call(t, tc.method, tc.path, tc.body)
		if code != tc.code || !strings.Contains(e.Message, tc.msg) {
			t.Errorf("%s: %d %q, want %d with %q", tc.name, code, e.Message, tc.code, tc.msg)
		}
	}
	for _, name := range []string{"initech", "Bad_Name"} {
		if _, err := env.store.GetTenant(t.Context(), name); stamp.ErrorCode(err) != stamp.ENOTFOUND {
			t.Errorf("a refused call left tenant %s: %v", name, err)
		}
	}
	if list, err := backups.Store.List(t.Context(), "initech"); err != nil || len(list) != 0 {
		t.Errorf("refused imports left backups: %v %v", list, err)
	}

	env.setTenant(t, "acme", func(tn *stamp.Tenant) { tn.Spec.Desired = stamp.DesiredSuspended })
	if code, e, _ := env.call(t, "POST", "/v1/tenants/acme/restore", ""); code != http.StatusConflict || !strings.Contains(e.Message, "resume it first") {
		t.Errorf("restore of a suspended tenant: %d %s", code, e.Message)
	}
	env.setTenant(t, "acme", func(tn *stamp.Tenant) { tn.Spec.Desired = stamp.DesiredRunning })
	code, _, body = env.call(t, "POST", "/v1/tenants/acme/restore", "")
	if code != http.StatusAccepted || !strings.Contains(string(body), `"load":{"tenant":"acme"`) {
		t.Errorf("restore: %d %s", code, body)
	}

	none := newTestEnv(t)
	if code, e, _ := none.call(t, "GET", "/v1/tenants/acme/backups", ""); code != http.StatusServiceUnavailable || !strings.Contains(e.Message, "keeps no backups") {
		t.Errorf("backups on a server without a store: %d %s", code, e.Message)
	}
}
