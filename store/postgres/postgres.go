// Package postgres is the stamp.Store kept in a PostgreSQL database (pgx,
// pgxpool): the control-plane state of a Stamp run by several servers, or
// by one that should not keep its state on local disk. It owns the
// database's schema and its migrations, in the connection's default schema.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/internal/sqlstore"
)

// connectTimeout bounds each connection attempt, so that a dead or
// firewalled server fails start-up instead of hanging it. A connect_timeout
// in the URL overrides it.
const connectTimeout = 5 * time.Second

// Keys of the transaction-level advisory locks the store takes. Advisory
// locks are per database, so these only serialise Stamps sharing one.
const (
	migrateLockKey int64 = 0x7374616d70_0001 // "stamp", 1: schema migrations
	appendLockKey  int64 = 0x7374616d70_0002 // "stamp", 2: event appends
)

// Store is a stamp.Store in a PostgreSQL database. It is safe for
// concurrent use, by several processes too.
type Store struct {
	pool *pgxpool.Pool
	// appendTurn lets one AppendEvents of this process at a time go for
	// the append lock (see AppendEvents): the others wait here, without
	// holding a pooled connection that reads need, and are woken faster
	// than backends queued on the lock in PostgreSQL.
	appendTurn chan struct{}
}

var _ stamp.Store = (*Store)(nil)

// Open connects to the database at url (postgres://user:password@host:port/db?...),
// and brings its schema up to date. A database written by a newer Stamp (a
// schema version this binary does not know) is refused. Connecting gives
// up after 5s unless the URL sets connect_timeout; pgxpool's parameters
// (pool_max_conns...) go in the URL too. Errors never show the password.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgconn masks the password in the URL it quotes.
		return nil, fmt.Errorf("parse PostgreSQL URL: %v", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		// pgx scans timestamptz in the local zone; the store hands out UTC.
		c.TypeMap().RegisterType(&pgtype.Type{Name: "timestamptz", OID: pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC}})
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL store: %v", err)
	}
	where := fmt.Sprintf("%s as %s", address(cfg.ConnConfig), cfg.ConnConfig.User)
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, connectError(ctx, where, cfg.ConnConfig, err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrate PostgreSQL database %s at %s: %w", cfg.ConnConfig.Database, where, err)
	}
	return &Store{pool: pool, appendTurn: make(chan struct{}, 1)}, nil
}

// Close releases the store's connections.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// address returns host:port of the first host of cfg (a socket directory
// for a Unix socket).
func address(cfg *pgx.ConnConfig) string {
	if strings.HasPrefix(cfg.Host, "/") {
		return fmt.Sprintf("%s/.s.PGSQL.%d", cfg.Host, cfg.Port)
	}
	return net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port))
}

// connectError turns a failed first connection into one line: where, as
// whom, and the cause without pgx's layers of context (which repeat the
// user and database, and span several lines with fallback hosts).
func connectError(ctx context.Context, where string, cfg *pgx.ConnConfig, err error) error {
	var cause string
	var pgErr *pgconn.PgError
	var opErr *net.OpError
	switch {
	case errors.As(err, &pgErr):
		cause = pgErr.Message // "password authentication failed for user ...", "database ... does not exist"
	case ctx.Err() != nil:
		cause = ctx.Err().Error()
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &opErr) && opErr.Timeout():
		cause = fmt.Sprintf("no answer within %s", cfg.ConnectTimeout)
	case errors.As(err, &opErr):
		cause = opErr.Err.Error() // "connect: connection refused"
	default:
		cause = strings.ReplaceAll(err.Error(), "\n", " ")
	}
	if cfg.Password != "" {
		cause = strings.ReplaceAll(cause, cfg.Password, "xxxxx")
	}
	return &openError{msg: fmt.Sprintf("connect to PostgreSQL at %s: %s", where, cause), err: err}
}

// openError is a one-line message that still unwraps to its cause, so
// that errors.Is finds a cancelled context.
type openError struct {
	msg string
	err error
}

func (e *openError) Error() string { return e.msg }
func (e *openError) Unwrap() error { return e.err }

// isUniqueViolation reports whether err is a unique violation of the named
// constraint.
func isUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == constraint
}

// isForeignKeyViolation reports whether err is a foreign-key violation.
func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}

// getOne reads the one row of table that rows holds with scan: no row is
// ENOTFOUND, naming key.
func getOne[T any](rows pgx.Rows, scan pgx.RowToFunc[T], table sqlstore.Table, key string) (T, error) {
	v, err := pgx.CollectExactlyOneRow(rows, scan)
	if errors.Is(err, pgx.ErrNoRows) {
		return v, table.NotFound(key)
	}
	if err != nil {
		return v, fmt.Errorf("get %s %q: %w", table.Noun, key, err)
	}
	return v, nil
}

// explainVersion explains a write to table guarded by a resource version
// that touched no row: the row is missing (ENOTFOUND) or the version is
// stale (ECONFLICT). It reads the row afresh: under READ COMMITTED that
// shows the version that won, which is what the caller must re-read.
func (s *Store) explainVersion(ctx context.Context, table sqlstore.Table, key string, version int64) error {
	var stored int64
	err := s.pool.QueryRow(ctx, table.VersionSQL("$1"), key).Scan(&stored)
	if errors.Is(err, pgx.ErrNoRows) {
		return table.NotFound(key)
	}
	if err != nil {
		return err
	}
	return table.Stale(key, version, stored)
}

// optionalTime encodes t for a nullable timestamptz column: NULL when zero.
func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// fromOptional decodes a nullable timestamptz column: zero when NULL.
func fromOptional(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
