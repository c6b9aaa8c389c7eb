package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/engine/sqlite"
)

// sqliteInstall is how to get the floor's tool on Debian.
const sqliteInstall = "apt-get install -y sqlite3"

// sqliteSchema is the app's schema on SQLite.
var sqliteSchema = []string{
	`CREATE TABLE customers (
		id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, company TEXT NOT NULL,
		address TEXT NOT NULL, country TEXT NOT NULL, created_at TEXT NOT NULL, notes TEXT NOT NULL)`,
	`CREATE TABLE invoices (
		id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),
		number TEXT NOT NULL UNIQUE, issued_at TEXT NOT NULL, due_at TEXT NOT NULL, status TEXT NOT NULL,
		currency TEXT NOT NULL, total_cents INTEGER NOT NULL, reference TEXT NOT NULL,
		lines TEXT NOT NULL, memo TEXT NOT NULL)`,
	`CREATE INDEX invoices_by_customer ON invoices (customer_id, issued_at)`,
}

// sqliteTarget is a tenant database of the sqlite engine, with the
// sqlite3 CLI as the floor: `.backup` to a file and `.restore` from it,
// into the same live database Stamp loads into.
type sqliteTarget struct {
	engine *sqlite.Engine
	db     stamp.DatabaseSpec
	path   string // the live database file
	cli    string // sqlite3
}

// findSQLiteCLI returns the path of the sqlite3 CLI, or an error saying
// how to install it.
func findSQLiteCLI() (string, error) {
	p, err := exec.LookPath("sqlite3")
	if err != nil {
		return "", fmt.Errorf("the floor needs the sqlite3 CLI, which is not installed: %s (as root)", sqliteInstall)
	}
	return p, nil
}

// newSQLiteTarget makes the tenant's database with the engine (Ensure),
// under dir, and fills it: with batches rows if above 0, else until its
// file holds size bytes. It returns the target and the batches written.
func newSQLiteTarget(ctx context.Context, dir, tenant string, gen *generator, batches int, size int64) (*sqliteTarget, int, error) {
	cli, err := findSQLiteCLI()
	if err != nil {
		return nil, 0, err
	}
	t := &sqliteTarget{engine: sqlite.New(dir), db: stamp.DatabaseSpec{Tenant: tenant, Name: "main"}, cli: cli}
	u, err := t.engine.Ensure(ctx, t.db)
	if err != nil {
		return nil, 0, fmt.Errorf("make the tenant's SQLite database: %w", err)
	}
	t.path = strings.TrimPrefix(u, "sqlite:")
	n, err := t.fill(ctx, gen, batches, size)
	if err != nil {
		return nil, 0, fmt.Errorf("fill the tenant's SQLite database: %w", err)
	}
	return t, n, nil
}

// fill writes the schema and batches of rows as the app would, one
// transaction a batch, then checkpoints the WAL into the file.
func (t *sqliteTarget) fill(ctx context.Context, gen *generator, batches int, size int64) (int, error) {
	db, err := sql.Open("sqlite", "file:"+t.path+"?_pragma=synchronous(OFF)&_pragma=busy_timeout(10000)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, stmt := range sqliteSchema {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return 0, err
		}
	}
	n := 0
	for batches <= 0 || n < batches {
		if err := t.insert(ctx, db, gen.next()); err != nil {
			return n, err
		}
		n++
		if batches <= 0 {
			var pages, pageSize int64
			if err := db.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
				return n, err
			}
			if err := db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
				return n, err
			}
			if pages*pageSize >= size {
				break
			}
		}
	}
	if _, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return n, err
	}
	return n, db.Close()
}

