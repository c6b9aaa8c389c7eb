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

// Load restores the dump in the file at file into db (see Restore): the
// live database takes the dump's pages in one write transaction. A
// dump that is not an SQLite database is EINVALID and leaves db as it
// was; a missing db is ENOTFOUND.
func (e *Engine) Load(ctx context.Context, db stamp.DatabaseSpec, file string) error {
	path, err := e.path(db)
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return stamp.Errorf(stamp.ENOTFOUND, "database %s of %s does not exist", db.Name, db.Tenant)
	}
	if err := checkHeader(file); err != nil {
		return fmt.Errorf("load database %s of %s: %w", db.Name, db.Tenant, err)
	}
	if err := restore(ctx, path, file); err != nil {
		return fmt.Errorf("load database %s of %s: %w", db.Name, db.Tenant, diskFull(err))
	}
	return nil
}

// checkHeader refuses, as EINVALID, a file that does not begin as an
// SQLite database does.
func checkHeader(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, len(fileHeader))
	if n, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, []byte(fileHeader)) {
		return stamp.Errorf(stamp.EINVALID, "the dump is not an SQLite database file (its first %d bytes are not SQLite's header)", n)
	}
	return nil
}

// randomSuffix returns 16 random hex digits, so that concurrent copies of
// one database never write one file.
func randomSuffix() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
