package sqlite

import (
	"context"
	"fmt"
)

// Compact rewrites the database file and empties the write-ahead log into
// it, so that rows replaced or deleted leave no copy behind in free pages
// or the log: the store's secrets, once sealed, are then nowhere on disk
// in clear. It takes as long as copying the database.
func (s *Store) Compact(ctx context.Context) error {
	if _, err := s.write.ExecContext(ctx, `VACUUM`); err != nil {
		return fmt.Errorf("compact the database: %w", err)
	}
	var busy, frames, moved int
	err := s.write.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &frames, &moved)
	if err != nil {
		return fmt.Errorf("empty the write-ahead log: %w", err)
	}
	if busy != 0 {
		return fmt.Errorf("empty the write-ahead log: another connection kept it busy")
	}
	return nil
}
