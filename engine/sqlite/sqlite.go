// Package sqlite is the default stamp.Engine: every database of every tenant
// is one SQLite file, <dir>/<tenant>/<name>.db, in WAL mode. The tenant's app
// opens the file itself; this package only creates and deletes it, and
// keeps snapshots of it beside it, <dir>/<tenant>/<name>.snap-<snapshot>.db.
// A tenant with a user of its own (DatabaseSpec.UID) owns its directory
// and database files, mode 0700 and 0600: no other tenant can open them.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/stamphq/stamp"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Engine creates and drops per-tenant SQLite files under one directory.
type Engine struct {
	dir string
}

var _ stamp.Engine = (*Engine)(nil)

// New returns an Engine keeping its files under dir, which is created on
// first use.
func New(dir string) *Engine {
	return &Engine{dir: dir}
}

// Ensure creates the database file of db if it is missing and returns its
// URL, "sqlite:" followed by the absolute path of the file. Invalid tenant or
// database names are EINVALID; a full disk wraps syscall.ENOSPC.
func (e *Engine) Ensure(ctx context.Context, db stamp.DatabaseSpec) (string, error) {
	path, err := e.path(db)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("create database %s of %s: %w", db.Name, db.Tenant, err)
	}
	if !inWAL(path) {
		if err := createWAL(ctx, path); err != nil {
			return "", fmt.Errorf("create database %s of %s: %w", db.Name, db.Tenant, diskFull(err))
		}
	}
	if db.UID != 0 {
		if err := giveTo(path, db.UID); err != nil {
			return "", fmt.Errorf("give database %s of %s to uid %d: %w", db.Name, db.Tenant, db.UID, err)
		}
	}
	return "sqlite:" + path, nil
}

// giveTo gives the database file at path, its WAL and shared-memory files
// and the tenant's directory holding them to uid (and the group of the
// same number), readable by no one else. SQLite, run as root, gives the
// WAL and shared-memory files it creates later to the database file's
// owner, so snapshots and restores by the control plane keep them the
// tenant's.
func giveTo(path string, uid int) error {
	for _, p := range []string{filepath.Dir(path), path, path + "-wal", path + "-shm"} {
		mode := os.FileMode(0o600)
		if p == filepath.Dir(path) {
			mode = 0o700
		}
		if err := os.Lchown(p, uid, uid); errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return err
		}
		if err := os.Chmod(p, mode); err != nil {
			return err
		}
	}
	return nil
}

// Drop deletes the database file of db with its WAL and shared-memory files
// and every snapshot of it, and the tenant's directory once it holds nothing
// else. A missing database
// is not an error; invalid names are EINVALID.
func (e *Engine) Drop(ctx context.Context, db stamp.DatabaseSpec) error {
	path, err := e.path(db)
	if err != nil {
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("drop database %s of %s: %w", db.Name, db.Tenant, err)
		}
	}
	if err := dropSnapshots(path); err != nil {
		return fmt.Errorf("drop snapshots of database %s of %s: %w", db.Name, db.Tenant, err)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("drop database %s of %s: %w", db.Name, db.Tenant, err)
	case len(entries) == 0:
		// A concurrent Ensure may have just created a file: Remove then
		// fails with ENOTEMPTY, which is fine, the directory is in use.
		if err := os.Remove(filepath.Dir(path)); err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTEMPTY) {
			return fmt.Errorf("drop database %s of %s: %w", db.Name, db.Tenant, err)
		}
	}
	return nil
}

// path validates the names of db and returns the absolute path of its file.
func (e *Engine) path(db stamp.DatabaseSpec) (string, error) {
	if err := stamp.ValidateName("tenant", db.Tenant); err != nil {
		return "", err
	}
	if err := stamp.ValidateName("database", db.Name); err != nil {
		return "", err
	}
	dir, err := filepath.Abs(e.dir)
	if err != nil {
		return "", fmt.Errorf("resolve sqlite engine dir %s: %w", e.dir, err)
	}
	return filepath.Join(dir, db.Tenant, db.Name+".db"), nil
}

// createWAL opens (creating) the SQLite file at path and switches it to WAL
// mode, which is persistent in the file, so the app's connections use it.
// inWAL reports whether the file at path is an SQLite database in WAL
// mode, as its header says (the magic string, then 2 as the file format's
// write and read versions: the mode persists in the file), without
// opening it as a database: a wake or upgrade of a tenant whose database
// exists then waits for no connection, no -wal and -shm files.
func inWAL(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var h [20]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return false
	}
	return string(h[:16]) == "SQLite format 3\x00" && h[18] == 2 && h[19] == 2
}

func createWAL(ctx context.Context, path string) error {
	conn, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	defer conn.Close()
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
		return err
	}
	if mode != "wal" {
		return fmt.Errorf("journal mode is %q, want %q", mode, "wal")
	}
	return conn.Close()
}
