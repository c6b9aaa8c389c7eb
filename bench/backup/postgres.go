package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/engine/postgres"
)

// postgresSchema is the app's schema on PostgreSQL.
var postgresSchema = []string{
	`CREATE TABLE customers (
		id bigint PRIMARY KEY, name text NOT NULL, email text NOT NULL, company text NOT NULL,
		address text NOT NULL, country text NOT NULL, created_at timestamptz NOT NULL, notes text NOT NULL)`,
	`CREATE TABLE invoices (
		id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers (id),
		number text NOT NULL UNIQUE, issued_at timestamptz NOT NULL, due_at timestamptz NOT NULL, status text NOT NULL,
		currency text NOT NULL, total_cents bigint NOT NULL, reference text NOT NULL,
		lines text NOT NULL, memo text NOT NULL)`,
	`CREATE INDEX invoices_by_customer ON invoices (customer_id, issued_at)`,
}

// postgresTarget is a tenant database of the postgres engine, with
// pg_dump and pg_restore by hand as the floor: `pg_dump --format=custom`
// (its default compression) to a file as the tenant's role, and
// `pg_restore --single-transaction` of it into a new database.
type postgresTarget struct {
	engine *postgres.Engine
	db     stamp.DatabaseSpec
	admin  *pgx.ConnConfig // the cluster's superuser
	app    *pgx.ConnConfig // the tenant's role, on its database
	bin    string          // pg_dump and pg_restore, the engine's too
	// floorDB is the database the floor restores into, templateDB the
	// copies the components make of it: the tenant's role owns both, and
	// close drops them.
	floorDB, templateDB string
	// floorCreated is how long the last CREATE DATABASE of floorDB took,
	// which the floor's restore does not count.
	floorCreated time.Duration
}

// clientBinDir returns the directory of pg_dump and pg_restore that the
// engine picks: the newest of Debian's /usr/lib/postgresql/<version>/bin
// with both, else the one of pg_dump on PATH.
func clientBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) int {
		v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		if executable(filepath.Join(d, "pg_dump")) && executable(filepath.Join(d, "pg_restore")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("pg_dump"); err == nil && executable(filepath.Join(filepath.Dir(p), "pg_restore")) {
		return filepath.Dir(p), nil
	}
	return "", errors.New("pg_dump and pg_restore not found: install PostgreSQL's client tools (Debian: apt-get install -y postgresql-client)")
}

// executable reports whether path is a regular file someone may run.
func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// newPostgresTarget makes the tenant's database with the engine (Ensure,
// with a password) on the cluster at adminURL, and fills it as its role:
// with batches rows if above 0, else until pg_database_size reaches size.
func newPostgresTarget(ctx context.Context, adminURL, tenant string, gen *generator, batches int, size int64) (*postgresTarget, int, error) {
	bin, err := clientBinDir()
	if err != nil {
		return nil, 0, err
	}
	admin, err := pgx.ParseConfig(adminURL)
	if err != nil {
		return nil, 0, fmt.Errorf("the PostgreSQL URL: %w", err)
	}
	engine, err := postgres.New(ctx, adminURL, postgres.WithClientTools(bin))
	if err != nil {
		return nil, 0, err
	}
	t := &postgresTarget{engine: engine, admin: admin, bin: bin,
		db:      stamp.DatabaseSpec{Tenant: tenant, Name: "main", Password: rand.Text()},
		floorDB: "stampbench_floor_" + tenant, templateDB: "stampbench_copy_" + tenant}
	appURL, err := engine.Ensure(ctx, t.db)
	if err != nil {
		engine.Close()
		return nil, 0, fmt.Errorf("make the tenant's PostgreSQL database: %w", err)
	}
	if t.app, err = pgx.ParseConfig(appURL); err != nil {
		engine.Close()
		return nil, 0, fmt.Errorf("the tenant's URL: %w", err)
	}
	n, err := t.fill(ctx, gen, batches, size)
	if err != nil {
		return t, 0, fmt.Errorf("fill the tenant's PostgreSQL database: %w", err)
	}
	return t, n, nil
}

// fill writes the schema and batches of rows as the tenant's role, one
// COPY per table a batch, each batch in a transaction.
func (t *postgresTarget) fill(ctx context.Context, gen *generator, batches int, size int64) (int, error) {
	conn, err := pgx.ConnectConfig(ctx, t.app)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, stmt := range postgresSchema {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return 0, err
		}
	}
	n := 0
	for batches <= 0 || n < batches {
		if err := insertPostgres(ctx, conn, gen.next()); err != nil {
			return n, err
		}
		n++
		if batches <= 0 {
			var have int64
			if err := conn.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&have); err != nil {
				return n, err
			}
			if have >= size {
				break
			}
		}
	}
	// What a real database of that age would have had: statistics, and
	// its visibility map set.
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		return n, err
	}
	return n, nil
}

