package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Leases are judged by the database's clock (now()), so control-plane hosts
// need not agree on the time. TTLs go to the server in microseconds.

// TryLease takes the lease on key for holder until ttl from now, or renews
// it if holder has it; false while another holder's lease is unexpired.
// The upsert is one statement: PostgreSQL locks a conflicting row and
// re-checks the WHERE against its latest version, so of racing holders
// exactly one wins.
func (s *Store) TryLease(ctx context.Context, key, holder string, ttl time.Duration) (bool, error) {
	var taken bool
	err := s.pool.QueryRow(ctx, `INSERT INTO leases (key, holder, expires_at) VALUES ($1, $2, now() + $3 * interval '1 microsecond')
		ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= now()
		RETURNING true`, key, holder, ttl.Microseconds()).Scan(&taken)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("take lease %q for %s: %w", key, holder, err)
	}
	return taken, nil
}

// RenewLeases extends holder's unexpired leases to ttl from now and
// returns their keys, sorted.
func (s *Store) RenewLeases(ctx context.Context, holder string, ttl time.Duration) ([]string, error) {
	rows, _ := s.pool.Query(ctx, `WITH renewed AS (
			UPDATE leases SET expires_at = now() + $2 * interval '1 microsecond'
			WHERE holder = $1 AND expires_at > now()
			RETURNING key
		)
		SELECT key FROM renewed ORDER BY key`, holder, ttl.Microseconds())
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("renew leases of %s: %w", holder, err)
	}
	return keys, nil
}

// ReleaseLease deletes holder's lease on key, if it has one.
func (s *Store) ReleaseLease(ctx context.Context, key, holder string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM leases WHERE key = $1 AND holder = $2`, key, holder); err != nil {
		return fmt.Errorf("release lease %q of %s: %w", key, holder, err)
	}
	return nil
}
