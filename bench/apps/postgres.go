package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// cluster is a throwaway PostgreSQL cluster that scripts/postgres runs in
// dir: tenant databases and floor databases both live on it.
type cluster struct {
	script string // scripts/postgres
	dir    string
	url    string // superuser URL
}

// startCluster starts a cluster in dir with the repository's script. The
// returned cluster is non-nil whenever the script ran, so the caller can
// stop it.
func startCluster(ctx context.Context, root, dir string) (*cluster, error) {
	c := &cluster{script: filepath.Join(root, "scripts", "postgres"), dir: dir}
	cmd := exec.CommandContext(ctx, c.script, "start", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return c, fmt.Errorf("start PostgreSQL: %w\n%s", err, stderr.Bytes())
	}
	c.url = strings.TrimSpace(string(out))
	return c, nil
}

// stop stops the cluster; it runs on every exit path, so it does not use
// the run's (maybe cancelled) context.
func (c *cluster) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, c.script, "stop", c.dir).CombinedOutput(); err != nil {
		return fmt.Errorf("stop PostgreSQL: %w\n%s", err, out)
	}
	return nil
}

// floorDB makes each floor sample a database of its own on the cluster,
// owned by a login role of its own that alone may connect to it: what
// Stamp's postgres engine makes for a tenant, in the fewest statements.
type floorDB struct {
	pool  *pgxpool.Pool   // superuser connections to the cluster
	admin *pgx.ConnConfig // to connect to a sample's database as superuser
	addr  string          // host:port of the cluster
}

// newFloorDB connects to the cluster as its superuser.
func newFloorDB(ctx context.Context, adminURL string) (*floorDB, error) {
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
	return &floorDB{pool: pool, admin: cfg.ConnConfig, addr: addr}, nil
}

// floorName is the role and database name of floor sample n.
func floorName(n int64) string { return "floor_" + strconv.FormatInt(n, 10) }

// create runs CREATE ROLE, CREATE DATABASE and REVOKE CONNECT as the
// superuser, then hands the role the public schema from inside the new
// database (PostgreSQL 15 gives it to pg_database_owner), and returns the
// role's URL.
func (f *floorDB) create(ctx context.Context, n int64) (string, error) {
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
	cfg := f.admin.Copy()
	cfg.Database = name
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", fmt.Errorf("connect to database %s: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `ALTER SCHEMA public OWNER TO `+q); err != nil {
		return "", fmt.Errorf("hand over schema public of %s: %w", name, err)
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(name, password), Host: f.addr, Path: "/" + name, RawQuery: "sslmode=disable"}
	return u.String(), nil
}

// drop drops the database of sample n (ending any connection left) and
// then its role; it is safe after a create that failed half way.
func (f *floorDB) drop(ctx context.Context, n int64) error {
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