// insertPostgres writes one batch in one transaction.
func insertPostgres(ctx context.Context, conn *pgx.Conn, b batch) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"customers"},
			[]string{"id", "name", "email", "company", "address", "country", "created_at", "notes"},
			pgx.CopyFromSlice(len(b.customers), func(i int) ([]any, error) {
				c := b.customers[i]
				return []any{c.id, c.name, c.email, c.company, c.address, c.country, c.createdAt, c.notes}, nil
			}))
		if err != nil {
			return err
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"invoices"},
			[]string{"id", "customer_id", "number", "issued_at", "due_at", "status", "currency", "total_cents", "reference", "lines", "memo"},
			pgx.CopyFromSlice(len(b.invoices), func(i int) ([]any, error) {
				v := b.invoices[i]
				return []any{v.id, v.customerID, v.number, v.issuedAt, v.dueAt, v.status, v.currency, v.totalCents, v.reference, v.lines, v.memo}, nil
			}))
		return err
	})
}

// label names the engine in the report.
func (t *postgresTarget) label() string { return "PostgreSQL" }

// dumper is the engine.
func (t *postgresTarget) dumper() stamp.Dumper { return t.engine }

// spec names the tenant's database, with its password.
func (t *postgresTarget) spec() stamp.DatabaseSpec { return t.db }

// floorExt ends the floor's file: pg_dump's custom format.
func (t *postgresTarget) floorExt() string { return "pgdump" }

// onDisk is pg_database_size of the live database.
func (t *postgresTarget) onDisk(ctx context.Context) (int64, error) {
	var n int64
	err := t.adminDo(ctx, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, "SELECT pg_database_size($1)", t.app.Database).Scan(&n)
	})
	return n, err
}

// floorBackup runs `pg_dump --format=custom --file=FILE` as the tenant's
// role: its default compression, what one would type.
func (t *postgresTarget) floorBackup(ctx context.Context, file string) error {
	return t.tool(ctx, t.app.Database, "pg_dump", "--format=custom", "--no-password", "--file="+file)
}

// prepareRestore makes the empty database the floor restores into
// (untimed), as the engine makes its own: from template0, owned by the
// tenant's role, and with its public schema handed to the role.
func (t *postgresTarget) prepareRestore(ctx context.Context) error {
	var err error
	t.floorCreated, err = t.timedCreate(ctx, t.floorDB, `TEMPLATE template0`)
	return err
}

// timedCreate drops database name and creates it again, owned by the
// tenant's role and its public schema handed to the role, with the
// CREATE DATABASE options opts. It returns how long CREATE DATABASE took.
func (t *postgresTarget) timedCreate(ctx context.Context, name, opts string) (time.Duration, error) {
	var took time.Duration
	role := pgx.Identifier{t.app.User}.Sanitize()
	q := pgx.Identifier{name}.Sanitize()
	err := t.adminDo(ctx, func(conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+q+` WITH (FORCE)`); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		start := time.Now()
		if _, err := conn.Exec(ctx, `CREATE DATABASE `+q+` OWNER `+role+` `+opts); err != nil {
			return fmt.Errorf("create database %s: %w", name, err)
		}
		took = time.Since(start)
		return nil
	})
	if err != nil {
		return 0, err
	}
	cfg := t.admin.Copy()
	cfg.Database = name
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return 0, fmt.Errorf("connect to %s: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `ALTER SCHEMA public OWNER TO `+role); err != nil {
		return 0, fmt.Errorf("hand over schema public of %s: %w", name, err)
	}
	return took, nil
}

