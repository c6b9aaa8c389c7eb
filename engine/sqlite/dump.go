package sqlite

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/stamphq/stamp"
)

var _ stamp.Dumper = (*Engine)(nil)

// fileHeader starts every SQLite database file.
const fileHeader = "SQLite format 3\x00"

// DumpFormat is "sqlite": a dump is an SQLite database file, which any
// SQLite opens.
func (e *Engine) DumpFormat() string { return "sqlite" }

// Dump writes a consistent copy of db, an SQLite database file, to w:
// VACUUM INTO copies it in one read transaction beside the database
// (never into the tenant's view), and the copy is removed once written.
// A missing database is ENOTFOUND; a full disk wraps syscall.ENOSPC.
func (e *Engine) Dump(ctx context.Context, db stamp.DatabaseSpec, w io.Writer) error {
	path, err := e.path(db)
	if err != nil {
		return err
	}
	tmp := snapshotPrefix(path) + "dump.tmp-" + randomSuffix()
	defer os.Remove(tmp)
	if err := vacuumInto(ctx, path, tmp); err != nil {
		return fmt.Errorf("dump database %s of %s: %w", db.Name, db.Tenant, diskFull(err))
	}
	f, err := os.Open(tmp)
	if err != nil {
		return fmt.Errorf("dump database %s of %s: %w", db.Name, db.Tenant, err)
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("dump database %s of %s: %w", db.Name, db.Tenant, err)
	}
	return nil
}

// Load writes the dump in r beside db as a snapshot and restores it (see
// Restore): the live database takes the dump's pages in one write
// transaction. A dump that is not an SQLite database is EINVALID and
// leaves db as it was; a missing db is ENOTFOUND.
func (e *Engine) Load(ctx context.Context, db stamp.DatabaseSpec, r io.Reader) error {
	path, err := e.path(db)
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return stamp.Errorf(stamp.ENOTFOUND, "database %s of %s does not exist", db.Name, db.Tenant)
	}
	snap, done, err := dumpFile(path, r)
	if err != nil {
		return fmt.Errorf("load database %s of %s: %w", db.Name, db.Tenant, diskFull(err))
	}
	defer done()
	if err := restore(ctx, path, snap); err != nil {
		return fmt.Errorf("load database %s of %s: %w", db.Name, db.Tenant, diskFull(err))
	}
	return nil
}

// dumpFile returns the path of a file holding the dump r, to restore the
// database at path from: r's own file if it is one (an unpacked archive
// member, read in place), else a copy beside the database, which done
// removes. A dump that does not begin as an SQLite database does is
// EINVALID.
func dumpFile(path string, r io.Reader) (file string, done func(), err error) {
	if f, ok := r.(*os.File); ok {
		head := make([]byte, len(fileHeader))
		if n, err := f.ReadAt(head, 0); err != nil || !bytes.Equal(head, []byte(fileHeader)) {
			return "", nil, stamp.Errorf(stamp.EINVALID, "the dump is not an SQLite database file (its first %d bytes are not SQLite's header)", n)
		}
		return f.Name(), func() {}, nil
	}
	snap := snapshotPrefix(path) + "load.tmp-" + randomSuffix()
	done = func() { os.Remove(snap) }
	if err := writeDump(snap, r); err != nil {
		done()
		return "", nil, err
	}
	return snap, done, nil
}

// writeDump writes r to a new file at path, refusing what does not begin
// as an SQLite database does.
func writeDump(path string, r io.Reader) error {
	head := make([]byte, len(fileHeader))
	if n, err := io.ReadFull(r, head); err != nil || !bytes.Equal(head, []byte(fileHeader)) {
		return stamp.Errorf(stamp.EINVALID, "the dump is not an SQLite database file (its first %d bytes are not SQLite's header)", n)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, io.MultiReader(bytes.NewReader(head), r)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// randomSuffix returns 16 random hex digits, so that concurrent copies of
// one database never write one file.
func randomSuffix() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
