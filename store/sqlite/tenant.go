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
	return s.createTenant(ctx, t, fmt.Sprintf("create tenant %q", t.Name), nil, events)
}

// ClaimTenant hands the pooled stamp pooled (at resourceVersion) to the
// new tenant t, with secrets, in one transaction (stamp.TenantStore).
func (s *Store) ClaimTenant(ctx context.Context, pooled string, resourceVersion int64, t *stamp.Tenant, secrets map[string]string, events ...*stamp.Event) error {
	return s.createTenant(ctx, t, fmt.Sprintf("claim pooled stamp %q for tenant %q", pooled, t.Name), func(tx *sql.Tx) error {
		var isPooled bool
		err := tx.QueryRowContext(ctx, `SELECT pooled FROM tenants WHERE name = ?`, pooled).Scan(&isPooled)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return sqlstore.Tenants.NotFound(pooled)
		case err != nil:
			return err
		case !isPooled:
			return sqlstore.NotPooled(pooled)
		}
		// Its secrets and activity go with the row: ON DELETE CASCADE.
		res, err := tx.ExecContext(ctx, `DELETE FROM tenants WHERE name = ? AND resource_version = ?`, pooled, resourceVersion)
		if err != nil {
			return err
		}
		return checkVersion(ctx, tx, sqlstore.Tenants, res, pooled, resourceVersion)
	}, events, secrets)
}

// createTenant inserts t after before (if set) ran in the same
// transaction, then stores secrets as t's; what is an error wrapping.
func (s *Store) createTenant(ctx context.Context, t *stamp.Tenant, what string, before func(*sql.Tx) error, events []*stamp.Event, secrets ...map[string]string) error {
	spec, status, err := marshalSpecStatus(t.Spec, t.Status)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	at := now()
	var seqs []int64
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if before != nil {
			if err := before(tx); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO tenants (`+tenantColumns+`, uid, pooled, runtime, phase, version, plan)
			VALUES (?, ?, ?, ?, 1, ?, ?, NULLIF(?, 0), ?, NULLIF(?, ''), ?, ?, ?)
			ON CONFLICT (name) DO NOTHING`,
			t.Name, spec, status, t.Generation, nanos(at), nanos(at), t.Status.UID, t.Spec.Pooled, t.Status.Runtime,
			t.Status.Phase, t.CurrentVersion(), t.Spec.Plan)
		if err := uniqueTaken(err, t); err != nil {
			return err
		}
		if err := created(res, sqlstore.Tenants, t.Name); err != nil {
			return err
		}
		for _, m := range secrets {
			if err := putSecrets(ctx, tx, t.Name, m); err != nil {
				return err
			}
		}
		seqs, err = insertEvents(ctx, tx, at, events)
		return err
	})
	if err != nil {
		return sqlstore.Wrap(err, "%s", what)
	}
	t.ResourceVersion = 1
	t.CreatedAt, t.UpdatedAt = at, at
	numberEvents(events, seqs, at)
	return nil
}

// uniqueTaken turns err, from a write of t, into the store's error when a
// unique index on tenants.uid or tenants.runtime refused it; other errors
// are returned as they are.
func uniqueTaken(err error, t *stamp.Tenant) error {
	var e *sqlite.Error
	if !errors.As(err, &e) || e.Code() != sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		return err
	}
	switch {
	case strings.Contains(e.Error(), "tenants.uid"):
		return sqlstore.UIDTaken(t)
	case strings.Contains(e.Error(), "tenants.runtime"):
		return sqlstore.RuntimeTaken(t)
	}
	return err
}

// GetTenant returns the tenant or ENOTFOUND.
func (s *Store) GetTenant(ctx context.Context, name string) (*stamp.Tenant, error) {
	return getOne(s.getTenant.QueryRowContext(ctx, name), scanTenant, sqlstore.Tenants, name)
}

// TenantByRuntime returns the tenant whose runtime is runtime: the one
// that claimed it, or the one of that name running under its own.
func (s *Store) TenantByRuntime(ctx context.Context, runtime string) (*stamp.Tenant, error) {
	t, err := getOne(s.read.QueryRowContext(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE runtime = ?
		UNION ALL SELECT `+tenantColumns+` FROM tenants WHERE name = ? AND runtime IS NULL`, runtime, runtime), scanTenant, sqlstore.Runtimes, runtime)
	return t, err
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
			SET spec = ?, status = ?, generation = ?, resource_version = resource_version + 1, updated_at = ?, uid = NULLIF(?, 0),
				pooled = ?, runtime = NULLIF(?, ''), phase = ?, version = ?, plan = ?
			WHERE name = ? AND resource_version = ?`,
			spec, status, t.Generation, nanos(at), t.Status.UID, t.Spec.Pooled, t.Status.Runtime,
			t.Status.Phase, t.CurrentVersion(), t.Spec.Plan, t.Name, t.ResourceVersion)
		if err := uniqueTaken(err, t); err != nil {
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
	var revoked int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// Secrets and activity go with the row: ON DELETE CASCADE.
		res, err := tx.ExecContext(ctx, `DELETE FROM tenants WHERE name = ? AND resource_version = ?`, name, resourceVersion)
		if err != nil {
			return err
		}
		if err := checkVersion(ctx, tx, sqlstore.Tenants, res, name, resourceVersion); err != nil {
			return err
		}
		// Its tokens go with it: a new tenant of the same name is not theirs.
		if res, err = tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ? WHERE tenant = ? AND revoked_at IS NULL`, nanos(at), name); err != nil {
			return err
		}
		if revoked, err = res.RowsAffected(); err != nil {
			return err
		}
		seqs, err = insertEvents(ctx, tx, at, events)
		return err
	})
	if err != nil {
		return sqlstore.Wrap(err, "delete tenant %q", name)
	}
	if revoked > 0 {
		s.revoked.fire()
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
		return putSecrets(ctx, tx, tenant, secrets)
	})
	if err != nil {
		return sqlstore.Wrap(err, "put secrets of %q", tenant)
	}
	return nil
}

// putSecrets adds or replaces secrets of tenant, which exists, in tx.
func putSecrets(ctx context.Context, tx *sql.Tx, tenant string, secrets map[string]string) error {
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
