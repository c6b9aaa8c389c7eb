package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/stamphq/stamp"
)

// TryLease takes the lease on key for holder until ttl from now, or renews
// it if holder has it; false while another holder's lease is unexpired.
func (s *Store) TryLease(ctx context.Context, key, holder string, ttl time.Duration) (bool, error) {
	at := now()
	var taken bool
	err := s.inTx(stamp.WithoutPendingAudit(ctx), func(tx *sql.Tx) error { // a lease records nothing an API call did
		res, err := tx.ExecContext(ctx, `INSERT INTO leases (key, holder, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
			WHERE leases.holder = excluded.holder OR leases.expires_at <= ?`,
			key, holder, nanos(at.Add(ttl)), nanos(at))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		taken = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("take lease %q for %s: %w", key, holder, err)
	}
	return taken, nil
}

// RenewLeases extends holder's unexpired leases to ttl from now and
// returns their keys.
func (s *Store) RenewLeases(ctx context.Context, holder string, ttl time.Duration) ([]string, error) {
	at := now()
	var keys []string
	err := s.inTx(stamp.WithoutPendingAudit(ctx), func(tx *sql.Tx) error { // a lease records nothing an API call did
		rows, err := tx.QueryContext(ctx, `UPDATE leases SET expires_at = ? WHERE holder = ? AND expires_at > ? RETURNING key`,
			nanos(at.Add(ttl)), holder, nanos(at))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				return err
			}
			keys = append(keys, k)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("renew leases of %s: %w", holder, err)
	}
	return keys, nil
}

// ReleaseLease deletes holder's lease on key, if it has one.
func (s *Store) ReleaseLease(ctx context.Context, key, holder string) error {
	err := s.inTx(stamp.WithoutPendingAudit(ctx), func(tx *sql.Tx) error { // a lease records nothing an API call did
		_, err := tx.ExecContext(ctx, `DELETE FROM leases WHERE key = ? AND holder = ?`, key, holder)
		return err
	})
	if err != nil {
		return fmt.Errorf("release lease %q of %s: %w", key, holder, err)
	}
	return nil
}
