package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/internal/sqlstore"
)

// ListTenants returns every tenant ordered by name.
func (s *Store) ListTenants(ctx context.Context) ([]*stamp.Tenant, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+tenantColumns+` FROM tenants ORDER BY name`)
	ts, err := pgx.CollectRows(rows, scanTenant)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return ts, nil
}

// ListTenantsPage returns the tenants p.Filter selects named after
// p.After (or, read backwards, before p.Before), ordered by name, at most
// p.Limit (0: 100, at most 1000), and the cursor of the next page in the
// direction read, "" at the end. A negative limit is EINVALID.
func (s *Store) ListTenantsPage(ctx context.Context, p stamp.TenantPage) ([]*stamp.Tenant, string, error) {
	limit, err := sqlstore.TenantPageLimit(p)
	if err != nil {
		return nil, "", err
	}
	// $1 is the cursor, $2 the limit: one row over it tells whether
	// another page follows.
	where, args := tenantWhere(p.Filter, p.Pooled, []any{p.After + p.Before, limit + 1})
	query := `SELECT ` + tenantColumns + ` FROM tenants WHERE name > $1 AND ` + where + ` ORDER BY name LIMIT $2`
	backwards := p.Before != ""
	if backwards {
		query = `SELECT ` + tenantColumns + ` FROM tenants WHERE name < $1 AND ` + where + ` ORDER BY name DESC LIMIT $2`
	}
	rows, _ := s.pool.Query(ctx, query, args...)
	ts, err := pgx.CollectRows(rows, scanTenant)
	if err != nil {
		return nil, "", fmt.Errorf("list tenants: %w", err)
	}
	ts, next := sqlstore.CutPage(ts, limit, backwards)
	return ts, next, nil
}

// CountTenants counts the tenants f selects by phase, current version
// and plan.
func (s *Store) CountTenants(ctx context.Context, f stamp.TenantFilter) ([]stamp.TenantCount, error) {
	where, args := tenantWhere(f, false, nil)
	rows, _ := s.pool.Query(ctx, `SELECT phase, version, plan, count(*) FROM tenants WHERE `+where+` GROUP BY phase, version, plan`, args...)
	counts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (stamp.TenantCount, error) {
		var c stamp.TenantCount
		err := row.Scan(&c.Phase, &c.Version, &c.Plan, &c.N)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("count tenants: %w", err)
	}
	return counts, nil
}

// tenantWhere returns the conditions selecting the tenants f selects,
// among the pooled stamps or the others, and the arguments: args, then
// the conditions' own.
func tenantWhere(f stamp.TenantFilter, pooled bool, args []any) (string, []any) {
	args = append(args, pooled)
	where := []string{fmt.Sprintf(`pooled = $%d`, len(args))}
	add := func(cond string, a ...any) {
		n := make([]any, len(a))
		for i, v := range a {
			args = append(args, v)
			n[i] = len(args)
		}
		where = append(where, fmt.Sprintf(cond, n...))
	}
	if f.Phase != "" {
		add(`phase = $%d`, f.Phase)
	}
	if f.Version != "" {
		add(`version = $%d`, f.Version)
	}
	if f.Plan != "" {
		add(`plan = $%d`, f.Plan)
	}
	if f.Label != "" {
		key, value, hasValue := f.LabelParts()
		if hasValue {
			add(`spec->'labels'->>$%d::text = $%d`, key, value)
		} else {
			add(`spec->'labels'->>$%d::text IS NOT NULL`, key)
		}
	}
	if f.Name != "" {
		add(`strpos(name, $%d) > 0`, f.Name)
	}
	return strings.Join(where, ` AND `), args
}
