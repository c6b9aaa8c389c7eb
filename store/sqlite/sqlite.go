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
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Limits of ListEvents.
const (
	DefaultEventLimit = 1000  // used when EventFilter.Limit is 0
	MaxEventLimit     = 10000 // larger limits are lowered to this
)

// Limits of ListIncidents: lower than ListEvents', since an incident carries
// its timeline and its service's last output lines.
const (
	DefaultIncidentLimit = 500  // used when IncidentFilter.Limit is 0
	MaxIncidentLimit     = 5000 // larger limits are lowered to this
)

// Limits of ListDeliveryAttempts: a webhook failing for a day is retried
// a few hundred times, and the newest attempts are the ones that tell why.
const (
	DefaultAttemptLimit = 100  // used when the limit is 0
	MaxAttemptLimit     = 1000 // larger limits are lowered to this
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
func inTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

// wrap returns err as is when it is a *stamp.Error, which already says what
// went wrong to the user, and otherwise wraps it with what was being done.
func wrap(err error, format string, args ...any) error {
	var e *stamp.Error
	if errors.As(err, &e) {
		return err
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// versioned is a table whose writes are guarded by a resource version.
type versioned struct {
	noun  string // what messages call a row
	table string
	key   string // the primary key column
}

var (
	tenantTable   = versioned{noun: "tenant", table: "tenants", key: "name"}
	releaseTable  = versioned{noun: "release", table: "releases", key: "id"}
	incidentTable = versioned{noun: "incident", table: "incidents", key: "id"}
	webhookTable  = versioned{noun: "webhook", table: "webhooks", key: "id"}
)

// notFound is the error for a missing row.
func (v versioned) notFound(key string) error {
	return stamp.Errorf(stamp.ENOTFOUND, "%s %q does not exist", v.noun, key)
}

// checkVersion explains a write guarded by a resource version that touched
// no row: the row is missing (ENOTFOUND) or the version is stale
// (ECONFLICT).
func (v versioned) checkVersion(ctx context.Context, tx *sql.Tx, res sql.Result, key string, version int64) error {
	n, err := res.RowsAffected()
	if err != nil || n > 0 {
		return err
	}
	var stored int64
	err = tx.QueryRowContext(ctx, `SELECT resource_version FROM `+v.table+` WHERE `+v.key+` = ?`, key).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		return v.notFound(key)
	}
	if err != nil {
		return err
	}
	return stamp.Errorf(stamp.ECONFLICT, "%s %q was changed by someone else (resource version %d, stored %d); re-read and retry", v.noun, key, version, stored)
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

// utc converts times decoded from JSON, which keeps the writer's offset, to
// UTC, as the store hands out every time.
func utc(times ...*time.Time) {
	for _, t := range times {
		*t = t.UTC()
	}
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
