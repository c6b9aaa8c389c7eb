package postgres_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/engine/postgres"
)

// dump returns the columns of every table of the public schema and the rows
// of table t, as text.
func dump(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var b strings.Builder
	rows, err := conn.Query(t.Context(), `SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var table, column, typ string
		err := r.Scan(&table, &column, &typ)
		return table + "." + column + " " + typ, err
	})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(&b, strings.Join(cols, "; "))
	rows, err = conn.Query(t.Context(), `SELECT t::text FROM t ORDER BY x`)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(&b, strings.Join(vals, "; "))
	var next int
	if err := conn.QueryRow(t.Context(), `SELECT last_value FROM t_x_seq`).Scan(&next); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(&b, "sequence", next)
	return b.String()
}

// ensureApp ensures a database with a table t of two rows, and returns its
// spec and app URL.
func ensureApp(t *testing.T, e *postgres.Engine) (stamp.DatabaseSpec, string) {
	t.Helper()
	s := spec("acme" + random(6))
	u := ensure(t, e, s)
	conn := connect(t, u)
	exec(t, conn, `CREATE TABLE t (x serial PRIMARY KEY, y text)`)
	exec(t, conn, `INSERT INTO t (y) VALUES ('one'), ('two')`)
	conn.Close(t.Context())
	return s, u
}

func TestSnapshotRestore(t *testing.T) {
	e := newEngine(t)
	s, u := ensureApp(t, e)
	app := connect(t, u)
	want := dump(t, app)

	if err := e.Snapshot(t.Context(), s, "pre-1-3-0"); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	// A failed migration: new column, table and schema, changed rows.
	for _, stmt := range []string{
		`ALTER TABLE t ADD COLUMN z text DEFAULT 'new'`,
		`CREATE TABLE added (a int)`,
		`INSERT INTO added VALUES (1)`,
		`CREATE SCHEMA extra`,
		`CREATE TABLE extra.more (b int)`,
		`UPDATE t SET y = 'changed' WHERE x = 1`,
		`DELETE FROM t WHERE x = 2`,
		`INSERT INTO t (y) VALUES ('three')`,
	} {
		exec(t, app, stmt)
	}
	if got := dump(t, app); got == want {
		t.Fatalf("the migration changed nothing: %q", got)
	}

	// The app stays connected during Restore.
	if err := e.Restore(t.Context(), s, "pre-1-3-0"); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	fresh := connect(t, u)
	if got := dump(t, fresh); got != want {
		t.Errorf("after Restore: got %q, want %q", got, want)
	}
	// The app's role owns what it owned and can write and create again.
	exec(t, fresh, `INSERT INTO t (y) VALUES ('four')`)
	exec(t, fresh, `CREATE TABLE later (c int)`)
	fresh.Close(t.Context())

	// The snapshot stays, for another Restore.
	if err := e.Restore(t.Context(), s, "pre-1-3-0"); err != nil {
		t.Fatalf("second Restore: %v", err)
	}
	if got := dump(t, connect(t, u)); got != want {
		t.Errorf("after second Restore: got %q, want %q", got, want)
	}
	// Only the administrator can reach the snapshot.
	snapURL := withDatabase(t, u, postgres.SnapshotName(s.Tenant, s.Name, "pre-1-3-0"))
	if c, err := pgx.Connect(t.Context(), snapURL); err == nil {
		c.Close(t.Context())
		t.Errorf("the app's role connected to its snapshot")
	}
}

func TestSnapshotWhileWriting(t *testing.T) {
	e := newEngine(t)
	s, u := ensureApp(t, e)
	app := connect(t, u)
	tx, err := app.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), `INSERT INTO t (y) VALUES ('uncommitted')`); err != nil {
		t.Fatal(err)
	}
	if err := e.Snapshot(t.Context(), s, "mid"); err != nil {
		t.Fatalf("Snapshot during a write transaction: %v", err)
	}
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := e.Restore(t.Context(), s, "mid"); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	var n int
	if err := connect(t, u).QueryRow(t.Context(), `SELECT count(*) FROM t`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("rows: got %d, want 2", n)
	}
}

func TestSnapshotReplaced(t *testing.T) {
	e := newEngine(t)
	s, u := ensureApp(t, e)
	if err := e.Snapshot(t.Context(), s, "pre"); err != nil {
		t.Fatalf("first Snapshot: %v", err)
	}
	app := connect(t, u)
	exec(t, app, `INSERT INTO t (y) VALUES ('three')`)
	want := dump(t, app)
	if err := e.Snapshot(t.Context(), s, "pre"); err != nil {
		t.Fatalf("second Snapshot: %v", err)
	}
	exec(t, app, `DELETE FROM t`)
	if err := e.Restore(t.Context(), s, "pre"); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if got := dump(t, connect(t, u)); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSnapshotErrors(t *testing.T) {
	e := newEngine(t)
	s, _ := ensureApp(t, e)
	ctx := t.Context()
	ghost := spec("ghost" + random(6))
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"restore missing snapshot", e.Restore(ctx, s, "nope"), stamp.ENOTFOUND},
		{"snapshot missing database", e.Snapshot(ctx, ghost, "pre"), stamp.ENOTFOUND},
		{"snapshot invalid name", e.Snapshot(ctx, s, `x"; DROP`), stamp.EINVALID},
		{"snapshot uppercase name", e.Snapshot(ctx, s, "Pre"), stamp.EINVALID},
		{"snapshot empty name", e.Snapshot(ctx, s, ""), stamp.EINVALID},
		{"snapshot name too long", e.Snapshot(ctx, s, strings.Repeat("a", 64)), stamp.EINVALID},
		{"restore invalid name", e.Restore(ctx, s, "a_b"), stamp.EINVALID},
		{"drop snapshot invalid name", e.DropSnapshot(ctx, s, "a.b"), stamp.EINVALID},
		{"snapshot invalid tenant", e.Snapshot(ctx, stamp.DatabaseSpec{Tenant: "A", Name: "main"}, "pre"), stamp.EINVALID},
		{"drop missing snapshot", e.DropSnapshot(ctx, s, "nope"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stamp.ErrorCode(tt.err); got != tt.want {
				t.Errorf("got code %q (%v), want %q", got, tt.err, tt.want)
			}
			if tt.err != nil && strings.Contains(tt.err.Error(), s.Password) {
				t.Errorf("error holds the password: %v", tt.err)
			}
		})
	}
}

