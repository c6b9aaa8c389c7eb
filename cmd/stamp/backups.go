package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/backup"
	"github.com/stamphq/stamp/store/sealed"
)

// staleBackupWork is how old what a backup or a restore left in the work
// directory must be before a starting server removes it: older than any
// backup still being taken by a server sharing the data directory.
const staleBackupWork = 24 * time.Hour

// openBackups opens the backup store at storeURL ("" is the backups
// directory of data), encrypting with the keys of the sealed store, and
// makes key rotations keep the keys backups use.
func openBackups(ctx context.Context, storeURL, data string, keys *sealed.Store) (*backup.Store, error) {
	if storeURL == "" {
		dir, err := filepath.Abs(filepath.Join(data, "backups"))
		if err != nil {
			return nil, err
		}
		storeURL = "file://" + dir
	}
	b, err := backup.Open(ctx, storeURL, keys.Ring(), filepath.Join(data, "backup-work"), stamp.SystemClock{})
	if err != nil {
		return nil, fmt.Errorf("--backup-store: %w", err)
	}
	if err := b.RemoveStale(staleBackupWork); err != nil {
		b.Close()
		return nil, fmt.Errorf("clean the backup work directory: %w", err)
	}
	keys.KeepKeysOf(b.KeysInUse)
	return b, nil
}
