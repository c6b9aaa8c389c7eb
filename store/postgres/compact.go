package postgres

import (
	"context"
	"fmt"
)

// Compact rewrites the tables that hold secrets (VACUUM FULL), so that
// replaced rows leave no dead copy in their pages: the store's secrets,
// once sealed, are then in clear in no live table file. Older copies in
// the server's write-ahead log, its archives and backups are beyond it.
func (s *Store) Compact(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, `VACUUM FULL secrets, webhooks`); err != nil {
		return fmt.Errorf("compact the secrets and webhooks tables: %w", err)
	}
	return nil
}
