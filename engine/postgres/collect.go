package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/stamphq/stamp"
)

var _ stamp.Collector = (*Engine)(nil)

// Orphans returns the databases and roles named as a tenant's
// (ObjectName: "stamp_...") that are no ObjectName of a runtime in keep
// and its databases, and the snapshot databases of such a name. The
// server's databases are taken to be this store's alone: another fleet
// on the same server would name its tenants' objects alike. held counts
// the databases named as a tenant's.
func (e *Engine) Orphans(ctx context.Context, keep map[string][]string) ([]string, int, error) {
	want := map[string]bool{}
	for runtime, dbs := range keep {
		for _, db := range dbs {
			want[ObjectName(runtime, db)] = true
		}
	}
	conn, err := e.pool.Acquire(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("connect: %w", err)
	}
	defer conn.Release()
	// '_' is a wildcard of LIKE: escaped, the prefix is literal.
	rows, err := conn.Query(ctx, `SELECT datname, coalesce(shobj_description(oid, 'pg_database'), ''), true FROM pg_database
		WHERE datname LIKE 'stamp\_%' OR datname LIKE 'stampsnap\_%' OR datname LIKE 'stamptmp\_%'
		UNION ALL SELECT rolname, '', false FROM pg_roles WHERE rolname LIKE 'stamp\_%'`)
	if err != nil {
		return nil, 0, fmt.Errorf("list databases and roles: %w", err)
	}
	type object struct { // exported: pgx sets fields by reflection
		Name, Comment string
		Database      bool
	}
	objects, err := pgx.CollectRows(rows, pgx.RowToStructByPos[object])
	if err != nil {
		return nil, 0, fmt.Errorf("list databases and roles: %w", err)
	}
	var orphans []string
	held := 0
	for _, o := range objects {
		live := o.Name // a tenant's database or role
		if !strings.HasPrefix(o.Name, "stamp_") {
			live, _ = strings.CutPrefix(o.Comment, snapshotComment("")) // a snapshot
		} else if o.Database {
			held++
		}
		if live != "" && !want[live] && !slices.Contains(orphans, o.Name) {
			orphans = append(orphans, o.Name)
		}
	}
	return orphans, held, nil
}

// DropOrphan drops orphan: a snapshot database, or a tenant's database
// with its snapshots and its role.
func (e *Engine) DropOrphan(ctx context.Context, orphan string) error {
	if !strings.HasPrefix(orphan, "stamp_") {
		return e.locked(ctx, orphan, func(conn *pgx.Conn) error { return dropDatabases(ctx, conn, orphan) })
	}
	if err := e.drop(ctx, orphan); err != nil {
		return fmt.Errorf("drop orphan %s: %w", orphan, err)
	}
	return nil
}
