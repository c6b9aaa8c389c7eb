package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/internal/sqlstore"
)

// tenantColumns are the columns scanTenant reads, in its order.
const tenantColumns = `name, spec, status, generation, resource_version, created_at, updated_at`

// CreateTenant stores a new tenant, setting ResourceVersion to 1 and both
// timestamps (the database's clock) on t. A tenant of that name already
// existing is ECONFLICT.
func (s *Store) CreateTenant(ctx context.Context, t *stamp.Tenant, events ...*stamp.Event) error {
	var at time.Time
	seqs, times, err := s.withEvents(ctx, func(q querier) (err error) {
		at, err = insertTenant(ctx, q, t)
		return err
	}, events)
	if err != nil {
		return sqlstore.Wrap(err, "create tenant %q", t.Name)
	}
	t.ResourceVersion = 1
	t.CreatedAt, t.UpdatedAt = at, at
	numberEvents(events, seqs, times)
	return nil
}

// ClaimTenant hands the pooled stamp pooled (at resourceVersion) to the
// new tenant t, with secrets, in one transaction (stamp.TenantStore).
func (s *Store) ClaimTenant(ctx context.Context, pooled string, resourceVersion int64, t *stamp.Tenant, secrets map[string]string, events ...*stamp.Event) error {
	var at time.Time
	var seqs []int64
	var times []time.Time
	err := s.appendInTx(ctx, func(tx pgx.Tx) error {
		var isPooled bool
		var version int64
		err := tx.QueryRow(ctx, `SELECT pooled, resource_version FROM tenants WHERE name = $1 FOR UPDATE`, pooled).Scan(&isPooled, &version)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return sqlstore.Tenants.NotFound(pooled)
		case err != nil:
			return err
		case !isPooled:
			return sqlstore.NotPooled(pooled)
		case version != resourceVersion:
			return sqlstore.Tenants.Stale(pooled, resourceVersion, version)
		}
		// Its secrets and activity go with the row: ON DELETE CASCADE.
		if _, err := tx.Exec(ctx, `DELETE FROM tenants WHERE name = $1`, pooled); err != nil {
			return err
		}
		if at, err = insertTenant(ctx, tx, t); err != nil {
			return err
		}
		if err := putSecrets(ctx, tx, t.Name, secrets); err != nil {
			return err
		}
		seqs, times, err = insertEvents(ctx, tx, events)
		return err
	})
	if err != nil {
		return sqlstore.Wrap(err, "claim pooled stamp %q for tenant %q", pooled, t.Name)
	}
	t.ResourceVersion = 1
	t.CreatedAt, t.UpdatedAt = at, at
	numberEvents(events, seqs, times)
	return nil
}

// insertTenant inserts t and returns its creation time.
func insertTenant(ctx context.Context, q querier, t *stamp.Tenant) (time.Time, error) {
	var at time.Time
	err := q.QueryRow(ctx, `INSERT INTO tenants (`+tenantColumns+`, uid, pooled, runtime, phase, version, plan)
		VALUES ($1, $2, $3, $4, 1, now(), now(), NULLIF($5, 0), $6, NULLIF($7, ''), $8, $9, $10)
		RETURNING created_at`, t.Name, t.Spec, t.Status, t.Generation, t.Status.UID, t.Spec.Pooled, t.Status.Runtime,
		t.Status.Phase, t.CurrentVersion(), t.Spec.Plan).Scan(&at)
	return at, uniqueTaken(err, t)
}

// uniqueTaken turns err, from a write of t, into the store's error when a
// unique index of tenants refused it; other errors are returned as they
// are.
func uniqueTaken(err error, t *stamp.Tenant) error {
	switch {
	case isUniqueViolation(err, "tenants_pkey"):
		return sqlstore.Tenants.Exists(t.Name)
	case isUniqueViolation(err, "tenants_uid"):
		return sqlstore.UIDTaken(t)
	case isUniqueViolation(err, "tenants_runtime"):
		return sqlstore.RuntimeTaken(t)
	}
	return err
}

// GetTenant returns the tenant or ENOTFOUND.
func (s *Store) GetTenant(ctx context.Context, name string) (*stamp.Tenant, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE name = $1`, name)
	return getOne(rows, scanTenant, sqlstore.Tenants, name)
}

// TenantByRuntime returns the tenant whose runtime is runtime: the one
// that claimed it, or the one of that name running under its own.
func (s *Store) TenantByRuntime(ctx context.Context, runtime string) (*stamp.Tenant, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE runtime = $1
		UNION ALL SELECT `+tenantColumns+` FROM tenants WHERE name = $1 AND runtime IS NULL`, runtime)
	return getOne(rows, scanTenant, sqlstore.Runtimes, runtime)
}

