package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/engine/sqlite"
	_ "modernc.org/sqlite"
)

func TestEnsure(t *testing.T) {
	dir := t.TempDir()
	e := sqlite.New(dir)
	ctx := context.Background()
	spec := stamp.DatabaseSpec{Tenant: "acme", Name: "main"}

	url, err := e.Ensure(ctx, spec)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	want := "sqlite:" + filepath.Join(dir, "acme", "main.db")
	if url != want {
		t.Fatalf("got %q, want %q", url, want)
	}
	path := strings.TrimPrefix(url, "sqlite:")
	if got := journalMode(t, path); got != "wal" {
		t.Errorf("journal mode: got %q, want %q", got, "wal")
	}

	// The app writes data; a second Ensure must keep it.
	write(t, path, "create table t(x); insert into t values (42)")
	again, err := e.Ensure(ctx, spec)
	if err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	if again != url {
		t.Errorf("second Ensure: got %q, want %q", again, url)
	}
	if got := count(t, path); got != 1 {
		t.Errorf("rows after second Ensure: got %d, want 1", got)
	}
}

// TestEnsureTurnsToWAL: a database file the app left in another journal
// mode (its header says so) is put back in WAL mode, its data kept.
func TestEnsureTurnsToWAL(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "acme", "main.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, path, "pragma journal_mode=delete; create table t(x); insert into t values (42)")
	if got := journalMode(t, path); got != "delete" {
		t.Fatalf("journal mode before: got %q, want %q", got, "delete")
	}
	if _, err := sqlite.New(dir).Ensure(context.Background(), stamp.DatabaseSpec{Tenant: "acme", Name: "main"}); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if got := journalMode(t, path); got != "wal" {
		t.Errorf("journal mode after Ensure: got %q, want %q", got, "wal")
	}
	if got := count(t, path); got != 1 {
		t.Errorf("rows after Ensure: got %d, want 1", got)
	}
}

func TestEnsureRelativeDir(t *testing.T) {
	t.Chdir(t.TempDir())
	url, err := sqlite.New("data").Ensure(context.Background(), stamp.DatabaseSpec{Tenant: "acme", Name: "main"})
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if path := strings.TrimPrefix(url, "sqlite:"); !filepath.IsAbs(path) {
		t.Errorf("got %q, want an absolute path", path)
	}
}

func TestDrop(t *testing.T) {
	dir := t.TempDir()
	e := sqlite.New(dir)
	ctx := context.Background()
	main := stamp.DatabaseSpec{Tenant: "acme", Name: "main"}
	audit := stamp.DatabaseSpec{Tenant: "acme", Name: "audit"}
	for _, spec := range []stamp.DatabaseSpec{main, audit} {
		url, err := e.Ensure(ctx, spec)
		if err != nil {
			t.Fatalf("Ensure %s: %v", spec.Name, err)
		}
		// Leave -wal and -shm files behind, as a crashed app would.
		keepWAL(t, strings.TrimPrefix(url, "sqlite:"))
	}
	tenantDir := filepath.Join(dir, "acme")

	if err := e.Drop(ctx, main); err != nil {
		t.Fatalf("Drop main: %v", err)
	}
	for _, name := range []string{"main.db", "main.db-wal", "main.db-shm"} {
		if _, err := os.Stat(filepath.Join(tenantDir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s after Drop: got %v, want not exist", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(tenantDir, "audit.db")); err != nil {
		t.Errorf("audit.db after dropping main: %v", err)
	}

	if err := e.Drop(ctx, audit); err != nil {
		t.Fatalf("Drop audit: %v", err)
	}
	if _, err := os.Stat(tenantDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("tenant dir after last Drop: got %v, want not exist", err)
	}
	for _, spec := range []stamp.DatabaseSpec{main, {Tenant: "ghost", Name: "main"}} {
		if err := e.Drop(ctx, spec); err != nil {
			t.Errorf("Drop missing %s/%s: %v", spec.Tenant, spec.Name, err)
		}
	}
}

func TestInvalidNames(t *testing.T) {
	dir := t.TempDir()
	e := sqlite.New(dir)
	ctx := context.Background()
	tests := []struct {
		name string
		spec stamp.DatabaseSpec
	}{
		{"empty tenant", stamp.DatabaseSpec{Tenant: "", Name: "main"}},
		{"empty database", stamp.DatabaseSpec{Tenant: "acme", Name: ""}},
		{"tenant with slash", stamp.DatabaseSpec{Tenant: "acme/../x", Name: "main"}},
		{"tenant dotdot", stamp.DatabaseSpec{Tenant: "..", Name: "main"}},
		{"database with slash", stamp.DatabaseSpec{Tenant: "acme", Name: "../../etc/passwd"}},
		{"database with backslash", stamp.DatabaseSpec{Tenant: "acme", Name: `a\b`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Ensure(ctx, tt.spec)
			if got := stamp.ErrorCode(err); got != stamp.EINVALID {
				t.Errorf("Ensure: got code %q (%v), want %q", got, err, stamp.EINVALID)
			}
			if got := stamp.ErrorCode(e.Drop(ctx, tt.spec)); got != stamp.EINVALID {
				t.Errorf("Drop: got code %q, want %q", got, stamp.EINVALID)
			}
		})
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("got %d entries in engine dir, want none", len(entries))
	}
}

func open(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func journalMode(t *testing.T, path string) string {
	t.Helper()
	var mode string
	if err := open(t, path).QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	return mode
}

func write(t *testing.T, path, stmt string) {
	t.Helper()
	db := open(t, path)
	if _, err := db.Exec(stmt); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, path string) int {
	t.Helper()
	var n int
	if err := open(t, path).QueryRow("select count(*) from t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// keepWAL makes sure path has -wal and -shm files beside it.
func keepWAL(t *testing.T, path string) {
	t.Helper()
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.WriteFile(path+suffix, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
