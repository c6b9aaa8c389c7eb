package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/stamphq/stamp"
	"modernc.org/sqlite"
)

var _ stamp.Snapshotter = (*Engine)(nil)

// busyTimeout is how long, in milliseconds, Snapshot and Restore wait for
// the app's write transactions to end before giving up.
const busyTimeout = 30000

// Snapshot copies db into the file <dir>/<tenant>/<name>.snap-<snapshot>.db
// with VACUUM INTO, which reads the database in one read transaction and
// so is consistent while the app writes. The copy is written under a
// temporary name and renamed over an earlier snapshot of that name, so a
// failed Snapshot leaves the earlier one intact. A missing database is
// ENOTFOUND; invalid names are EINVALID; a full disk wraps syscall.ENOSPC.
func (e *Engine) Snapshot(ctx context.Context, db stamp.DatabaseSpec, name string) error {
	path, snap, err := e.snapshotPath(db, name)
	if err != nil {
		return err
	}
	if err := snapshot(ctx, path, snap); err != nil {
		return fmt.Errorf("snapshot database %s of %s as %s: %w", db.Name, db.Tenant, name, diskFull(err))
	}
	return nil
}

// Restore copies the pages of the snapshot into db with SQLite's online
// backup API, in one write transaction of the live database: connections
// the app holds open stay valid and see the snapshot's schema and rows on
// their next transaction (the backup bumps the schema cookie), and nothing
// the failed migration added (tables, columns, indexes) survives. It waits
// for the app's write transactions to end. A missing database or snapshot
// is ENOTFOUND; invalid names are EINVALID; a full disk wraps
// syscall.ENOSPC.
func (e *Engine) Restore(ctx context.Context, db stamp.DatabaseSpec, name string) error {
	path, snap, err := e.snapshotPath(db, name)
	if err != nil {
		return err
	}
	if _, err := os.Stat(snap); errors.Is(err, fs.ErrNotExist) {
		return stamp.Errorf(stamp.ENOTFOUND, "database %s of %s has no snapshot %s", db.Name, db.Tenant, name)
	}
	if err := restore(ctx, path, snap); err != nil {
		return fmt.Errorf("restore database %s of %s from snapshot %s: %w", db.Name, db.Tenant, name, diskFull(err))
	}
	return nil
}

// DropSnapshot deletes the snapshot's file. A missing snapshot is not an
// error; invalid names are EINVALID.
func (e *Engine) DropSnapshot(ctx context.Context, db stamp.DatabaseSpec, name string) error {
	_, snap, err := e.snapshotPath(db, name)
	if err != nil {
		return err
	}
	// Copies in progress or left by a crash, "<snap>.tmp-*", go too; a
	// snapshot name holds no '.', so no other snapshot starts with snap.
	if err := removePrefixed(filepath.Dir(snap), filepath.Base(snap)); err != nil {
		return fmt.Errorf("drop snapshot %s of database %s of %s: %w", name, db.Name, db.Tenant, err)
	}
	return nil
}

// snapshotPath validates the names and returns the paths of db's file and
// of its snapshot name. Database names hold no '.', so snapshot files never
// collide with another database's files.
func (e *Engine) snapshotPath(db stamp.DatabaseSpec, name string) (path, snap string, err error) {
	path, err = e.path(db)
	if err != nil {
		return "", "", err
	}
	if err := stamp.ValidateName("snapshot", name); err != nil {
		return "", "", err
	}
	return path, snapshotPrefix(path) + name + ".db", nil
}

// snapshotPrefix returns what the files of every snapshot of the database
// at path, temporary ones included, begin with.
func snapshotPrefix(path string) string {
	return strings.TrimSuffix(path, ".db") + ".snap-"
}

// dropSnapshots deletes every snapshot file of the database at path.
func dropSnapshots(path string) error {
	return removePrefixed(filepath.Dir(path), filepath.Base(snapshotPrefix(path)))
}

// removePrefixed deletes the files of dir whose names start with prefix.
// A missing dir holds none.
func removePrefixed(dir, prefix string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, entry := range entries {
		if !strings.HasPrefix(entry.Name(), prefix) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, entry.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// openLive opens the existing database at path for reading and writing,
// never creating it, with a busy timeout. A missing file is ENOTFOUND.
func openLive(path string) (*sql.DB, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, stamp.Errorf(stamp.ENOTFOUND, "database file %s does not exist", filepath.Base(path))
	}
	dsn := (&url.URL{Scheme: "file", Path: path, RawQuery: fmt.Sprintf("mode=rw&_pragma=busy_timeout(%d)", busyTimeout)}).String()
	return sql.Open("sqlite", dsn)
}

// snapshot writes a consistent copy of the database at path to snap.
func snapshot(ctx context.Context, path, snap string) error {
	// A name of its own, so concurrent snapshots of one name do not write
	// one file; the last rename wins, and either copy is consistent.
	tmp := snap + ".tmp-" + randomSuffix()
	if err := vacuumInto(ctx, path, tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, snap); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// vacuumInto writes a consistent copy of the database at path to the new
// file dst, in one read transaction.
func vacuumInto(ctx context.Context, path, dst string) error {
	conn, err := openLive(path)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return err
	}
	return conn.Close()
}

// restorer is what modernc.org/sqlite's driver connection offers to copy
// another database into its own.
type restorer interface {
	NewRestore(srcURI string) (*sqlite.Backup, error)
}

// restore copies every page of snap into the database at path.
func restore(ctx context.Context, path, snap string) error {
	db, err := openLive(path)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	src := (&url.URL{Scheme: "file", Path: snap, RawQuery: "mode=ro"}).String()
	err = conn.Raw(func(driverConn any) error {
		r, ok := driverConn.(restorer)
		if !ok {
			return fmt.Errorf("the sqlite driver has no online backup (got %T)", driverConn)
		}
		b, err := r.NewRestore(src)
		if err != nil {
			return err
		}
		// One step copies every page in one transaction of the live
		// database, so the app never sees half a restore.
		_, stepErr := b.Step(-1)
		return errors.Join(stepErr, b.Finish())
	})
	if err != nil {
		return err
	}
	if err := conn.Close(); err != nil {
		return err
	}
	return db.Close()
}
