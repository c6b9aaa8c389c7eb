package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/internal/sqlstore"
)

// ListTenants returns every tenant ordered by name.
func (s *Store) ListTenants(ctx context.Context) ([]*stamp.Tenant, error) {
	ts, err := queryAll(ctx, s.read, scanTenant, `SELECT `+tenantColumns+` FROM tenants ORDER BY name`)
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
	where, args := tenantWhere(p.Filter, p.Pooled, true)
	backwards := p.Before != ""
	// One row over the limit tells whether another page follows.
	ts, err := queryAll(ctx, s.read, scanTenant, listTenantsPageSQL(where, backwards), append([]any{p.After + p.Before}, append(args, limit+1)...)...)
	if err != nil {
		return nil, "", fmt.Errorf("list tenants: %w", err)
	}
	ts, next := sqlstore.CutPage(ts, limit, backwards)
	return ts, next, nil
}

// listTenantsPageSQL reads a page of tenants by key from a cursor, with
// where holding the filter's conditions; a test checks that SQLite walks
// the primary key from the cursor rather than scanning and sorting.
func listTenantsPageSQL(where string, backwards bool) string {
	if backwards {
		return `SELECT ` + tenantColumns + ` FROM tenants WHERE name < ? AND ` + where + ` ORDER BY name DESC LIMIT ?`
	}
	return `SELECT ` + tenantColumns + ` FROM tenants WHERE name > ? AND ` + where + ` ORDER BY name LIMIT ?`
}

// CountTenants counts the tenants f selects by phase, current version
// and plan.
func (s *Store) CountTenants(ctx context.Context, f stamp.TenantFilter) ([]stamp.TenantCount, error) {
	where, args := tenantWhere(f, false, false)
	counts, err := queryAll(ctx, s.read, scanTenantCount,
		`SELECT phase, version, plan, count(*) FROM tenants WHERE `+where+` GROUP BY phase, version, plan`, args...)
	if err != nil {
		return nil, fmt.Errorf("count tenants: %w", err)
	}
	return counts, nil
}

func scanTenantCount(row scanner) (stamp.TenantCount, error) {
	var c stamp.TenantCount
	err := row.Scan(&c.Phase, &c.Version, &c.Plan, &c.N)
	return c, err
}

// tenantWhere returns the conditions selecting the tenants f selects,
// among the pooled stamps or the others, and their arguments. For a page
// read by name (byName), the columns tenants_counts indexes are tested
// row by row (the unary +): walking the names from the cursor stops
// after a page, where the index would read and sort every tenant of a
// phase.
func tenantWhere(f stamp.TenantFilter, pooled, byName bool) (string, []any) {
	col := func(name string) string { return name }
	if byName {
		col = func(name string) string { return "+" + name }
	}
	// pooled is written in, not bound, so that SQLite reads the pool's
	// pages through its partial index tenants_pooled.
	where, args := []string{`pooled = 0`}, []any{}
	if pooled {
		where[0] = `pooled = 1`
	}
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if f.Phase != "" {
		add(col("phase")+` = ?`, f.Phase)
	}
	if f.Version != "" {
		add(col("version")+` = ?`, f.Version)
	}
	if f.Plan != "" {
		add(col("plan")+` = ?`, f.Plan)
	}
	if f.Label != "" {
		key, value, hasValue := f.LabelParts()
		if hasValue {
			add(`EXISTS (SELECT 1 FROM json_each(spec, '$.labels') WHERE key = ? AND value = ?)`, key, value)
		} else {
			add(`EXISTS (SELECT 1 FROM json_each(spec, '$.labels') WHERE key = ?)`, key)
		}
	}
	if f.Name != "" {
		add(`instr(name, ?) > 0`, f.Name)
	}
	return strings.Join(where, ` AND `), args
}
