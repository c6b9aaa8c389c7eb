package postgres

import (
	"testing"

	"github.com/stamphq/stamp/store/storetest"
)

// undoTokenRoles undoes migration 9.
var undoTokenRoles = []string{
	`DROP INDEX tokens_name`,
	`ALTER TABLE tokens DROP COLUMN revoked_at, DROP COLUMN expires_at, DROP COLUMN tenant, DROP COLUMN role`,
}

// TestMigrateTokenRoles takes a database with tokens back to the schema
// before roles (migration 9) and reopens it: the admin token stays
// admin, another becomes an operator.
func TestMigrateTokenRoles(t *testing.T) {
	db := newDatabase(t)
	s, err := Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	storetest.SeedTokensBeforeRoles(t, s)
	rollBack(t, s, 9, undoTokenRoles...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	storetest.CheckMigratedTokenRoles(t, openStore(t, db))
}
