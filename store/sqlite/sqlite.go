// Package sqlite is the stamp.Store kept in one SQLite file (modernc.org/sqlite,
// no cgo): the default control-plane state of a single-machine Stamp. It owns
// the file's schema and its migrations.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/internal/sqlstore"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// busyTimeout is how long a connection waits for another process's write
// lock (a CLI or a second server on the same file) before SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// Store is a stamp.Store in a SQLite file. It is safe for concurrent use.
//
// Writes go through a pool of exactly one connection, and every transaction
// on it starts with BEGIN IMMEDIATE. SQLite allows one writer at a time: with
// several write connections, a deferred transaction that reads and then
// writes (as every optimistic-concurrency check does) fails with SQLITE_BUSY
// when another connection committed in between, and busy_timeout cannot
// help because retrying would read a stale snapshot. One connection queues
// writers in database/sql instead, so concurrent callers wait rather than
// fail, and each check-then-write runs alone. BEGIN IMMEDIATE takes the write
// lock up front so that another process on the same file makes us wait
// (busy_timeout) at BEGIN, never midway through a transaction.
//
// Reads use a separate pool: in WAL mode readers never block the writer nor
// each other, and each sees the last committed state.
type Store struct {
	write *sql.DB
	read  *sql.DB
	// getTenant is prepared once, per read connection: parsing the query
	// was a quarter of the time of a GetTenant.
	getTenant *sql.Stmt
	// revoked tells this process's token watchers of revocations (a
	// SQLite store has no other process writing it through the API).
	revoked signal
}

var _ stamp.Store = (*Store)(nil)

// Open opens the store at path, creating the file and its directory if they
// are missing, and brings its schema up to date. A database written by a
// newer Stamp (a schema version this binary does not know) is refused.
func Open(ctx context.Context, path string) (*Store, error) {
	if strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("open store %s: the path must not contain '?'", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// The store holds tenants' secrets: only its owner may read it. SQLite
	// gives its -wal and -shm files the mode of the database file.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	f.Close()
	// Pragmas go in the DSN so that every connection the pools open gets
	// them: busy_timeout and foreign_keys are per connection.
	pragmas := "?_pragma=busy_timeout(" + fmt.Sprint(busyTimeout.Milliseconds()) + ")" +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)"
	write, err := sql.Open("sqlite", path+pragmas+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	if err := migrate(ctx, write); err != nil {
		write.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// The read pool is opened after migrating so that the file is already in
	// WAL mode; query_only turns an accidental write through it into an error.
	read, err := sql.Open("sqlite", path+pragmas+"&_pragma=query_only(ON)")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	read.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	read.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)))
	getTenant, err := read.PrepareContext(ctx, getTenantSQL)
	if err != nil {
		read.Close()
		write.Close()
		return nil, fmt.Errorf("open store %s: prepare: %w", path, err)
	}
	return &Store{write: write, read: read, getTenant: getTenant}, nil
}

// Close releases the store's connections.
func (s *Store) Close() error {
	return errors.Join(s.getTenant.Close(), s.read.Close(), s.write.Close())
}

// inTx runs fn in a write transaction and commits it if fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return inTx(ctx, s.write, fn)
}

// inTx runs fn in a transaction of db and commits it if fn returns nil.
// The audit record of the API call ctx belongs to, if none of its
// transactions wrote it yet, goes in too (see stamp.WithPendingAudit).
func inTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	committed := false
	if audit := stamp.ClaimAudit(ctx); audit != nil {
		defer func() { audit.Settle(committed) }() // a panic in fn leaves it unwritten
		if _, err := insertAudit(ctx, tx, audit.Record()); err != nil {
			tx.Rollback()
			return fmt.Errorf("append audit record: %w", err)
		}
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	committed = true
	return nil
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

// checkVersion explains a write to table guarded by a resource version
// that touched no row: the row is missing (ENOTFOUND) or the version is
// stale (ECONFLICT).
func checkVersion(ctx context.Context, tx *sql.Tx, table sqlstore.Table, res sql.Result, key string, version int64) error {
	n, err := res.RowsAffected()
	if err != nil || n > 0 {
		return err
	}
	var stored int64
	err = tx.QueryRowContext(ctx, table.VersionSQL("?"), key).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		return table.NotFound(key)
	}
	if err != nil {
		return err
	}
	return table.Stale(key, version, stored)
}

// created checks the result of an INSERT ... ON CONFLICT DO NOTHING into
// table: no row inserted means key was taken (ECONFLICT).
func created(res sql.Result, table sqlstore.Table, key string) error {
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		return table.Exists(key)
	}
	return err
}

// getOne reads a row of table with scan: no row is ENOTFOUND, naming key.
func getOne[T any](row *sql.Row, scan func(scanner) (T, error), table sqlstore.Table, key string) (T, error) {
	v, err := scan(row)
	if errors.Is(err, sql.ErrNoRows) {
		return v, table.NotFound(key)
	}
	if err != nil {
		return v, fmt.Errorf("get %s %q: %w", table.Noun, key, err)
	}
	return v, nil
}

// queryAll runs query on db and reads every row it returns with scan.
func queryAll[T any](ctx context.Context, db *sql.DB, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// marshalSpecStatus encodes a spec and a status as JSON text for the STRICT
// TEXT columns.
func marshalSpecStatus(spec, status any) (string, string, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return "", "", err
	}
	c, err := json.Marshal(status)
	if err != nil {
		return "", "", err
	}
	return string(b), string(c), nil
}

// now is the time the store stamps on what it writes, without a monotonic
// reading and in UTC so that it equals what is read back.
func now() time.Time { return time.Now().UTC() }

// nanos encodes t for an INTEGER column. Times must lie between the years
// 1678 and 2262, which Unix nanoseconds cover.
func nanos(t time.Time) int64 { return t.UnixNano() }

// optionalNanos encodes t for a nullable INTEGER column: NULL when zero.
func optionalNanos(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

// fromNanos decodes an INTEGER time column, in UTC.
func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// fromOptionalNanos decodes a nullable INTEGER time column: zero when NULL.
func fromOptionalNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromNanos(n.Int64)
}
