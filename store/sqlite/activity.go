package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// recordActivitySQL raises the last-activity times of the tenants in a
// JSON object {"tenant": Unix nanoseconds, ...}, in one statement: for
// 10,000 tenants it took 20-65ms here, a third of the time of one prepared
// upsert per tenant in a transaction. The join skips tenants that do not
// exist; "WHERE true" lets SQLite tell the upsert's ON CONFLICT from the
// join's ON.
const recordActivitySQL = `INSERT INTO tenant_activity (tenant, last_active)
	SELECT seen.key, seen.value FROM json_each(?) AS seen JOIN tenants ON tenants.name = seen.key
	WHERE true
	ON CONFLICT (tenant) DO UPDATE SET last_active = excluded.last_active
	WHERE excluded.last_active > tenant_activity.last_active`

// RecordActivity raises each named tenant's last-activity time to the
// given time, ignoring older and zero times and missing tenants.
func (s *Store) RecordActivity(ctx context.Context, seen map[string]time.Time) error {
	at := make(map[string]int64, len(seen))
	for tenant, t := range seen {
		if !t.IsZero() {
			at[tenant] = nanos(t)
		}
	}
	if len(at) == 0 {
		return nil
	}
	doc, err := json.Marshal(at)
	if err != nil {
		return fmt.Errorf("record activity of %d tenants: %w", len(at), err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, recordActivitySQL, string(doc))
		return err
	})
	if err != nil {
		return fmt.Errorf("record activity of %d tenants: %w", len(at), err)
	}
	return nil
}

// LastActivity returns the last-activity time of every tenant that has
// one, in UTC.
func (s *Store) LastActivity(ctx context.Context) (map[string]time.Time, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT tenant, last_active FROM tenant_activity`)
	if err != nil {
		return nil, fmt.Errorf("read last activity: %w", err)
	}
	defer rows.Close()
	last := map[string]time.Time{}
	for rows.Next() {
		var tenant string
		var at int64
		if err := rows.Scan(&tenant, &at); err != nil {
			return nil, fmt.Errorf("read last activity: %w", err)
		}
		last[tenant] = fromNanos(at)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read last activity: %w", err)
	}
	return last, nil
}
