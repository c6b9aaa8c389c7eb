package sqlite

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/stamphq/stamp/store/storetest"
)

// undoFlow undoes the migrations of the value stream's tables.
var undoFlow = []string{`DROP TABLE flow_index`, `DROP TABLE flow_runs`, `DROP TABLE pipeline_events`}

// undoAuditDeliveries undoes the migration that delivers audit records.
var undoAuditDeliveries = []string{`ALTER TABLE webhook_attempts DROP COLUMN audit_seq`}

// undoAudit undoes the audit log's migration.
var undoAudit = []string{`DROP TABLE audit`}

// undoTokenRoles undoes migration 10.
var undoTokenRoles = []string{
	`DROP INDEX tokens_name`,
	`ALTER TABLE tokens DROP COLUMN revoked_at`, `ALTER TABLE tokens DROP COLUMN expires_at`,
	`ALTER TABLE tokens DROP COLUMN tenant`, `ALTER TABLE tokens DROP COLUMN role`,
}

// TestMigrateTokenRoles takes a file with tokens back to the schema
// before roles (migration 10) and reopens it: the admin token stays
// admin, another becomes an operator.
func TestMigrateTokenRoles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stamp.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	storetest.SeedTokensBeforeRoles(t, s)
	rollBack(t, s, 10, slices.Concat(undoTenantCounts, undoFlow, undoAuditDeliveries, undoAudit, undoTokenRoles)...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	storetest.CheckMigratedTokenRoles(t, openStore(t, path))
}
