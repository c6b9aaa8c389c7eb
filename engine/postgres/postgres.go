// Package postgres is the stamp.Engine for PostgreSQL: every database of
// every tenant is a database of its own on a server the operator runs,
// owned by a login role of its own that can reach nothing else. Tenants are
// kept apart by the server's privileges: only the owner may connect to a
// tenant's database, and the role may not create roles or databases.
// Snapshots of a tenant's database (stamp.Snapshotter) are databases of
// their own that only the administrator reaches; see snapshot.go.
package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stamphq/stamp"
)

// minPoolConns is the least size of the admin connection pool, unless the
// URL sets pool_max_conns: one per reconciler worker (8 by default) and some.
const minPoolConns = 16

// ConnectionLimit is the most connections one tenant database's role may
// hold at once when its DatabaseSpec does not say (the reconciler sizes it
// from the tenant's plan), so one tenant cannot exhaust the server's
// max_connections.
const ConnectionLimit = 50

// connectTimeout bounds every connection attempt to the server.
const connectTimeout = 5 * time.Second

// roleOptions are the attributes of every tenant role with a connection
// limit of limit (ConnectionLimit if 0), set on create and re-applied on
// every Ensure so a changed role (or plan) converges.
func roleOptions(limit int) string {
	if limit <= 0 {
		limit = ConnectionLimit
	}
	return "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS CONNECTION LIMIT " + strconv.Itoa(limit)
}

// PostgreSQL error codes this package tells apart.
const (
	codeDuplicateObject   = "42710" // CREATE ROLE of an existing role
	codeDuplicateDatabase = "42P04" // CREATE DATABASE of an existing database
	codeUniqueViolation   = "23505" // either, when two creators race in the catalog
	codeUndefinedObject   = "42704" // ALTER ROLE of a missing role
	codeInvalidSchemaName = "3F000" // the tenant dropped its public schema
)

// Engine creates and drops per-tenant databases and roles on one
// PostgreSQL server, through an administrator's connection.
type Engine struct {
	pool *pgxpool.Pool // at least minPoolConns connections
	// admin connects to a tenant's database to hand it its public schema.
	admin *pgx.ConnConfig
	// sslmode is the admin URL's, given to the tenants' URLs.
	sslmode string
	// copyTimeout bounds one pg_dump | pg_restore copy (see Snapshot).
	copyTimeout time.Duration
	// clientDir, if set, holds the pg_dump and pg_restore to run.
	clientDir string
}

// DefaultSnapshotTimeout is how long copying a database into a snapshot
// (pg_dump piped into pg_restore) may take unless WithSnapshotTimeout
// says otherwise.
const DefaultSnapshotTimeout = 30 * time.Minute

// An Option tunes an Engine made by New.
type Option func(*Engine)

// WithSnapshotTimeout bounds each snapshot's copy by d (DefaultSnapshotTimeout
// if d is not positive): past it pg_dump and pg_restore are killed with
// their process groups and Snapshot fails.
func WithSnapshotTimeout(d time.Duration) Option {
	return func(e *Engine) {
		if d > 0 {
			e.copyTimeout = d
		}
	}
}

// WithClientTools runs the pg_dump and pg_restore in dir instead of the
// newest ones installed.
func WithClientTools(dir string) Option {
	return func(e *Engine) { e.clientDir = dir }
}

var (
	_ stamp.Engine      = (*Engine)(nil)
	_ stamp.Snapshotter = (*Engine)(nil)
)

// New connects to the server at adminURL (postgres://USER:PASSWORD@HOST:PORT/DB)
// as a superuser, which is needed to create roles and databases and to hand
// each tenant role the public schema of its database. It fails within 5
// seconds, in one line that never holds the password, when the URL is
// malformed (EINVALID), the server is unreachable, the password is wrong,
// or the user is not a superuser.
func New(ctx context.Context, adminURL string, opts ...Option) (*Engine, error) {
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// Neither the URL nor url.Parse's error is shown: both hold the password.
		return nil, stamp.Errorf(stamp.EINVALID, "postgres engine: the admin URL is not a postgres://USER:PASSWORD@HOST:PORT/DB URL")
	}
	cfg, err := pgxpool.ParseConfig(adminURL)
	if err != nil {
		// pgconn redacts the password from its parse errors.
		return nil, stamp.Errorf(stamp.EINVALID, "postgres engine: admin URL: %v", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > connectTimeout {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	// Each Ensure holds a connection throughout; pgxpool's default (4 on
	// a small host) would queue the reconciler's workers behind it.
	if !strings.Contains(adminURL, "pool_max_conns") {
		cfg.MaxConns = max(cfg.MaxConns, minPoolConns)
	}
	where := fmt.Sprintf("%s as %s", net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))), cfg.ConnConfig.User)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres engine: connect to %s: %s", where, cause(err))
	}
	pingCtx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	var super bool
	if err := pool.QueryRow(pingCtx, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres engine: connect to %s: %s", where, cause(err))
	}
	if !super {
		pool.Close()
		return nil, fmt.Errorf("postgres engine: connect to %s: the user is not a superuser; it must be to create tenant roles and databases", where)
	}
	sslmode := u.Query().Get("sslmode")
	if sslmode == "" {
		sslmode = "disable"
	}
	e := &Engine{pool: pool, admin: cfg.ConnConfig, sslmode: sslmode, copyTimeout: DefaultSnapshotTimeout}
	for _, o := range opts {
		o(e)
	}
	return e, nil
}

