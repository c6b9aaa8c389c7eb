package benchkit

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

// Cluster is a throwaway PostgreSQL cluster that scripts/postgres runs in
// dir: tenant databases and floor databases both live on it.
type Cluster struct {
	script string // scripts/postgres
	dir    string
	URL    string // superuser URL
}

// StartCluster starts a cluster in dir with the repository's script. The
// postgres user must be able to traverse dir's parent. The returned
// cluster is non-nil whenever the script ran, so the caller can stop it.
func StartCluster(ctx context.Context, root, dir string) (*Cluster, error) {
	c := &Cluster{script: filepath.Join(root, "scripts", "postgres"), dir: dir}
	cmd := exec.CommandContext(ctx, c.script, "start", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return c, fmt.Errorf("start PostgreSQL: %w\n%s", err, stderr.Bytes())
	}
	lines := strings.Fields(string(out))
	if len(lines) == 0 {
		return c, fmt.Errorf("start PostgreSQL: the script printed no URL\n%s", stderr.Bytes())
	}
	c.URL = lines[len(lines)-1]
	return c, nil
}

// Stop stops the cluster immediately. It runs on every exit path, Ctrl-C
// included, so it does not use the run's (then cancelled) context.
func (c *Cluster) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, c.script, "stop", c.dir).CombinedOutput(); err != nil {
		return fmt.Errorf("stop PostgreSQL: %w\n%s", err, out)
	}
	return nil
}

// PostgresFloor gives each sample a database of its own on the cluster,
// owned by a login role of its own that alone may connect to it: what
// Stamp's postgres engine makes for a tenant, in the fewest statements.
type PostgresFloor struct {
	pool  *pgxpool.Pool   // superuser connections to the cluster
	admin *pgx.ConnConfig // to connect to a sample's database as superuser
	addr  string          // host:port of the cluster
}

// NewPostgresFloor connects to the cluster as its superuser.
func NewPostgresFloor(ctx context.Context, adminURL string) (*PostgresFloor, error) {
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
	return &PostgresFloor{pool: pool, admin: cfg.ConnConfig, addr: addr}, nil
}

// floorName is the role and database name of floor sample n.
func floorName(n int64) string { return "floor_" + strconv.FormatInt(n, 10) }

// Create makes the database of floor sample n and returns its URL: it
// runs CREATE ROLE, CREATE DATABASE and REVOKE CONNECT as the
// superuser, then hands the role the public schema from inside the new
// database, as Stamp's engine does (PostgreSQL 15 and later give it to
// pg_database_owner).
func (f *PostgresFloor) Create(ctx context.Context, n int64) (string, error) {
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
func (f *PostgresFloor) handOverSchema(ctx context.Context, name string) error {
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

// Drop drops the database of sample n (ending any connection left) and
// then its role; it is safe after a create that failed half way.
func (f *PostgresFloor) Drop(ctx context.Context, n int64) error {
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

// Backends counts the client connections the cluster holds now.
func (f *PostgresFloor) Backends(ctx context.Context) (int, error) {
	var n int
	err := f.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count connections: %w", err)
	}
	return n, nil
}

// Close closes the superuser connections.
func (f *PostgresFloor) Close() { f.pool.Close() }

// CreateDatabase creates database name, owned by the superuser, on the
// cluster at adminURL (a superuser's URL) and returns the URL of the new
// database: a fresh store for one server.
func CreateDatabase(ctx context.Context, adminURL, name string) (string, error) {
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", fmt.Errorf("create database %s: parse the cluster URL: %w", name, err)
	}
	if err := superuserExec(ctx, adminURL, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// DropDatabase drops database name of the cluster at adminURL, ending
// any connection left to it; a missing one is fine.
func DropDatabase(ctx context.Context, adminURL, name string) error {
	if err := superuserExec(ctx, adminURL, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// superuserExec runs stmt on its own connection to adminURL.
func superuserExec(ctx context.Context, adminURL, stmt string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, stmt)
	return err
}
