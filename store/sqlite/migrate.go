package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/stamphq/stamp/store/internal/sqlstore"
)

// migrationFiles are the schema changes (see sqlstore.Migrations).
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrate applies the migrations db has not seen yet, each in its own
// transaction together with its schema_migrations row, so a crash leaves the
// schema at some whole version. It refuses a database whose version is newer
// than the newest migration this binary embeds.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := sqlstore.Migrations(migrationFiles)
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	latest := ms[len(ms)-1].Version
	current, err := schemaVersion(ctx, db)
	if err != nil {
		return err
	}
	if err := sqlstore.CheckVersion(current, latest); err != nil {
		return err
	}
	for _, m := range ms[current:] {
		err := inTx(ctx, db, func(tx *sql.Tx) error {
			// Another process may have migrated the file meanwhile.
			if v, err := schemaVersion(ctx, tx); err != nil || v >= m.Version {
				return err
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, m.Version, nanos(now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %s: %w", m.Name, err)
		}
	}
	return nil
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// schemaVersion returns the newest migration applied to the database.
func schemaVersion(ctx context.Context, q querier) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}