// Close closes the engine's connections to the server.
func (e *Engine) Close() {
	e.pool.Close()
}

// Ensure makes db's role (see ObjectName) exist with db.Password and the
// attributes of a tenant role, makes its database exist, owned by the role
// and closed to everyone else, and returns the URL the tenant's app connects
// with. It is idempotent, safe after a crash at any point, and safe to call
// concurrently: calls for one database are serialized by an advisory lock.
// Invalid names, and a password that is empty or not printable ASCII, are
// EINVALID.
func (e *Engine) Ensure(ctx context.Context, db stamp.DatabaseSpec) (string, error) {
	name, err := objectName(db)
	if err != nil {
		return "", err
	}
	if err := checkPassword(db); err != nil {
		return "", err
	}
	salt := make([]byte, 16)
	rand.Read(salt)
	verifier, err := scramVerifier(db.Password, salt)
	if err != nil {
		return "", fmt.Errorf("ensure database %s of %s: %w", db.Name, db.Tenant, err)
	}
	err = e.locked(ctx, name, func(conn *pgx.Conn) error {
		if err := ensureRole(ctx, conn, name, verifier, db.ConnectionLimit); err != nil {
			return err
		}
		if err := ensureDatabase(ctx, conn, name); err != nil {
			return err
		}
		return e.handOverSchema(ctx, name, name)
	})
	if err != nil {
		return "", fmt.Errorf("ensure database %s of %s: %w", db.Name, db.Tenant, err)
	}
	return appURL(e.admin.Host, e.admin.Port, e.sslmode, name, db.Password), nil
}

// Drop deletes db's database, its snapshots and its role, first
// disconnecting everyone using either. A missing database or role is not an error; invalid names are
// EINVALID.
func (e *Engine) Drop(ctx context.Context, db stamp.DatabaseSpec) error {
	name, err := objectName(db)
	if err != nil {
		return err
	}
	if err := e.drop(ctx, name); err != nil {
		return fmt.Errorf("drop database %s of %s: %w", db.Name, db.Tenant, err)
	}
	return nil
}

