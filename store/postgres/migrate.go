package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stamphq/stamp/store/internal/sqlstore"
)

// migrationFiles are the schema changes (see sqlstore.Migrations).
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrate applies the migrations the database has not seen yet, each in its
// own transaction together with its schema_migrations row, so a crash
// leaves the schema at some whole version. It refuses a database whose
// version is newer than the newest migration this binary embeds.
//
// Every transaction starts by taking a transaction-level advisory lock, so
// that servers starting at once on a fresh database take turns: without it
// two would both create schema_migrations (one failing on a duplicate
// catalog entry) or both apply migration 1.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := sqlstore.Migrations(migrationFiles)
	if err != nil {
		return err
	}
	latest := ms[len(ms)-1].Version
	for {
		var applied string // the migration this turn applied, if any
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
				return fmt.Errorf("take the migration lock: %w", err)
			}
			if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
				version    integer     NOT NULL PRIMARY KEY,
				applied_at timestamptz NOT NULL DEFAULT now()
			)`); err != nil {
				return fmt.Errorf("create schema_migrations: %w", err)
			}
			var current int
			if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
				return fmt.Errorf("read schema version: %w", err)
			}
			if err := sqlstore.CheckVersion(current, latest); err != nil || current == latest {
				return err
			}
			m := ms[current]
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("apply migration %s: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.Version); err != nil {
				return fmt.Errorf("apply migration %s: %w", m.Name, err)
			}
			applied = m.Name
			return nil
		})
		if err != nil {
			return err
		}
		if applied == "" {
			return nil
		}
	}
}
