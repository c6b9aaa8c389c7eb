package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/internal/sqlstore"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// tenantColumns are the columns scanTenant reads, in its order.
const tenantColumns = `name, spec, status, generation, resource_version, created_at, updated_at`

// getTenantSQL reads one tenant by its primary key; a test checks that
// SQLite plans it as an index search, not a scan.
const getTenantSQL = `SELECT ` + tenantColumns + ` FROM tenants WHERE name = ?`

// CreateTenant stores a new tenant, setting ResourceVersion to 1 and both
// timestamps on t. A tenant of that name already existing is ECONFLICT.
func (s *Store) CreateTenant(ctx context.Context, t *stamp.Tenant, events ...*stamp.Event) error {
	spec, status, err := marshalSpecStatus(t.Spec, t.Status)
	if err != nil {
		return fmt.Errorf("create tenant %q: %w", t.Name, err)
	}
	at := now()
	var seqs []int64
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO tenants (`+tenantColumns+`, uid) VALUES (?, ?, ?, ?, 1, ?, ?, NULLIF(?, 0))
			ON CONFLICT (name) DO NOTHING`,
			t.Name, spec, status, t.Generation, nanos(at), nanos(at), t.Status.UID)
		if isUIDTaken(err) {
			return sqlstore.UIDTaken(t)
		}
		if err == nil {
			err = created(res, sqlstore.Tenants, t.Name)
		}
		if err != nil {
			return err
		}
		seqs, err = insertEvents(ctx, tx, at, events)
		return err
	})
	if err != nil {
		return sqlstore.Wrap(err, "create tenant %q", t.Name)
	}
	t.ResourceVersion = 1
	t.CreatedAt, t.UpdatedAt = at, at
	numberEvents(events, seqs, at)
	return nil
}

// isUIDTaken reports whether err is the unique index on tenants.uid
// refusing a write.
func isUIDTaken(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE && strings.Contains(e.Error(), "tenants.uid")
}

// GetTenant returns the tenant or ENOTFOUND.
func (s *Store) GetTenant(ctx context.Context, name string) (*stamp.Tenant, error) {
	return getOne(s.getTenant.QueryRowContext(ctx, name), scanTenant, sqlstore.Tenants, name)
}

// ListTenants returns every tenant ordered by name.
func (s *Store) ListTenants(ctx context.Context) ([]*stamp.Tenant, error) {
	ts, err := queryAll(ctx, s.read, scanTenant, `SELECT `+tenantColumns+` FROM tenants ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return ts, nil
}

// listTenantsPageSQL reads a page of tenants by key, one row over the
// limit; a test checks that SQLite walks the primary key from the cursor
// rather than scanning and sorting.
const listTenantsPageSQL = `SELECT ` + tenantColumns + ` FROM tenants WHERE name > ? ORDER BY name LIMIT ?`

// ListTenantsPage returns the tenants named after p.After, ordered by name,
// at most p.Limit (0: 100, at most 1000), and the After of the next page,
// "" after the last tenant. A negative limit is EINVALID.
func (s *Store) ListTenantsPage(ctx context.Context, p stamp.TenantPage) ([]*stamp.Tenant, string, error) {
	limit, err := sqlstore.TenantLimit.Of(p.Limit)
	if err != nil {
		return nil, "", err
	}
	ts, err := queryAll(ctx, s.read, scanTenant, listTenantsPageSQL, p.After, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list tenants after %q: %w", p.After, err)
	}
	ts, next := sqlstore.NextPage(ts, limit)
	return ts, next, nil
}