// UpdateTenant writes t if t.ResourceVersion is the stored one, then
// increments t.ResourceVersion and sets UpdatedAt. A stale version is
// ECONFLICT; a missing tenant is ENOTFOUND. CreatedAt is never rewritten.
func (s *Store) UpdateTenant(ctx context.Context, t *stamp.Tenant, events ...*stamp.Event) error {
	var at time.Time
	update := func(q querier) error {
		err := q.QueryRow(ctx, `UPDATE tenants
			SET spec = $1, status = $2, generation = $3, resource_version = resource_version + 1, updated_at = now(), uid = NULLIF($6, 0),
				pooled = $7, runtime = NULLIF($8, ''), phase = $9, version = $10, plan = $11
			WHERE name = $4 AND resource_version = $5
			RETURNING updated_at`,
			t.Spec, t.Status, t.Generation, t.Name, t.ResourceVersion, t.Status.UID, t.Spec.Pooled, t.Status.Runtime,
			t.Status.Phase, t.CurrentVersion(), t.Spec.Plan).Scan(&at)
		if errors.Is(err, pgx.ErrNoRows) {
			return errStaleRow
		}
		return uniqueTaken(err, t)
	}
	seqs, times, err := s.withEvents(ctx, update, events)
	if errors.Is(err, errStaleRow) {
		err = s.explainVersion(ctx, sqlstore.Tenants, t.Name, t.ResourceVersion)
	}
	if err != nil {
		return sqlstore.Wrap(err, "update tenant %q", t.Name)
	}
	t.ResourceVersion++
	t.UpdatedAt = at
	numberEvents(events, seqs, times)
	return nil
}

// errStaleRow is a conditional update that matched no row; explainVersion
// then says why (a stale version or a missing row).
var errStaleRow = errors.New("no row at that resource version")

// DeleteTenant removes the tenant, its secrets and its activity if
// resourceVersion is the stored one (ECONFLICT otherwise). A missing
// tenant is ENOTFOUND.
func (s *Store) DeleteTenant(ctx context.Context, name string, resourceVersion int64, events ...*stamp.Event) error {
	del := func(q querier) error {
		// Secrets and activity go with the row: ON DELETE CASCADE. Its
		// tokens are revoked with it, and every server told: a new tenant
		// of the same name is not theirs.
		var deleted string
		var told int
		err := q.QueryRow(ctx, `WITH gone AS (
				DELETE FROM tenants WHERE name = $1 AND resource_version = $2 RETURNING name
			), revoked AS (
				UPDATE tokens SET revoked_at = now() WHERE tenant = $1 AND revoked_at IS NULL AND EXISTS (SELECT 1 FROM gone) RETURNING id
			)
			SELECT name, (SELECT count(pg_notify($3, id)) FROM revoked) FROM gone`, name, resourceVersion, tokensChannel).Scan(&deleted, &told)
		if errors.Is(err, pgx.ErrNoRows) {
			return errStaleRow
		}
		return err
	}
	seqs, times, err := s.withEvents(ctx, del, events)
	if errors.Is(err, errStaleRow) {
		err = s.explainVersion(ctx, sqlstore.Tenants, name, resourceVersion)
	}
	if err != nil {
		return sqlstore.Wrap(err, "delete tenant %q", name)
	}
	numberEvents(events, seqs, times)
	return nil
}

// Secrets returns the tenant's secrets (empty, not an error, if none).
func (s *Store) Secrets(ctx context.Context, tenant string) (map[string]string, error) {
	rows, _ := s.pool.Query(ctx, `SELECT name, value FROM secrets WHERE tenant = $1`, tenant)
	secrets := map[string]string{}
	var name, value string
	_, err := pgx.ForEachRow(rows, []any{&name, &value}, func() error {
		secrets[name] = value
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read secrets of %q: %w", tenant, err)
	}
	return secrets, nil
}

// PutSecrets adds or replaces the named secrets of a tenant, in one
// statement. Secrets belong to a stored tenant and are deleted with it, so
// a missing tenant is ENOTFOUND rather than a home for orphans.
func (s *Store) PutSecrets(ctx context.Context, tenant string, secrets map[string]string) error {
	err := s.write(ctx, func(w writer) error { return putSecrets(ctx, w, tenant, secrets) })
	if err != nil {
		return sqlstore.Wrap(err, "put secrets of %q", tenant)
	}
	return nil
}

// putSecrets adds or replaces secrets of tenant in one statement: the
// foreign key refuses secrets of a missing tenant, and EXISTS tells a
// missing tenant when there are no secrets to put.
func putSecrets(ctx context.Context, q querier, tenant string, secrets map[string]string) error {
	names := make([]string, 0, len(secrets))
	values := make([]string, 0, len(secrets))
	for name, value := range secrets {
		names = append(names, name)
		values = append(values, value)
	}
	var found bool
	err := q.QueryRow(ctx, `WITH put AS (
			INSERT INTO secrets (tenant, name, value)
			SELECT $1, s.name, s.value FROM unnest($2::text[], $3::text[]) AS s (name, value)
			ON CONFLICT (tenant, name) DO UPDATE SET value = excluded.value
		)
		SELECT EXISTS (SELECT 1 FROM tenants WHERE name = $1)`, tenant, names, values).Scan(&found)
	if isForeignKeyViolation(err) || err == nil && !found && len(secrets) == 0 {
		return sqlstore.Tenants.NotFound(tenant)
	}
	return err
}

func scanTenant(row pgx.CollectableRow) (*stamp.Tenant, error) {
	var t stamp.Tenant
	if err := row.Scan(&t.Name, &t.Spec, &t.Status, &t.Generation, &t.ResourceVersion, &t.CreatedAt, &t.UpdatedAt); err != nil {
		return nil, err
	}
	sqlstore.TenantUTC(&t)
	return &t, nil
}
