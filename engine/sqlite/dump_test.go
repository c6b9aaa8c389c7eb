package sqlite_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/engine/sqlite"
)

// TestDumpLoad: a dump loads into its own database after later writes,
// with the app's connection open (a restore), and into another tenant's
// (a clone); no copy is left beside either.
func TestDumpLoad(t *testing.T) {
	e := sqlite.New(t.TempDir())
	ctx := t.Context()
	spec, path, app := ensureApp(t, e)
	want := dump(t, app)
	var buf bytes.Buffer
	if err := e.Dump(ctx, spec, &buf); err != nil {
		t.Fatalf("Dump: %v", err)
	}
	for _, stmt := range []string{"INSERT INTO t VALUES (3, 'after the dump')", "CREATE TABLE later(c)"} {
		if _, err := app.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Load(ctx, spec, dumpFile(t, buf.Bytes())); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := dump(t, app); got != want {
		t.Errorf("open connection after Load: got %q, want %q", got, want)
	}

	other := stamp.DatabaseSpec{Tenant: "globex", Name: "main"}
	url, err := e.Ensure(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Load(ctx, other, dumpFile(t, buf.Bytes())); err != nil {
		t.Fatalf("Load into another tenant's database: %v", err)
	}
	clone := open(t, strings.TrimPrefix(url, "sqlite:"))
	if got := dump(t, clone); got != want {
		t.Errorf("the clone: got %q, want %q", got, want)
	}
	if _, err := clone.Exec("INSERT INTO t VALUES (9, 'clone')"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(dump(t, app), "clone") {
		t.Errorf("a write to the clone shows in the source")
	}
	for _, dir := range []string{filepath.Dir(path), filepath.Dir(strings.TrimPrefix(url, "sqlite:"))} {
		entries, _ := os.ReadDir(dir)
		for _, entry := range entries {
			if strings.Contains(entry.Name(), ".snap-") {
				t.Errorf("left beside the database: %s", entry.Name())
			}
		}
	}
}

func TestLoadRefusesWhatIsNotADump(t *testing.T) {
	e := sqlite.New(t.TempDir())
	spec, _, app := ensureApp(t, e)
	want := dump(t, app)
	err := e.Load(t.Context(), spec, dumpFile(t, []byte("CREATE TABLE x(y); -- SQL text, not a database file")))
	if stamp.ErrorCode(err) != stamp.EINVALID {
		t.Fatalf("Load of SQL text: %v, want EINVALID", err)
	}
	if got := dump(t, app); got != want {
		t.Errorf("after a refused Load: got %q, want %q", got, want)
	}
	err = e.Dump(t.Context(), stamp.DatabaseSpec{Tenant: "nobody", Name: "main"}, &bytes.Buffer{})
	if stamp.ErrorCode(err) != stamp.ENOTFOUND {
		t.Errorf("Dump of a missing database: %v, want ENOTFOUND", err)
	}
}

func TestOrphans(t *testing.T) {
	dir := t.TempDir()
	e := sqlite.New(dir)
	for _, tenant := range []string{"acme", "ghost"} {
		if _, err := e.Ensure(t.Context(), stamp.DatabaseSpec{Tenant: tenant, Name: "main"}); err != nil {
			t.Fatal(err)
		}
	}
	orphans, held, err := e.Orphans(t.Context(), map[string][]string{"acme": {"main"}})
	if err != nil || held != 2 || len(orphans) != 1 || orphans[0] != "ghost" {
		t.Fatalf("Orphans: %v, held %d, %v", orphans, held, err)
	}
	if err := e.DropOrphan(t.Context(), "ghost"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ghost")); err == nil {
		t.Errorf("the orphan's directory is still there")
	}
	if _, err := os.Stat(filepath.Join(dir, "acme", "main.db")); err != nil {
		t.Errorf("the kept database: %v", err)
	}
}

// TestLoadFromFile: a dump given as a file is read in place, and one
// that is no SQLite database is refused.
func TestLoadFromFile(t *testing.T) {
	e := sqlite.New(t.TempDir())
	spec, _, app := ensureApp(t, e)
	want := dump(t, app)
	f, err := os.Create(filepath.Join(t.TempDir(), "main.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Dump(t.Context(), spec, f); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Exec("DELETE FROM t"); err != nil {
		t.Fatal(err)
	}
	if err := e.Load(t.Context(), spec, f.Name()); err != nil {
		t.Fatalf("Load from a file: %v", err)
	}
	if got := dump(t, app); got != want {
		t.Errorf("after Load from a file: got %q, want %q", got, want)
	}
	bad, err := os.Create(filepath.Join(t.TempDir(), "bad.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	bad.WriteString("not a database")
	if err := e.Load(t.Context(), spec, bad.Name()); stamp.ErrorCode(err) != stamp.EINVALID {
		t.Errorf("Load of a file that is no database: %v, want EINVALID", err)
	}
}

// dumpFile writes content to a new file and returns its path.
func dumpFile(t *testing.T, content []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dump")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