// insert writes one batch in one transaction.
func (t *sqliteTarget) insert(ctx context.Context, db *sql.DB, b batch) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	cs, err := tx.PrepareContext(ctx, `INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer cs.Close()
	for _, c := range b.customers {
		if _, err := cs.ExecContext(ctx, c.id, c.name, c.email, c.company, c.address, c.country, c.createdAt.Format(time.RFC3339), c.notes); err != nil {
			return err
		}
	}
	is, err := tx.PrepareContext(ctx, `INSERT INTO invoices VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer is.Close()
	for _, i := range b.invoices {
		if _, err := is.ExecContext(ctx, i.id, i.customerID, i.number, i.issuedAt.Format(time.RFC3339), i.dueAt.Format(time.RFC3339),
			i.status, i.currency, i.totalCents, i.reference, i.lines, i.memo); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// label names the engine in the report.
func (t *sqliteTarget) label() string { return "SQLite" }

// dumper is the engine.
func (t *sqliteTarget) dumper() stamp.Dumper { return t.engine }

// spec names the tenant's database.
func (t *sqliteTarget) spec() stamp.DatabaseSpec { return t.db }

// floorExt ends the floor's file: an SQLite database.
func (t *sqliteTarget) floorExt() string { return "sqlite" }

// prepareRestore has nothing to do: the floor restores into the live
// database.
func (t *sqliteTarget) prepareRestore(context.Context) error { return nil }

// onDisk is the size of the live database's file.
func (t *sqliteTarget) onDisk(context.Context) (int64, error) {
	fi, err := os.Stat(t.path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// floorBackup runs `sqlite3 LIVE ".backup FILE"`: SQLite's online backup
// API, page by page, into a new file.
func (t *sqliteTarget) floorBackup(ctx context.Context, file string) error {
	return t.run(ctx, ".backup "+quoteDot(file))
}

// floorRestore runs `sqlite3 LIVE ".restore FILE"`: the same API the
// other way, into the live database, as Stamp's Load does.
func (t *sqliteTarget) floorRestore(ctx context.Context, file string) error {
	return t.run(ctx, ".restore "+quoteDot(file))
}

// run runs one dot-command of the sqlite3 CLI on the live database.
func (t *sqliteTarget) run(ctx context.Context, command string) error {
	out, err := exec.CommandContext(ctx, t.cli, t.path, command).CombinedOutput()
	if err == nil && len(strings.TrimSpace(string(out))) > 0 {
		err = errors.New("it printed an error")
	}
	if err != nil {
		return fmt.Errorf("sqlite3 %s: %w: %s", command, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// quoteDot quotes a file name for an sqlite3 dot-command.
func quoteDot(name string) string { return `"` + strings.ReplaceAll(name, `"`, `\"`) + `"` }

// floorRows counts the rows the floor restored: into the live database.
func (t *sqliteTarget) floorRows(ctx context.Context) (rowCounts, error) { return t.liveRows(ctx) }

// liveRows counts the rows of the live database.
func (t *sqliteTarget) liveRows(ctx context.Context) (rowCounts, error) {
	db, err := sql.Open("sqlite", "file:"+t.path+"?mode=rw")
	if err != nil {
		return rowCounts{}, err
	}
	defer db.Close()
	return countRows(ctx, db.QueryRowContext)
}

// components measures, once a round, VACUUM INTO alone: the first half
// of the engine's Dump, which then copies the file it made to the dump's
// writer; and, where the zstd CLI is installed, `zstd -1` of the floor's
// file: what a floor that compresses, as Stamp does, would add.
func (t *sqliteTarget) components(ctx context.Context, scratch, floorFile string) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	if zstdCLI, err := exec.LookPath("zstd"); err == nil {
		start := time.Now()
		if msg, err := exec.CommandContext(ctx, zstdCLI, "-1", "-q", "-o", filepath.Join(scratch, "floor.zst"), floorFile).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("zstd -1: %w: %s", err, strings.TrimSpace(string(msg)))
		}
		out[compZstdCLI] = time.Since(start)
	}
	dst := filepath.Join(scratch, "vacuum.db")
	defer os.Remove(dst)
	start := time.Now()
	// As the engine's vacuumInto opens it.
	db, err := sql.Open("sqlite", "file:"+t.path+"?mode=rw&_pragma=busy_timeout(30000)")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return nil, fmt.Errorf("VACUUM INTO: %w", err)
	}
	if err := db.Close(); err != nil {
		return nil, err
	}
	out[compVacuum] = time.Since(start)
	return out, nil
}

// close drops the tenant's database.
func (t *sqliteTarget) close(ctx context.Context) error {
	return t.engine.Drop(context.WithoutCancel(ctx), t.db)
}

// rowCounts are the rows of the app's two tables.
type rowCounts struct{ customers, invoices int64 }

// countRows counts both tables with queryRow.
func countRows[R interface{ Scan(...any) error }](ctx context.Context, queryRow func(context.Context, string, ...any) R) (rowCounts, error) {
	var c rowCounts
	if err := queryRow(ctx, "SELECT count(*) FROM customers").Scan(&c.customers); err != nil {
		return c, fmt.Errorf("count customers: %w", err)
	}
	if err := queryRow(ctx, "SELECT count(*) FROM invoices").Scan(&c.invoices); err != nil {
		return c, fmt.Errorf("count invoices: %w", err)
	}
	return c, nil
}
