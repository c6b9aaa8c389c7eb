package postgres_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/engine/postgres"
)

// TestDumpLoad: a dump of one tenant's database loads into its own
// database after later writes (a restore) and into another tenant's (a
// clone), where the other tenant's role owns every object loaded.
func TestDumpLoad(t *testing.T) {
	e := newEngine(t)
	s, u := ensureApp(t, e)
	app := connect(t, u)
	want := dump(t, app)
	var buf bytes.Buffer
	if err := e.Dump(t.Context(), s, &buf); err != nil {
		t.Fatalf("Dump: %v", err)
	}
	exec(t, app, `INSERT INTO t (y) VALUES ('after the dump')`)
	exec(t, app, `CREATE TABLE later (c int)`)

	if err := e.Load(t.Context(), s, dumpFile(t, buf.Bytes())); err != nil {
		t.Fatalf("Load into its own database: %v", err)
	}
	fresh := connect(t, u)
	if got := dump(t, fresh); got != want {
		t.Errorf("after Load: got %q, want %q", got, want)
	}
	exec(t, fresh, `INSERT INTO t (y) VALUES ('three')`)

	other := spec("globex" + random(6))
	ou := ensure(t, e, other)
	if err := e.Load(t.Context(), other, dumpFile(t, buf.Bytes())); err != nil {
		t.Fatalf("Load into another tenant's database: %v", err)
	}
	oconn := connect(t, ou)
	if got := dump(t, oconn); got != want {
		t.Errorf("the clone: got %q, want %q", got, want)
	}
	// Its own role owns the table: it writes, alters and drops it.
	exec(t, oconn, `INSERT INTO t (y) VALUES ('clone')`)
	exec(t, oconn, `ALTER TABLE t ADD COLUMN z int`)
	exec(t, oconn, `DROP TABLE t`)
	if strings.Contains(dump(t, connect(t, u)), "clone") {
		t.Errorf("a write to the clone shows in the source")
	}
}

func TestLoadRefusesWhatIsNotADump(t *testing.T) {
	e := newEngine(t)
	s, u := ensureApp(t, e)
	want := dump(t, connect(t, u))
	err := e.Load(t.Context(), s, dumpFile(t, []byte("SELECT 1; -- not a custom-format dump")))
	if stamp.ErrorCode(err) != stamp.EINVALID {
		t.Fatalf("Load of plain text: %v, want EINVALID", err)
	}
	if got := dump(t, connect(t, u)); got != want {
		t.Errorf("after a refused Load: got %q, want %q", got, want)
	}
}

func TestDumpMissing(t *testing.T) {
	e := newEngine(t)
	err := e.Dump(t.Context(), spec("nobody"+random(6)), &bytes.Buffer{})
	if stamp.ErrorCode(err) != stamp.ENOTFOUND {
		t.Fatalf("Dump of a missing database: %v, want ENOTFOUND", err)
	}
}

// TestOrphans: a database no runtime in keep owns is an orphan, with its
// snapshot; dropped, its database, role and snapshot are gone, and a
// kept one is left alone.
func TestOrphans(t *testing.T) {
	e := newEngine(t)
	kept, _ := ensureApp(t, e)
	gone := spec("ghost" + random(6))
	if _, err := e.Ensure(t.Context(), gone); err != nil {
		t.Fatal(err)
	}
	if err := e.Snapshot(t.Context(), gone, "pre-2-0-0"); err != nil {
		t.Fatal(err)
	}
	keep := map[string][]string{kept.Tenant: {kept.Name}}
	orphans, held, err := e.Orphans(t.Context(), keep)
	if err != nil {
		t.Fatal(err)
	}
	live, snap := postgres.ObjectName(gone.Tenant, gone.Name), postgres.SnapshotName(gone.Tenant, gone.Name, "pre-2-0-0")
	for _, want := range []string{live, snap} {
		if !slices.Contains(orphans, want) {
			t.Errorf("orphans %v lack %s", orphans, want)
		}
	}
	if slices.Contains(orphans, postgres.ObjectName(kept.Tenant, kept.Name)) || held < 2 {
		t.Errorf("orphans %v, held %d: the kept database is among them, or not counted", orphans, held)
	}
	for _, o := range orphans {
		if o == live || o == snap {
			if err := e.DropOrphan(t.Context(), o); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, q := range []string{`SELECT count(*) FROM pg_database WHERE datname = $1 OR datname = $2`, `SELECT count(*) FROM pg_roles WHERE rolname = $1 OR rolname = $2`} {
		var n int
		if err := connect(t, adminURL(t)).QueryRow(t.Context(), q, live, snap).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s: %d left, %v", q, n, err)
		}
	}
}

// TestLoadFromFile: a dump given as a file is restored by several jobs;
// one that is no dump is refused and changes nothing.
func TestLoadFromFile(t *testing.T) {
	e := newEngine(t)
	s, u := ensureApp(t, e)
	want := dump(t, connect(t, u))
	f, err := os.Create(filepath.Join(t.TempDir(), "main.pgdump"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := e.Dump(t.Context(), s, f); err != nil {
		t.Fatal(err)
	}
	exec(t, connect(t, u), `INSERT INTO t (y) VALUES ('after the dump')`)
	if err := e.Load(t.Context(), s, f.Name()); err != nil {
		t.Fatalf("Load from a file: %v", err)
	}
	if got := dump(t, connect(t, u)); got != want {
		t.Errorf("after Load from a file: got %q, want %q", got, want)
	}
	bad, err := os.Create(filepath.Join(t.TempDir(), "bad.pgdump"))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	bad.WriteString("SELECT 1;")
	if err := e.Load(t.Context(), s, bad.Name()); stamp.ErrorCode(err) != stamp.EINVALID {
		t.Errorf("Load of a file that is no dump: %v, want EINVALID", err)
	}
	if got := dump(t, connect(t, u)); got != want {
		t.Errorf("after a refused Load: got %q, want %q", got, want)
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
