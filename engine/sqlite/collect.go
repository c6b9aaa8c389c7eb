package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/stamphq/stamp"
)

var _ stamp.Collector = (*Engine)(nil)

// Orphans returns the directories of runtimes not in keep: each holds a
// runtime's database files and snapshots, which go together. held counts
// the directories.
func (e *Engine) Orphans(ctx context.Context, keep map[string][]string) ([]string, int, error) {
	entries, err := os.ReadDir(e.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("list sqlite databases: %w", err)
	}
	var orphans []string
	held := 0
	for _, entry := range entries {
		if !entry.IsDir() || stamp.ValidateName("tenant", entry.Name()) != nil {
			continue // not a runtime's: left alone
		}
		held++
		if _, ok := keep[entry.Name()]; !ok {
			orphans = append(orphans, entry.Name())
		}
	}
	return orphans, held, nil
}

// DropOrphan removes the directory of runtime orphan, its databases and
// their snapshots.
func (e *Engine) DropOrphan(ctx context.Context, orphan string) error {
	if err := stamp.ValidateName("tenant", orphan); err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(e.dir, orphan)); err != nil {
		return fmt.Errorf("remove the sqlite databases of %s: %w", orphan, err)
	}
	return nil
}
