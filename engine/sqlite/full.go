package sqlite

import (
	"errors"
	"fmt"
	"syscall"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// diskFull makes an SQLite error saying the database or disk is full
// (SQLITE_FULL, what SQLite returns when a write fails with ENOSPC) wrap
// syscall.ENOSPC too, so that callers see a full disk for what it is and
// retry once space is freed. Any other error is returned as it is.
func diskFull(err error) error {
	var e *sqlite.Error
	if errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_FULL {
		return fmt.Errorf("%w: %w", err, syscall.ENOSPC)
	}
	return err
}