func TestDropSnapshot(t *testing.T) {
	e := newEngine(t)
	s, _ := ensureApp(t, e)
	if err := e.Snapshot(t.Context(), s, "pre"); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	for i := range 2 {
		if err := e.DropSnapshot(t.Context(), s, "pre"); err != nil {
			t.Fatalf("DropSnapshot %d: %v", i+1, err)
		}
	}
	if name := postgres.SnapshotName(s.Tenant, s.Name, "pre"); adminExists(t, "pg_database", "datname", name) {
		t.Errorf("database %s still exists after DropSnapshot", name)
	}
	if got := stamp.ErrorCode(e.Restore(t.Context(), s, "pre")); got != stamp.ENOTFOUND {
		t.Errorf("Restore after DropSnapshot: got code %q, want %q", got, stamp.ENOTFOUND)
	}
}

func TestDropRemovesSnapshots(t *testing.T) {
	e := newEngine(t)
	s, u := ensureApp(t, e)
	long := strings.Repeat("s", 63) // the snapshot's database name is shortened
	names := []string{"a", "b", long}
	for _, n := range names {
		if err := e.Snapshot(t.Context(), s, n); err != nil {
			t.Fatalf("Snapshot %s: %v", n, err)
		}
	}
	connect(t, u) // an app still connected
	if err := e.Drop(t.Context(), s); err != nil {
		t.Fatalf("Drop: %v", err)
	}
	for _, n := range names {
		name := postgres.SnapshotName(s.Tenant, s.Name, n)
		if len(name) > 63 {
			t.Errorf("snapshot database name %q is %d bytes, want at most 63", name, len(name))
		}
		if adminExists(t, "pg_database", "datname", name) {
			t.Errorf("snapshot database %s still exists after Drop", name)
		}
	}
	if name := postgres.ObjectName(s.Tenant, s.Name); adminExists(t, "pg_roles", "rolname", name) {
		t.Errorf("role %s still exists after Drop", name)
	}
}
