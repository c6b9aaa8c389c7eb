package main

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// migrationFiles holds the schema of each dialect, one NNNN_name.sql file
// per version under migrations/<dialect>/. Both dialects have the same
// versions; a released file is never edited, a change is a new file in each
// and an entry in migrationReleases.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// dialect is the SQL flavour of a database, picked from the scheme of its
// URL. Only the schema and the migration lock differ: the queries of the
// app are written to run unchanged on both ($N placeholders, RETURNING,
// ON CONFLICT).
type dialect string

const (
	sqliteDialect   dialect = "sqlite"
	postgresDialect dialect = "postgres"
)

// migrationLockKey is the PostgreSQL advisory lock that `ledger migrate`
// holds while it applies a migration ("ledger" in ASCII). Advisory locks
// are per database, so tenants on one server do not wait for each other.
const migrationLockKey = 0x6c6564676572

// migration is one versioned schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// openDB opens the database that a $DATABASE_URL names and returns its
// dialect. The URL scheme picks the dialect here and nowhere else.
func openDB(rawURL string) (*sql.DB, dialect, error) {
	if rawURL == "" {
		return nil, "", errors.New("DATABASE_URL is not set (want sqlite:PATH or postgres://...)")
	}
	scheme, rest, ok := strings.Cut(rawURL, ":")
	if !ok {
		return nil, "", errors.New("DATABASE_URL has no scheme (want sqlite:PATH or postgres://...)")
	}
	switch scheme {
	case "sqlite":
		db, err := openSQLite(rest)
		return db, sqliteDialect, err
	case "postgres", "postgresql":
		db, err := openPostgres(rawURL)
		return db, postgresDialect, err
	default:
		// The URL itself is not echoed: a database URL may carry a password.
		return nil, "", fmt.Errorf("DATABASE_URL: unsupported scheme %q (want sqlite:PATH or postgres://...)", scheme)
	}
}

// openSQLite opens the SQLite file at path (created if missing) in WAL mode,
// with a 5 s busy timeout, foreign keys enforced, and write transactions that
// take the write lock at BEGIN so concurrent writers queue instead of failing.
func openSQLite(path string) (*sql.DB, error) {
	switch {
	case path == "":
		return nil, errors.New("DATABASE_URL: sqlite: needs a file path, as in sqlite:/var/data/main.db")
	case strings.HasPrefix(path, "//"):
		return nil, errors.New("DATABASE_URL: sqlite: takes a file path, not a host (use sqlite:/abs/path or sqlite:rel/path)")
	case strings.ContainsRune(path, '?'):
		return nil, errors.New("DATABASE_URL: sqlite file path must not contain '?'")
	}
	dsn := path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	return db, nil
}

// openPostgres opens the PostgreSQL database at rawURL through pgx. It only
// parses the URL; the first query connects.
func openPostgres(rawURL string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		// pgconn replaces the password in the URL it quotes with "xxxxx".
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	// A tenant's role may hold only a few connections (Stamp's postgres
	// engine allows 50), shared by every replica and hook of the tenant.
	db.SetMaxOpenConns(10)
	db.SetMaxIdleConns(5)
	return db, nil
}

