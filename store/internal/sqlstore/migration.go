package sqlstore

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// Migration is one schema change.
type Migration struct {
	Version int
	Name    string // the file's name, NNNN_what.sql
	SQL     string
}

// Migrations returns the migrations in fsys's directory migrations, named
// NNNN_what.sql, in version order, which must run 1, 2, 3... without a
// gap. A released file is never edited, only followed by a new one.
func Migrations(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for i, name := range names { // fs.Glob returns names sorted
		base := strings.TrimPrefix(name, "migrations/")
		prefix, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(prefix)
		if err != nil || v != i+1 {
			return nil, fmt.Errorf("migration %s: want a name starting with %04d_", base, i+1)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: base, SQL: string(b)})
	}
	return ms, nil
}

// CheckVersion refuses a database at schema version current when latest
// is the newest migration this binary has: a newer database was written
// by a newer Stamp.
func CheckVersion(current, latest int) error {
	if current > latest {
		return fmt.Errorf("the database has schema version %d but this stamp binary knows only up to version %d: it was written by a newer stamp, so run that version or a later one", current, latest)
	}
	return nil
}
