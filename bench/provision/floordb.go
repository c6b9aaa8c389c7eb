package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// floorDB makes the database of one floor sample by hand, as an operator
// would without Stamp, and takes it away afterwards.
type floorDB interface {
	// create makes the database of floor sample n, whose directory is dir,
	// and returns the DATABASE_URL the app is given.
	create(ctx context.Context, dir string, n int64) (string, error)
	// drop removes the database of sample n once its app has stopped. It
	// is safe after a create that failed half way.
	drop(ctx context.Context, n int64) error
	// close releases what the floorDB holds.
	close()
}

// sqliteFloor gives each sample an SQLite path in its directory: the app
// creates the file, and removing the directory removes it.
type sqliteFloor struct{}

func (sqliteFloor) create(_ context.Context, dir string, _ int64) (string, error) {
	return "sqlite:" + filepath.Join(dir, "ledger.db"), nil
}

func (sqliteFloor) drop(context.Context, int64) error { return nil }

func (sqliteFloor) close() {}

// postgresFloor gives each sample a database of its own on the cluster,
// owned by a login role of its own that alone may connect to it: what
// Stamp's postgres engine makes for a tenant, in the fewest statements.
type postgresFloor struct {
	pool  *pgxpool.Pool   // superuser connections to the cluster
	admin *pgx.ConnConfig // to connect to a sample's database as superuser
	addr  string          // host:port of the cluster
}

// newPostgresFloor connects to the cluster as its superuser.
func newPostgresFloor(ctx context.Context, adminURL string) (*postgresFloor, error) {
	cfg, err := pgxpool.ParseConfig(adminURL)
	if err != nil {
		return nil, fmt.Errorf("parse the cluster URL: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the cluster: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to the cluster: %w", err)
	}
	addr := net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port)))
	return &postgresFloor{pool: pool, admin: cfg.ConnConfig, addr: addr}, nil
}

// floorName is the role and database name of floor sample n.
func floorName(n int64) string { return "floor_" + strconv.FormatInt(n, 10) }

// create runs CREATE ROLE, CREATE DATABASE and REVOKE CONNECT as the
// superuser, then hands the role the public schema from inside the new
// database, as Stamp's engine does (PostgreSQL 15 and later give it to
// pg_database_owner).
func (f *postgresFloor) create(ctx context.Context, _ string, n int64) (string, error) {
	name := floorName(n)
	q := pgx.Identifier{name}.Sanitize()
	password := rand.Text() // base32: nothing to escape
	for _, stmt := range []string{
		`CREATE ROLE ` + q + ` LOGIN PASSWORD '` + password + `'`,
		`CREATE DATABASE ` + q + ` OWNER ` + q,
		`REVOKE CONNECT ON DATABASE ` + q + ` FROM PUBLIC`,
	} {
		if _, err := f.pool.Exec(ctx, stmt); err != nil {
			return "", fmt.Errorf("create database %s: %w", name, err)
		}
	}
	if err := f.handOverSchema(ctx, name); err != nil {
		return "", err
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(name, password), Host: f.addr, Path: "/" + name, RawQuery: "sslmode=disable"}
	return u.String(), nil
}

// handOverSchema runs ALTER SCHEMA public OWNER TO the role, inside its
// database, as the superuser.
func (f *postgresFloor) handOverSchema(ctx context.Context, name string) error {
	cfg := f.admin.Copy()
	cfg.Database = name
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to database %s: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `ALTER SCHEMA public OWNER TO `+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("hand over schema public of %s: %w", name, err)
	}
	return nil
}

// drop drops the database (ending any connection left) and then the role.
func (f *postgresFloor) drop(ctx context.Context, n int64) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	q := pgx.Identifier{floorName(n)}.Sanitize()
	for _, stmt := range []string{`DROP DATABASE IF EXISTS ` + q + ` WITH (FORCE)`, `DROP ROLE IF EXISTS ` + q} {
		if _, err := f.pool.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("drop database and role %s: %w", floorName(n), err)
		}
	}
	return nil
}

// backends counts the client connections the cluster holds now.
func (f *postgresFloor) backends(ctx context.Context) (int, error) {
	var n int
	err := f.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count connections: %w", err)
	}
	return n, nil
}

func (f *postgresFloor) close() { f.pool.Close() }
