package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/engine/sqlite"
	"github.com/stamphq/stamp/internal/tmpfstest"
)

// TestFullDisk creates, snapshots and restores a tenant database on a
// full disk:
// SQLite's "database or disk is full" comes back wrapping ENOSPC, so the
// reconciler retries it and says so, and the same call works once space
// is freed.
func TestFullDisk(t *testing.T) {
	ctx := context.Background()
	dir := tmpfstest.Mount(t, 1<<20)
	e := sqlite.New(dir)
	db := stamp.DatabaseSpec{Tenant: "acme", Name: "main"}
	fill := filepath.Join(dir, "fill")
	fillUp := func() {
		t.Helper()
		f, err := os.OpenFile(fill, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for {
			if _, err := f.Write(make([]byte, 4096)); errors.Is(err, syscall.ENOSPC) {
				return
			} else if err != nil {
				t.Fatal(err)
			}
		}
	}
	wantFull := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "no space left on device") {
			t.Errorf("%s on a full disk: got %v, want an error wrapping ENOSPC", what, err)
		}
	}

	fillUp()
	_, err := e.Ensure(ctx, db)
	wantFull("Ensure", err)
	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	url, err := e.Ensure(ctx, db)
	if err != nil {
		t.Fatalf("Ensure once space is freed: %v", err)
	}
	conn, err := sql.Open("sqlite", strings.TrimPrefix(url, "sqlite:"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Exec("CREATE TABLE t (x TEXT); INSERT INTO t VALUES (zeroblob(65536))"); err != nil {
		t.Fatal(err)
	}

	fillUp()
	wantFull("Snapshot", e.Snapshot(ctx, db, "before-2-0-0"))
	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	if err := e.Snapshot(ctx, db, "before-2-0-0"); err != nil {
		t.Fatalf("Snapshot once space is freed: %v", err)
	}

	fillUp()
	wantFull("Restore", e.Restore(ctx, db, "before-2-0-0"))
	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	if err := e.Restore(ctx, db, "before-2-0-0"); err != nil {
		t.Fatalf("Restore once space is freed: %v", err)
	}
}
