package postgres

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/storetest"
)

// undoFlow undoes the migrations of the value stream's tables.
var undoFlow = []string{`DROP TABLE flow_index`, `DROP TABLE flow_runs`, `DROP TABLE pipeline_events`}

// undoAuditDeliveries undoes the migration that delivers audit records.
var undoAuditDeliveries = []string{`ALTER TABLE webhook_attempts DROP COLUMN audit_seq`}

// undoAudit undoes the audit log's migration.
var undoAudit = []string{`DROP TABLE audit`}

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
	rollBack(t, s, 9, slices.Concat(undoTenantCounts, undoFlow, undoAuditDeliveries, undoAudit, undoTokenRoles)...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	storetest.CheckMigratedTokenRoles(t, openStore(t, db))
}

// TestWatchTokens: a watch on one store hears of a revocation through
// another (another server), says when its connection is lost, and
// listens again.
func TestWatchTokens(t *testing.T) {
	db := newDatabase(t)
	watched, other := openStore(t, db), openStore(t, db)
	calls := make(chan bool, 16)
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- watched.WatchTokens(ctx, func(watching bool) { calls <- watching }) }()
	next := func(want bool, what string) {
		t.Helper()
		select {
		case got := <-calls:
			if got != want {
				t.Fatalf("%s: got f(%t), want f(%t)", what, got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no call", what)
		}
	}
	next(true, "the watch starting")

	if err := other.CreateToken(ctx, &stamp.Token{ID: "ci", Name: "ci", Role: stamp.RoleViewer, Hash: "h"}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.RevokeToken(ctx, "ci", time.Now()); err != nil {
		t.Fatal(err)
	}
	next(true, "a revocation through another store")

	if _, err := other.pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN `+tokensChannel+`'`); err != nil {
		t.Fatal(err)
	}
	next(false, "its connection killed")
	next(true, "listening again")
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("WatchTokens after its context ended: got %v, want %v", err, context.Canceled)
	}
}