// UpdateTenant writes t if t.ResourceVersion is the stored one, then
// increments t.ResourceVersion and sets UpdatedAt. A stale version is
// ECONFLICT; a missing tenant is ENOTFOUND. CreatedAt is never rewritten.
func (s *Store) UpdateTenant(ctx context.Context, t *stamp.Tenant, events ...*stamp.Event) error {
	spec, status, err := marshalSpecStatus(t.Spec, t.Status)
	if err != nil {
		return fmt.Errorf("update tenant %q: %w", t.Name, err)
	}
	at := now()
	var seqs []int64
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE tenants
			SET spec = ?, status = ?, generation = ?, resource_version = resource_version + 1, updated_at = ?, uid = NULLIF(?, 0)
			WHERE name = ? AND resource_version = ?`,
			spec, status, t.Generation, nanos(at), t.Status.UID, t.Name, t.ResourceVersion)
		if isUIDTaken(err) {
			return sqlstore.UIDTaken(t)
		}
		if err != nil {
			return err
		}
		if err := checkVersion(ctx, tx, sqlstore.Tenants, res, t.Name, t.ResourceVersion); err != nil {
			return err
		}
		seqs, err = insertEvents(ctx, tx, at, events)
		return err
	})
	if err != nil {
		return sqlstore.Wrap(err, "update tenant %q", t.Name)
	}
	t.ResourceVersion++
	t.UpdatedAt = at
	numberEvents(events, seqs, at)
	return nil
}

// DeleteTenant removes the tenant, its secrets and its activity if
// resourceVersion is the stored one (ECONFLICT otherwise). A missing
// tenant is ENOTFOUND.
func (s *Store) DeleteTenant(ctx context.Context, name string, resourceVersion int64, events ...*stamp.Event) error {
	at := now()
	var seqs []int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// Secrets and activity go with the row: ON DELETE CASCADE.
		res, err := tx.ExecContext(ctx, `DELETE FROM tenants WHERE name = ? AND resource_version = ?`, name, resourceVersion)
		if err != nil {
			return err
		}
		if err := checkVersion(ctx, tx, sqlstore.Tenants, res, name, resourceVersion); err != nil {
			return err
		}
		seqs, err = insertEvents(ctx, tx, at, events)
		return err
	})
	if err != nil {
		return sqlstore.Wrap(err, "delete tenant %q", name)
	}
	numberEvents(events, seqs, at)
	return nil
}

// Secrets returns the tenant's secrets (empty, not an error, if none).
func (s *Store) Secrets(ctx context.Context, tenant string) (map[string]string, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT name, value FROM secrets WHERE tenant = ?`, tenant)
	if err != nil {
		return nil, fmt.Errorf("read secrets of %q: %w", tenant, err)
	}
	defer rows.Close()
	secrets := map[string]string{}
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return nil, fmt.Errorf("read secrets of %q: %w", tenant, err)
		}
		secrets[name] = value
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read secrets of %q: %w", tenant, err)
	}
	return secrets, nil
}

// PutSecrets adds or replaces the named secrets of a tenant. Secrets belong
// to a stored tenant and are deleted with it, so a missing tenant is
// ENOTFOUND rather than a home for orphans.
func (s *Store) PutSecrets(ctx context.Context, tenant string, secrets map[string]string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM tenants WHERE name = ?`, tenant).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return sqlstore.Tenants.NotFound(tenant)
		}
		if err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO secrets (tenant, name, value) VALUES (?, ?, ?)
			ON CONFLICT (tenant, name) DO UPDATE SET value = excluded.value`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for name, value := range secrets {
			if _, err := stmt.ExecContext(ctx, tenant, name, value); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return sqlstore.Wrap(err, "put secrets of %q", tenant)
	}
	return nil
}

func scanTenant(sc scanner) (*stamp.Tenant, error) {
	var t stamp.Tenant
	var spec, status []byte
	var createdAt, updatedAt int64
	if err := sc.Scan(&t.Name, &spec, &status, &t.Generation, &t.ResourceVersion, &createdAt, &updatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(spec, &t.Spec); err != nil {
		return nil, fmt.Errorf("decode spec of %q: %w", t.Name, err)
	}
	if err := json.Unmarshal(status, &t.Status); err != nil {
		return nil, fmt.Errorf("decode status of %q: %w", t.Name, err)
	}
	sqlstore.TenantUTC(&t)
	t.CreatedAt, t.UpdatedAt = fromNanos(createdAt), fromNanos(updatedAt)
	return &t, nil
}