// drop deletes the database and role name and the database's snapshots.
func (e *Engine) drop(ctx context.Context, name string) error {
	q := pgx.Identifier{name}.Sanitize()
	return e.locked(ctx, name, func(conn *pgx.Conn) error {
		// NOLOGIN first, so nobody reconnects between the terminate and the drops.
		if _, err := conn.Exec(ctx, `ALTER ROLE `+q+` NOLOGIN`); err != nil && !hasCode(err, codeUndefinedObject) {
			return fmt.Errorf("disable login: %w", err)
		}
		if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE (datname = $1 OR usename = $1) AND pid <> pg_backend_pid()`, name); err != nil {
			return fmt.Errorf("terminate connections: %w", err)
		}
		if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+q+` WITH (FORCE)`); err != nil {
			return fmt.Errorf("drop database: %w", err)
		}
		// Before the role: the snapshots hold objects it owns.
		if err := dropSnapshots(ctx, conn, name); err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, `DROP ROLE IF EXISTS `+q); err != nil {
			return fmt.Errorf("drop role: %w", err)
		}
		return nil
	})
}

// ensureRole creates the role name if it is missing, else sets its
// password, attributes and connection limit again.
func ensureRole(ctx context.Context, conn *pgx.Conn, name, verifier string, limit int) error {
	q := pgx.Identifier{name}.Sanitize()
	// The verifier is base64, digits and "$:-", so it needs no escaping.
	options := roleOptions(limit) + ` PASSWORD '` + verifier + `'`
	_, err := conn.Exec(ctx, `CREATE ROLE `+q+` WITH `+options)
	if hasCode(err, codeDuplicateObject, codeUniqueViolation) {
		_, err = conn.Exec(ctx, `ALTER ROLE `+q+` WITH `+options)
	}
	if err != nil {
		return fmt.Errorf("create role: %w", err)
	}
	return nil
}

// ensureDatabase creates the database name, owned by the role name, if it
// is missing, and (re)applies its owner and privileges.
func ensureDatabase(ctx context.Context, conn *pgx.Conn, name string) error {
	q := pgx.Identifier{name}.Sanitize()
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("look up database: %w", err)
	}
	if !exists {
		// CREATE DATABASE cannot run in a transaction, so a concurrent
		// creator (another control plane) shows up as a duplicate here.
		_, err := conn.Exec(ctx, `CREATE DATABASE `+q+` OWNER `+q)
		if err != nil && !hasCode(err, codeDuplicateDatabase, codeUniqueViolation) {
			return fmt.Errorf("create database: %w", err)
		}
	}
	for _, stmt := range []string{
		`ALTER DATABASE ` + q + ` OWNER TO ` + q,
		`REVOKE ALL ON DATABASE ` + q + ` FROM PUBLIC`,
		`GRANT CONNECT, TEMPORARY ON DATABASE ` + q + ` TO ` + q,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("set privileges of database: %w", err)
		}
	}
	return nil
}

// handOverSchema makes role own the public schema of database. Since
// PostgreSQL 15 the schema belongs to pg_database_owner, whose rights a
// NOINHERIT role does not use, so without this the app could not create
// its tables.
func (e *Engine) handOverSchema(ctx context.Context, database, role string) error {
	cfg := e.admin.Copy()
	cfg.Database = database
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to the database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	q := pgx.Identifier{role}.Sanitize()
	if _, err := conn.Exec(ctx, `ALTER SCHEMA public OWNER TO `+q); err != nil && !hasCode(err, codeInvalidSchemaName) {
		return fmt.Errorf("hand over schema public: %w", err)
	}
	return nil
}

// locked runs f on one connection while holding a session advisory lock for
// name, so that concurrent calls for one database (goroutines, or control
// planes sharing the server) do not race on the same catalog rows, which
// PostgreSQL reports as "tuple concurrently updated".
func (e *Engine) locked(ctx context.Context, name string, f func(*pgx.Conn) error) error {
	c, err := e.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer c.Release()
	h := fnv.New64a()
	h.Write([]byte("stamp engine/postgres " + name))
	key := int64(h.Sum64())
	if _, err := c.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		return fmt.Errorf("take lock: %w", err)
	}
	defer func() {
		unlockCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), connectTimeout)
		defer cancel()
		if _, err := c.Exec(unlockCtx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
			// Closing the session releases the lock; a pooled session
			// still holding it would block this database for good.
			c.Conn().Close(unlockCtx)
		}
	}()
	return f(c.Conn())
}

// objectName validates the names of db and returns its role and database
// name.
func objectName(db stamp.DatabaseSpec) (string, error) {
	if err := stamp.ValidateName("tenant", db.Tenant); err != nil {
		return "", err
	}
	if err := stamp.ValidateName("database", db.Name); err != nil {
		return "", err
	}
	return ObjectName(db.Tenant, db.Name), nil
}

// checkPassword refuses passwords a tenant could not log in with reliably:
// empty ones, and ones outside printable ASCII, which clients normalize
// (SASLprep) in ways that differ between libpq and pgx.
func checkPassword(db stamp.DatabaseSpec) error {
	if db.Password == "" {
		return stamp.Errorf(stamp.EINVALID, "database %s of %s has no password", db.Name, db.Tenant)
	}
	for i := 0; i < len(db.Password); i++ {
		if c := db.Password[i]; c < 0x20 || c > 0x7e {
			return stamp.Errorf(stamp.EINVALID, "password of database %s of %s has a byte outside printable ASCII at position %d", db.Name, db.Tenant, i+1)
		}
	}
	return nil
}

// appURL returns the URL of database name for its role: the admin URL's
// server and sslmode with the role's credentials. A host that is a
// directory is a Unix socket and goes in the query, as libpq and pgx read it.
func appURL(host string, port uint16, sslmode, name, password string) string {
	u := url.URL{
		Scheme: "postgres",
		User:   url.UserPassword(name, password),
		Path:   "/" + name,
	}
	query := url.Values{"sslmode": {sslmode}}
	if strings.HasPrefix(host, "/") {
		query.Set("host", host)
		query.Set("port", strconv.Itoa(int(port)))
	} else {
		u.Host = net.JoinHostPort(host, strconv.Itoa(int(port)))
	}
	u.RawQuery = query.Encode()
	return u.String()
}

// hasCode reports whether err is a PostgreSQL error with one of codes.
func hasCode(err error, codes ...string) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	for _, c := range codes {
		if pgErr.Code == c {
			return true
		}
	}
	return false
}

// cause returns the innermost useful message of a connection error, on one
// line: the server's message (a wrong password), else the network error,
// else pgconn's message, which lists every address it tried on a line each.
func cause(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Message
	}
	var netErr *net.OpError
	if errors.As(err, &netErr) {
		return netErr.Error()
	}
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Join(lines, "; ")
}
