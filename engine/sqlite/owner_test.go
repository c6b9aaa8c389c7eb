package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/engine/sqlite"
)

// TestEnsureGivesTheFilesToTheTenant checks that a tenant with a user of
// its own owns its database directory and files, which no one else may
// read, and keeps them through a snapshot and a restore the control plane
// (root) makes: SQLite gives the WAL files it creates to the file's owner.
func TestEnsureGivesTheFilesToTheTenant(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving files to another user needs root")
	}
	const uid = 2_999_001
	e := sqlite.New(t.TempDir())
	ctx := context.Background()
	spec := stamp.DatabaseSpec{Tenant: "acme", Name: "main", UID: uid}
	url, err := e.Ensure(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	path := strings.TrimPrefix(url, "sqlite:")
	write(t, path, "create table t(x); insert into t values (1)")
	if err := e.Snapshot(ctx, spec, "pre-upgrade"); err != nil {
		t.Fatal(err)
	}
	write(t, path, "insert into t values (2)")
	if err := e.Restore(ctx, spec, "pre-upgrade"); err != nil {
		t.Fatal(err)
	}
	// A connection the control plane (root) holds open has SQLite create
	// the WAL files: they must be the tenant's too.
	conn, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Exec("insert into t values (3)"); err != nil {
		t.Fatal(err)
	}
	assertOwner(t, filepath.Dir(path), uid, 0o700)
	assertOwner(t, path, uid, 0o600)
	for _, p := range []string{path + "-wal", path + "-shm"} {
		assertOwner(t, p, uid, 0)
	}
}

func assertOwner(t *testing.T, path string, uid int, mode os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != uid || int(st.Gid) != uid {
		t.Errorf("%s belongs to %d:%d, want %d:%d", filepath.Base(path), st.Uid, st.Gid, uid, uid)
	}
	if mode != 0 && fi.Mode().Perm() != mode {
		t.Errorf("%s has mode %04o, want %04o", filepath.Base(path), fi.Mode().Perm(), mode)
	}
}