// loadMigrations returns the embedded migrations of d that belong to
// release rel or an earlier one, in version order.
func loadMigrations(d dialect, rel int) ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/"+string(d)+"/*.sql")
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no migrations for %s", d)
	}
	var ms []migration
	for _, name := range names { // fs.Glob returns names sorted
		base := strings.TrimSuffix(path.Base(name), ".sql")
		num, label, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", name)
		}
		if len(ms) > 0 && ms[len(ms)-1].version >= version {
			return nil, fmt.Errorf("migration %s: version %d is not above the one before it", name, version)
		}
		introduced, ok := migrationReleases[version]
		if !ok {
			return nil, fmt.Errorf("migration %s: version %d has no release in migrationReleases", name, version)
		}
		if introduced > rel {
			continue
		}
		body, err := fs.ReadFile(migrationFiles, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: version, name: label, sql: string(body)})
	}
	return ms, nil
}

// migrateCmd is `ledger migrate`.
func migrateCmd(ctx context.Context, rel int, args []string, getenv func(string) string, stderr io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("migrate takes no arguments, got %q", args)
	}
	db, d, err := openDB(getenv("DATABASE_URL"))
	if err != nil {
		return err
	}
	defer db.Close()
	return migrate(ctx, db, d, rel, slog.New(slog.NewTextHandler(stderr, nil)))
}

// migrate applies every embedded migration of d up to release rel that the
// database has not recorded in schema_migrations, each in its own
// transaction, and logs each it applies. Running it again is a no-op, and
// two runs at once are safe: every transaction holds a lock from its start
// (SQLite's write lock, taken at BEGIN; a PostgreSQL advisory lock) and
// rechecks the version under it. Migrations of later releases already
// applied are left alone.
func migrate(ctx context.Context, db *sql.DB, d dialect, rel int, log *slog.Logger) error {
	ms, err := loadMigrations(d, rel)
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	// On PostgreSQL, two concurrent CREATE TABLE IF NOT EXISTS can both
	// miss the table and one then fails: this too needs the lock.
	err = inMigrationTx(ctx, db, d, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at TEXT NOT NULL
		)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range ms {
		applied, err := applyMigration(ctx, db, d, m)
		if err != nil {
			return fmt.Errorf("apply migration %04d_%s: %w", m.version, m.name, err)
		}
		if applied {
			log.Info("applied migration", "version", m.version, "name", m.name)
		}
	}
	log.Info("schema is up to date", "version", ms[len(ms)-1].version, "release", rel)
	return nil
}

// applyMigration runs m in one transaction unless it is already recorded,
// and reports whether it ran.
func applyMigration(ctx context.Context, db *sql.DB, d dialect, m migration) (applied bool, err error) {
	err = inMigrationTx(ctx, db, d, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
			m.version, m.name, time.Now().UTC().Format(time.RFC3339)); err != nil {
			return err
		}
		applied = true
		return nil
	})
	return applied, err
}

// inMigrationTx runs f in a transaction that holds the migration lock from
// its start, and commits unless f fails. On SQLite the write lock taken at
// BEGIN (_txlock=immediate) is the lock; on PostgreSQL it is an advisory
// lock that the commit or rollback releases, so a crashed migrate never
// leaves it held.
func inMigrationTx(ctx context.Context, db *sql.DB, d dialect, f func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op after Commit
	if d == postgresDialect {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLockKey)); err != nil {
			return fmt.Errorf("take migration lock: %w", err)
		}
	}
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// checkMigrated returns an error unless every embedded migration of d up to
// release rel is applied. Versions of later releases are fine: an old
// release keeps serving while a new one is rolled out beside it.
func checkMigrated(ctx context.Context, db *sql.DB, d dialect, rel int) error {
	ms, err := loadMigrations(d, rel)
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	applied, err := appliedVersions(ctx, db)
	if err != nil {
		return fmt.Errorf("read schema version (has `ledger migrate` run?): %w", err)
	}
	for _, m := range ms {
		if !applied[m.version] {
			return fmt.Errorf("database is not migrated (%04d_%s is pending): run `ledger migrate` first", m.version, m.name)
		}
	}
	return nil
}

// appliedVersions returns the versions recorded in schema_migrations.
func appliedVersions(ctx context.Context, db *sql.DB) (map[int]bool, error) {
	rows, err := db.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		applied[v] = true
	}
	return applied, rows.Err()
}

// setting returns the value of a setting, or "" if it was never written.
func setting(ctx context.Context, db *sql.DB, key string) (string, error) {
	var v string
	err := db.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read setting %s: %w", key, err)
	}
	return v, nil
}

// customer is someone the tenant sends invoices to.
type customer struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

// invoice is an amount owed by one customer.
type invoice struct {
	ID           int64  `json:"id"`
	CustomerID   int64  `json:"customer_id"`
	AmountCents  int64  `json:"amount_cents"`
	Currency     string `json:"currency"`
	Status       string `json:"status"`
	CreatedAt    string `json:"created_at"`       // RFC 3339, UTC
	DueOn        string `json:"due_on,omitempty"` // YYYY-MM-DD; empty before releaseDueDates
	CustomerName string `json:"-"`                // for the home page
}

// paymentTermDays is how long after its issue an invoice is due unless it
// says otherwise. Migration 0002 uses the same term for its backfill and
// for the rows that a release without due dates inserts.
const paymentTermDays = 30

// defaultDueOn returns the due date of an invoice created at createdAt
// (RFC 3339) that names none: paymentTermDays after its UTC issue date.
func defaultDueOn(createdAt string) (string, error) {
	t, err := time.Parse(time.RFC3339, createdAt)
	if err != nil {
		return "", fmt.Errorf("issue time %q: %w", createdAt, err)
	}
	return t.UTC().AddDate(0, 0, paymentTermDays).Format(time.DateOnly), nil
}

// errUnknownCustomer is returned by insertInvoice for a customer_id that
// names no customer.
var errUnknownCustomer = errors.New("unknown customer")

// listCustomers returns every customer, oldest first.
func listCustomers(ctx context.Context, db *sql.DB) ([]customer, error) {
	rows, err := db.QueryContext(ctx, `SELECT id, name, email FROM customers ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list customers: %w", err)
	}
	defer rows.Close()
	cs := []customer{}
	for rows.Next() {
		var c customer
		if err := rows.Scan(&c.ID, &c.Name, &c.Email); err != nil {
			return nil, fmt.Errorf("list customers: %w", err)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list customers: %w", err)
	}
	return cs, nil
}

// insertCustomer stores c and returns it with its new ID.
func insertCustomer(ctx context.Context, db *sql.DB, c customer) (customer, error) {
	err := db.QueryRowContext(ctx, `INSERT INTO customers (name, email) VALUES ($1, $2) RETURNING id`,
		c.Name, c.Email).Scan(&c.ID)
	if err != nil {
		return customer{}, fmt.Errorf("insert customer: %w", err)
	}
	return c, nil
}

// listInvoices returns every invoice with its customer's name, oldest first,
// as release rel sees them: releases before releaseDueDates do not know the
// due_on column and never name it.
func listInvoices(ctx context.Context, db *sql.DB, rel int) ([]invoice, error) {
	dueOn := ""
	if rel >= releaseDueDates {
		dueOn = ", i.due_on"
	}
	rows, err := db.QueryContext(ctx, `
		SELECT i.id, i.customer_id, i.amount_cents, i.currency, i.status, i.created_at, c.name`+dueOn+`
		FROM invoices i JOIN customers c ON c.id = i.customer_id
		ORDER BY i.id`)
	if err != nil {
		return nil, fmt.Errorf("list invoices: %w", err)
	}
	defer rows.Close()
	invs := []invoice{}
	for rows.Next() {
		var i invoice
		dest := []any{&i.ID, &i.CustomerID, &i.AmountCents, &i.Currency, &i.Status, &i.CreatedAt, &i.CustomerName}
		if rel >= releaseDueDates {
			dest = append(dest, &i.DueOn)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("list invoices: %w", err)
		}
		invs = append(invs, i)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list invoices: %w", err)
	}
	return invs, nil
}

// insertInvoice stores inv as a new open invoice and returns it with its ID
// and creation time. It returns errUnknownCustomer if the customer does not
// exist; the check and the insert share one transaction. From
// releaseDueDates on it stores inv.DueOn, paymentTermDays after the issue
// date if empty; earlier releases leave the column to the database.
func insertInvoice(ctx context.Context, db *sql.DB, rel int, inv invoice) (invoice, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return invoice{}, fmt.Errorf("insert invoice: %w", err)
	}
	defer tx.Rollback() // a no-op after Commit

	err = tx.QueryRowContext(ctx, `SELECT name FROM customers WHERE id = $1`, inv.CustomerID).Scan(&inv.CustomerName)
	if errors.Is(err, sql.ErrNoRows) {
		return invoice{}, errUnknownCustomer
	}
	if err != nil {
		return invoice{}, fmt.Errorf("insert invoice: read customer: %w", err)
	}
	inv.Status = "open"
	inv.CreatedAt = time.Now().UTC().Format(time.RFC3339)
	if rel >= releaseDueDates {
		if inv.DueOn == "" {
			if inv.DueOn, err = defaultDueOn(inv.CreatedAt); err != nil {
				return invoice{}, fmt.Errorf("insert invoice: %w", err)
			}
		}
		err = tx.QueryRowContext(ctx, `
			INSERT INTO invoices (customer_id, amount_cents, currency, status, created_at, due_on)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			inv.CustomerID, inv.AmountCents, inv.Currency, inv.Status, inv.CreatedAt, inv.DueOn).Scan(&inv.ID)
	} else {
		err = tx.QueryRowContext(ctx, `
			INSERT INTO invoices (customer_id, amount_cents, currency, status, created_at)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			inv.CustomerID, inv.AmountCents, inv.Currency, inv.Status, inv.CreatedAt).Scan(&inv.ID)
	}
	if err != nil {
		return invoice{}, fmt.Errorf("insert invoice: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return invoice{}, fmt.Errorf("insert invoice: %w", err)
	}
	return inv, nil
}
