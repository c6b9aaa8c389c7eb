package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// recordActivitySQL raises the last-activity times of the tenants in $1
// to the times in $2, skipping tenants that do not exist, in one
// statement: for 10,000 tenants it took 60-160ms here, a third of the
// time of a batch of one upsert per tenant in a transaction.
//
// It takes a KEY SHARE lock on each tenant's row before writing its
// activity, in the order of the names:
//   - a tenant deleted meanwhile is skipped, rather than failing the
//     insert's foreign key at the end of the statement (it was there when
//     the statement began), and a delete that comes after the lock waits
//     for this transaction and then takes its row with it;
//   - everyone takes locks in one order (tenant, then its activity, name
//     by name; a delete takes the tenant, then its activity), so two
//     servers recording at once, and deletes, cannot deadlock.
//
// UpdateTenant's row lock does not conflict with KEY SHARE.
const recordActivitySQL = `INSERT INTO tenant_activity (tenant, last_active)
	SELECT seen.tenant, seen.at FROM unnest($1::text[], $2::timestamptz[]) AS seen (tenant, at)
	JOIN tenants ON tenants.name = seen.tenant
	ORDER BY seen.tenant
	FOR KEY SHARE OF tenants
	ON CONFLICT (tenant) DO UPDATE SET last_active = excluded.last_active
	WHERE excluded.last_active > tenant_activity.last_active`

// RecordActivity raises each named tenant's last-activity time to the
// given time, ignoring older and zero times and missing tenants.
func (s *Store) RecordActivity(ctx context.Context, seen map[string]time.Time) error {
	tenants := make([]string, 0, len(seen))
	for tenant, t := range seen {
		if !t.IsZero() {
			tenants = append(tenants, tenant)
		}
	}
	if len(tenants) == 0 {
		return nil
	}
	times := make([]time.Time, len(tenants))
	for i, tenant := range tenants {
		times[i] = seen[tenant]
	}
	if _, err := s.pool.Exec(ctx, recordActivitySQL, tenants, times); err != nil {
		return fmt.Errorf("record activity of %d tenants: %w", len(tenants), err)
	}
	return nil
}

// LastActivity returns the last-activity time of every tenant that has
// one, in UTC.
func (s *Store) LastActivity(ctx context.Context) (map[string]time.Time, error) {
	rows, _ := s.pool.Query(ctx, `SELECT tenant, last_active FROM tenant_activity`)
	last := map[string]time.Time{}
	var tenant string
	var at time.Time
	_, err := pgx.ForEachRow(rows, []any{&tenant, &at}, func() error {
		last[tenant] = at
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read last activity: %w", err)
	}
	return last, nil
}
