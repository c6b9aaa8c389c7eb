package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/stamphq/stamp"
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
func (s *Store) CreateTenant(ctx context.Context, t *stamp.Tenant) error {
	spec, status, err := marshalSpecStatus(t.Spec, t.Status)
	if err != nil {
		return fmt.Errorf("create tenant %q: %w", t.Name, err)
	}
	at := now()
	res, err := s.write.ExecContext(ctx, `INSERT INTO tenants (`+tenantColumns+`, uid) VALUES (?, ?, ?, ?, 1, ?, ?, NULLIF(?, 0))
		ON CONFLICT (name) DO NOTHING`,
		t.Name, spec, status, t.Generation, nanos(at), nanos(at), t.Status.UID)
	if isUIDTaken(err) {
		return uidTaken(t)
	}
	if err != nil {
		return fmt.Errorf("create tenant %q: %w", t.Name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("create tenant %q: %w", t.Name, err)
	} else if n == 0 {
		return stamp.Errorf(stamp.ECONFLICT, "tenant %q already exists", t.Name)
	}
	t.ResourceVersion = 1
	t.CreatedAt, t.UpdatedAt = at, at
	return nil
}

// isUIDTaken reports whether err is the unique index on tenants.uid
// refusing a write.
func isUIDTaken(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE && strings.Contains(e.Error(), "tenants.uid")
}

// uidTaken is the error of a write that would give t's UID to a second
// tenant.
func uidTaken(t *stamp.Tenant) error {
	return stamp.Errorf(stamp.ECONFLICT, "uid %d of tenant %q is held by another tenant", t.Status.UID, t.Name)
}

// GetTenant returns the tenant or ENOTFOUND.
func (s *Store) GetTenant(ctx context.Context, name string) (*stamp.Tenant, error) {
	t, err := scanTenant(s.getTenant.QueryRowContext(ctx, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tenantTable.notFound(name)
	}
	if err != nil {
		return nil, fmt.Errorf("get tenant %q: %w", name, err)
	}
	return t, nil
}

// ListTenants returns every tenant ordered by name.
func (s *Store) ListTenants(ctx context.Context) ([]*stamp.Tenant, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+tenantColumns+` FROM tenants ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	defer rows.Close()
	var ts []*stamp.Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, fmt.Errorf("list tenants: %w", err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return ts, nil
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
			return uidTaken(t)
		}
		if err != nil {
			return err
		}
		if err := tenantTable.checkVersion(ctx, tx, res, t.Name, t.ResourceVersion); err != nil {
			return err
		}
		seqs, err = insertEvents(ctx, tx, at, events)
		return err
	})
	if err != nil {
		return wrap(err, "update tenant %q", t.Name)
	}
	t.ResourceVersion++
	t.UpdatedAt = at
	numberEvents(events, seqs, at)
	return nil
}

// DeleteTenant removes the tenant and its secrets if resourceVersion is the
// stored one (ECONFLICT otherwise). A missing tenant is ENOTFOUND.
func (s *Store) DeleteTenant(ctx context.Context, name string, resourceVersion int64) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// Secrets go with the row: ON DELETE CASCADE.
		res, err := tx.ExecContext(ctx, `DELETE FROM tenants WHERE name = ? AND resource_version = ?`, name, resourceVersion)
		if err != nil {
			return err
		}
		return tenantTable.checkVersion(ctx, tx, res, name, resourceVersion)
	})
	if err != nil {
		return wrap(err, "delete tenant %q", name)
	}
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
			return tenantTable.notFound(tenant)
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
		return wrap(err, "put secrets of %q", tenant)
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
	utc(&t.Status.ReadyAt)
	if u := t.Status.Upgrade; u != nil {
		utc(&u.StartedAt, &u.SwitchedAt, &u.FinishedAt)
	}
	t.CreatedAt, t.UpdatedAt = fromNanos(createdAt), fromNanos(updatedAt)
	return &t, nil
}
