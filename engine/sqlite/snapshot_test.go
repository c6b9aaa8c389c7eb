package sqlite_test

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/engine/sqlite"
)

// dump returns the schema of db and the rows of its table t, as text.
func dump(t *testing.T, db *sql.DB) string {
	t.Helper()
	var b strings.Builder
	rows, err := db.Query("SELECT type, name, coalesce(sql, '') FROM sqlite_schema ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var typ, name, stmt string
		if err := rows.Scan(&typ, &name, &stmt); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %s: %s\n", typ, name, stmt)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows, err = db.Query("SELECT * FROM t ORDER BY x")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(&b, strings.Join(cols, ","))
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, vals...)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// ensureApp ensures acme/main and returns its spec, its path and a
// connection pool that stays open, as the app's would, limited to one
// connection so every query uses the same one.
func ensureApp(t *testing.T, e *sqlite.Engine) (stamp.DatabaseSpec, string, *sql.DB) {
	t.Helper()
	spec := stamp.DatabaseSpec{Tenant: "acme", Name: "main"}
	url, err := e.Ensure(t.Context(), spec)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	path := strings.TrimPrefix(url, "sqlite:")
	app := open(t, path)
	app.SetMaxOpenConns(1)
	for _, stmt := range []string{
		"CREATE TABLE t(x INTEGER PRIMARY KEY, y TEXT)",
		"CREATE INDEX t_y ON t(y)",
		"INSERT INTO t VALUES (1, 'one'), (2, 'two')",
	} {
		if _, err := app.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	return spec, path, app
}

func TestSnapshotRestore(t *testing.T) {
	e := sqlite.New(t.TempDir())
	ctx := t.Context()
	spec, path, app := ensureApp(t, e)
	want := dump(t, app)

	if err := e.Snapshot(ctx, spec, "pre-1-3-0"); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	// A failed migration: new column, new table, changed and new rows.
	for _, stmt := range []string{
		"ALTER TABLE t ADD COLUMN z TEXT DEFAULT 'new'",
		"CREATE TABLE added(a)",
		"INSERT INTO added VALUES (1)",
		"UPDATE t SET y = 'changed' WHERE x = 1",
		"DELETE FROM t WHERE x = 2",
		"INSERT INTO t VALUES (3, 'three', 'z')",
	} {
		if _, err := app.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if got := dump(t, app); got == want {
		t.Fatalf("the migration changed nothing: %q", got)
	}

	if err := e.Restore(ctx, spec, "pre-1-3-0"); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if got := dump(t, app); got != want {
		t.Errorf("open connection after Restore: got %q, want %q", got, want)
	}
	fresh := open(t, path)
	if got := dump(t, fresh); got != want {
		t.Errorf("new connection after Restore: got %q, want %q", got, want)
	}
	if got := journalMode(t, path); got != "wal" {
		t.Errorf("journal mode after Restore: got %q, want %q", got, "wal")
	}
	var check string
	if err := fresh.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check: got %q (%v), want %q", check, err, "ok")
	}
	// The app keeps writing on its connection.
	if _, err := app.Exec("INSERT INTO t VALUES (4, 'four')"); err != nil {
		t.Errorf("write after Restore: %v", err)
	}
	// The snapshot stays, for another Restore.
	if err := e.Restore(ctx, spec, "pre-1-3-0"); err != nil {
		t.Fatalf("second Restore: %v", err)
	}
	if got := dump(t, app); got != want {
		t.Errorf("after second Restore: got %q, want %q", got, want)
	}
}

func TestSnapshotReplaced(t *testing.T) {
	e := sqlite.New(t.TempDir())
	ctx := t.Context()
	spec, _, app := ensureApp(t, e)
	if err := e.Snapshot(ctx, spec, "pre"); err != nil {
		t.Fatalf("first Snapshot: %v", err)
	}
	if _, err := app.Exec("INSERT INTO t VALUES (3, 'three')"); err != nil {
		t.Fatal(err)
	}
	want := dump(t, app)
	if err := e.Snapshot(ctx, spec, "pre"); err != nil {
		t.Fatalf("second Snapshot: %v", err)
	}
	if _, err := app.Exec("DELETE FROM t"); err != nil {
		t.Fatal(err)
	}
	if err := e.Restore(ctx, spec, "pre"); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if got := dump(t, app); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSnapshotWhileWriting(t *testing.T) {
	e := sqlite.New(t.TempDir())
	ctx := t.Context()
	spec, _, app := ensureApp(t, e)
	// A write transaction the app holds open is not in the snapshot.
	tx, err := app.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO t VALUES (3, 'uncommitted')"); err != nil {
		t.Fatal(err)
	}
	if err := e.Snapshot(ctx, spec, "mid"); err != nil {
		t.Fatalf("Snapshot during a write transaction: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := e.Restore(ctx, spec, "mid"); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	var n int
	if err := app.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("rows: got %d, want 2", n)
	}
}

func TestSnapshotErrors(t *testing.T) {
	dir := t.TempDir()
	e := sqlite.New(dir)
	ctx := t.Context()
	spec, _, _ := ensureApp(t, e)
	ghost := stamp.DatabaseSpec{Tenant: "ghost", Name: "main"}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"restore missing snapshot", e.Restore(ctx, spec, "nope"), stamp.ENOTFOUND},
		{"snapshot missing database", e.Snapshot(ctx, ghost, "pre"), stamp.ENOTFOUND},
		{"restore missing database", e.Restore(ctx, ghost, "pre"), stamp.ENOTFOUND},
		{"snapshot invalid name", e.Snapshot(ctx, spec, "../x"), stamp.EINVALID},
		{"snapshot uppercase name", e.Snapshot(ctx, spec, "Pre"), stamp.EINVALID},
		{"snapshot empty name", e.Snapshot(ctx, spec, ""), stamp.EINVALID},
		{"restore invalid name", e.Restore(ctx, spec, "a.b"), stamp.EINVALID},
		{"drop invalid name", e.DropSnapshot(ctx, spec, "a/b"), stamp.EINVALID},
		{"snapshot invalid tenant", e.Snapshot(ctx, stamp.DatabaseSpec{Tenant: "..", Name: "main"}, "pre"), stamp.EINVALID},
		{"drop missing snapshot", e.DropSnapshot(ctx, spec, "nope"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stamp.ErrorCode(tt.err); got != tt.want {
				t.Errorf("got code %q (%v), want %q", got, tt.err, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "ghost")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ghost tenant dir: got %v, want not exist", err)
	}
}

func TestDropSnapshot(t *testing.T) {
	dir := t.TempDir()
	e := sqlite.New(dir)
	ctx := t.Context()
	spec, _, _ := ensureApp(t, e)
	if err := e.Snapshot(ctx, spec, "pre"); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	// A copy a crashed Snapshot left behind goes too.
	leftover := filepath.Join(dir, "acme", "main.snap-pre.db.tmp-0123")
	if err := os.WriteFile(leftover, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := e.DropSnapshot(ctx, spec, "pre"); err != nil {
			t.Fatalf("DropSnapshot %d: %v", i+1, err)
		}
	}
	matches, err := filepath.Glob(filepath.Join(dir, "acme", "*snap*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(matches) != 0 {
		t.Errorf("got %q after DropSnapshot, want no snapshot files", matches)
	}
	if got := stamp.ErrorCode(e.Restore(ctx, spec, "pre")); got != stamp.ENOTFOUND {
		t.Errorf("Restore after DropSnapshot: got code %q, want %q", got, stamp.ENOTFOUND)
	}
}

func TestDropRemovesSnapshots(t *testing.T) {
	dir := t.TempDir()
	e := sqlite.New(dir)
	ctx := t.Context()
	spec, _, app := ensureApp(t, e)
	other := stamp.DatabaseSpec{Tenant: "acme", Name: "main-2"}
	if _, err := e.Ensure(ctx, other); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		spec stamp.DatabaseSpec
		name string
	}{{spec, "a"}, {spec, "b"}, {other, "a"}} {
		if err := e.Snapshot(ctx, s.spec, s.name); err != nil {
			t.Fatalf("Snapshot %s of %s: %v", s.name, s.spec.Name, err)
		}
	}
	app.Close()
	if err := e.Drop(ctx, spec); err != nil {
		t.Fatalf("Drop: %v", err)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "acme"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, entry := range entries {
		got = append(got, entry.Name())
	}
	want := "main-2.db main-2.snap-a.db"
	if strings.Join(got, " ") != want {
		t.Errorf("got %q, want %q", strings.Join(got, " "), want)
	}
	if err := e.Drop(ctx, other); err != nil {
		t.Fatalf("Drop other: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "acme")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("tenant dir after last Drop: got %v, want not exist", err)
	}
}

func TestSnapshotConcurrent(t *testing.T) {
	e := sqlite.New(t.TempDir())
	ctx := t.Context()
	spec, _, app := ensureApp(t, e)
	want := dump(t, app)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = e.Snapshot(ctx, spec, "pre") })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Snapshot %d: %v", i+1, err)
		}
	}
	if _, err := app.Exec("DROP TABLE t; CREATE TABLE t(x)"); err != nil {
		t.Fatal(err)
	}
	if err := e.Restore(ctx, spec, "pre"); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if got := dump(t, app); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
