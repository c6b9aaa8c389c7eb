package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBackupRestoreCloneExport (SQLite tenant databases, local driver)
// and TestBackupRestoreCloneExportOnPostgres run the lifecycle of a
// customer's data through the CLI: backup, more writes, restore; clone;
// delete with export, then a new tenant from the export.
func TestBackupRestoreCloneExport(t *testing.T) {
	s := startStampServer(t)
	backupLifecycle(t, s, blueprintDir(t), "ledger")
}

func TestBackupRestoreCloneExportOnPostgres(t *testing.T) {
	_, tenantPG := tenantCluster(t)
	s := startStampServer(t, "--tenant-postgres", tenantPG)
	backupLifecycle(t, s, pgBlueprintDir(t), "ledger-pg")
}

func backupLifecycle(t *testing.T, s *stampServer, dir, bp string) {
	ctx := context.Background()
	s.mustCLI("blueprint", "push", dir)
	s.mustCLI("tenant", "create", "acme", "--blueprint", bp)
	addCustomer := func(tenant, name string) {
		t.Helper()
		body := fmt.Sprintf(`{"name":%q,"email":"%s@%s.test"}`, name, strings.ToLower(name), tenant)
		if code, out := s.do("POST", tenant, "/api/customers", body); code != http.StatusCreated {
			t.Fatalf("add customer %s to %s: %d %s", name, tenant, code, out)
		}
	}
	customers := func(tenant string) string {
		t.Helper()
		code, out := s.do("GET", tenant, "/api/customers", "")
		if code != http.StatusOK {
			t.Fatalf("customers of %s: %d %s", tenant, code, out)
		}
		return out
	}
	dataFile := func(tenant string) string {
		t.Helper()
		tn, err := s.client().GetTenant(ctx, tenant)
		if err != nil {
			t.Fatal(err)
		}
		return filepath.Join(s.data, "local", "tenants", tn.RuntimeName(), "data", "notes.txt")
	}
	addCustomer("acme", "Wile")
	addCustomer("acme", "Road")
	if err := os.WriteFile(dataFile("acme"), []byte("at the backup"), 0o600); err != nil {
		t.Fatal(err)
	}
	atBackup := customers("acme")
	sum := sha256.Sum256([]byte(atBackup))

	out := s.mustCLI("tenant", "backup", "acme")
	id, _, _ := strings.Cut(strings.TrimPrefix(out, "backup "), " ")
	if !strings.HasPrefix(out, "backup ") || !strings.Contains(out, bp+"@") {
		t.Fatalf("backup output: %q", out)
	}
	addCustomer("acme", "Coyote")
	os.WriteFile(dataFile("acme"), []byte("after the backup"), 0o600)
	if out := s.mustCLI("tenant", "backups", "acme"); !strings.Contains(out, id) || !strings.Contains(out, "manual") {
		t.Errorf("backups of acme:\n%s", out)
	}

	// Restore: the rows and files of the backup, nothing after.
	if out := s.mustCLI("tenant", "restore", "acme"); !strings.Contains(out, "restoring backup "+id) || !strings.Contains(out, "ready: ") {
		t.Errorf("restore output:\n%s", out)
	}
	got := customers("acme")
	if after := sha256.Sum256([]byte(got)); after != sum {
		t.Errorf("customers after restore (sha256 %s):\n%s\nwant those at the backup (sha256 %s):\n%s",
			hex.EncodeToString(after[:]), got, hex.EncodeToString(sum[:]), atBackup)
	}
	if b, err := os.ReadFile(dataFile("acme")); string(b) != "at the backup" {
		t.Errorf("data file after restore: %q, %v", b, err)
	}
	addCustomer("acme", "Roadrunner") // it writes again

	// Clone: the source's data, secrets and a database of its own.
	if out := s.mustCLI("tenant", "clone", "acme", "staging", "--backup", id); !strings.Contains(out, "ready: ") {
		t.Errorf("clone output:\n%s", out)
	}
	if got := customers("staging"); got != atBackup {
		t.Errorf("the clone's customers:\n%s\nwant the backup's:\n%s", got, atBackup)
	}
	if b, err := os.ReadFile(dataFile("staging")); string(b) != "at the backup" {
		t.Errorf("the clone's data file: %q, %v", b, err)
	}
	addCustomer("staging", "Staging")
	if strings.Contains(customers("acme"), "Staging") {
		t.Errorf("a write to the clone shows in its source")
	}
	if strings.Contains(customers("staging"), "Roadrunner") {
		t.Errorf("a write to the source after the backup shows in the clone")
	}
	secret := func(tenant string) string {
		t.Helper()
		ts, err := s.client().TenantSecrets(ctx, tenant, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, sec := range ts.Secrets {
			if sec.Name == "session_key" {
				return sec.Value
			}
		}
		t.Fatalf("%s has no session_key: %+v", tenant, ts.Secrets)
		return ""
	}
	if secret("acme") == secret("staging") {
		t.Errorf("the clone has its source's session_key")
	}

	// Offboarding: the export is written before the delete, and a new
	// tenant from it serves the same data.
	before := customers("acme")
	export := filepath.Join(t.TempDir(), "acme.stamp")
	if out := s.mustCLI("tenant", "delete", "acme", "--export", export); !strings.Contains(out, "exported acme to "+export) || !strings.Contains(out, "tenant acme deleted") {
		t.Errorf("delete --export output:\n%s", out)
	}
	if fi, err := os.Stat(export); err != nil || fi.Size() == 0 {
		t.Fatalf("the export: %v", err)
	}
	if list, err := s.client().ListBackups(ctx, "acme"); err != nil || len(list) != 0 {
		t.Errorf("a purged tenant's backups: %v, %v; want none left", list, err)
	}
	if out := s.mustCLI("tenant", "import", "acme-again", export); !strings.Contains(out, "ready: ") {
		t.Errorf("import output:\n%s", out)
	}
	if got := customers("acme-again"); got != before {
		t.Errorf("customers of the tenant from the export:\n%s\nwant:\n%s", got, before)
	}
	if _, errOut, code := s.cli("tenant", "import", "bogus", dir+"/stamp.yaml"); code == 0 || !strings.Contains(errOut, "not a Stamp archive") {
		t.Errorf("import of a file that is no archive: exit %d, %s", code, errOut)
	}
	if _, err := s.client().GetTenant(ctx, "bogus"); err == nil {
		t.Errorf("a refused import left a tenant")
	}
	if list, err := s.client().ListBackups(ctx, "bogus"); err != nil || len(list) != 0 {
		t.Errorf("a refused import left backups: %v %v", list, err)
	}
	if _, errOut, code := s.cli("tenant", "restore", "staging", "--backup", "20990101T000000Z-00000000"); code == 0 || !strings.Contains(errOut, `has no backup "20990101T000000Z-00000000"`) {
		t.Errorf("restore of a backup that does not exist: exit %d, %s", code, errOut)
	}
}

// TestBackupToS3: a server whose backup store is an S3-compatible
// server (scripts/s3) backs a tenant up there and restores it from there.
func TestBackupToS3(t *testing.T) {
	store := os.Getenv("STAMP_TEST_S3")
	if store == "" {
		if os.Getenv("STAMP_TEST_S3_REQUIRED") != "" {
			t.Fatal("STAMP_TEST_S3 is not set: run the tests through scripts/test, which starts an S3-compatible server")
		}
		t.Skip("no S3-compatible server: set STAMP_TEST_S3 (scripts/s3 start DIR prints it)")
	}
	s := startStampServer(t, "--backup-store", store)
	s.mustCLI("blueprint", "push", blueprintDir(t))
	// A name of its own: runs may share the bucket.
	acme := fmt.Sprintf("acme%06d", time.Now().UnixNano()%1_000_000)
	s.mustCLI("tenant", "create", acme, "--blueprint", "ledger")
	if code, out := s.do("POST", acme, "/api/customers", `{"name":"Wile","email":"wile@acme.test"}`); code != http.StatusCreated {
		t.Fatalf("add a customer: %d %s", code, out)
	}
	_, before := s.do("GET", acme, "/api/customers", "")
	s.mustCLI("tenant", "backup", acme)
	s.do("POST", acme, "/api/customers", `{"name":"Later","email":"later@acme.test"}`)
	s.mustCLI("tenant", "restore", acme)
	if _, after := s.do("GET", acme, "/api/customers", ""); after != before {
		t.Errorf("customers after a restore from S3:\n%s\nwant:\n%s", after, before)
	}
	s.mustCLI("tenant", "delete", acme) // purges its backups from the bucket
	if list, err := s.client().ListBackups(context.Background(), acme); err != nil || len(list) != 0 {
		t.Errorf("backups left in the bucket: %v %v", list, err)
	}
}