// floorRestore runs `pg_restore --single-transaction -d NEWDB FILE` as
// the tenant's role.
func (t *postgresTarget) floorRestore(ctx context.Context, file string) error {
	return t.tool(ctx, t.floorDB, "pg_restore", "--single-transaction", "--exit-on-error", "--no-password", "--dbname="+t.floorDB, file)
}

// tool runs pg_dump or pg_restore of the engine's directory as the
// tenant's role on database db, the password in its environment.
func (t *postgresTarget) tool(ctx context.Context, db, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(t.bin, name), args...)
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "PG") })
	cmd.Env = append(env,
		"PGHOST="+t.app.Host, "PGPORT="+strconv.Itoa(int(t.app.Port)), "PGUSER="+t.app.User,
		"PGPASSWORD="+t.app.Password, "PGDATABASE="+db, "PGSSLMODE=disable")
	var msgs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &msgs, &msgs
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(msgs.String()))
	}
	return nil
}

// floorRows counts the rows of the database the floor restored into.
func (t *postgresTarget) floorRows(ctx context.Context) (rowCounts, error) {
	return t.rowsOf(ctx, t.floorDB)
}

// liveRows counts the rows of the live database, as its role.
func (t *postgresTarget) liveRows(ctx context.Context) (rowCounts, error) {
	return t.rowsOf(ctx, t.app.Database)
}

// rowsOf counts the rows of database name, as the tenant's role.
func (t *postgresTarget) rowsOf(ctx context.Context, name string) (rowCounts, error) {
	cfg := t.app.Copy()
	cfg.Database = name
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return rowCounts{}, fmt.Errorf("connect to %s: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return countRows(ctx, conn.QueryRow)
}

// components measures, once a round, what the last step of the engine's
// Load costs: CREATE DATABASE ... TEMPLATE of a database the size of the
// tenant's (the floor's restored one), with PostgreSQL's default
// strategy (WAL_LOG: every page through the WAL) and with FILE_COPY.
func (t *postgresTarget) components(ctx context.Context, _, _ string) (map[string]time.Duration, error) {
	src := pgx.Identifier{t.floorDB}.Sanitize()
	walLog, err := t.timedCreate(ctx, t.templateDB, `TEMPLATE `+src)
	if err != nil {
		return nil, err
	}
	fileCopy, err := t.timedCreate(ctx, t.templateDB, `TEMPLATE `+src+` STRATEGY FILE_COPY`)
	if err != nil {
		return nil, err
	}
	return map[string]time.Duration{compFloorCreate: t.floorCreated, compTemplateWAL: walLog, compTemplateFile: fileCopy}, nil
}

// adminDo runs f on a connection of the cluster's superuser.
func (t *postgresTarget) adminDo(ctx context.Context, f func(*pgx.Conn) error) error {
	conn, err := pgx.ConnectConfig(ctx, t.admin)
	if err != nil {
		return fmt.Errorf("connect to the cluster: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return f(conn)
}

// close drops what the run made on the cluster: the floor's databases,
// and the tenant's database, role and snapshots (the engine's Drop).
func (t *postgresTarget) close(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	err := t.adminDo(ctx, func(conn *pgx.Conn) error {
		for _, name := range []string{t.floorDB, t.templateDB} {
			if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`); err != nil {
				return fmt.Errorf("drop database %s: %w", name, err)
			}
		}
		return nil
	})
	err = errors.Join(err, t.engine.Drop(ctx, t.db))
	t.engine.Close()
	return err
}
