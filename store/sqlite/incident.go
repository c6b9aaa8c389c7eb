package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/internal/sqlstore"
)

// incidentColumns are the columns scanIncident reads, in its order.
const incidentColumns = `id, incident, resource_version, updated_at`

// openIncidents is the condition of IncidentFilter.Open. It is the
// condition of the partial index incidents_open (migration 0004) word for
// word: SQLite uses a partial index only for a query that repeats it.
const openIncidents = `state IN ('` + stamp.IncidentOpen + `', '` + stamp.IncidentAcknowledged + `')`

// CreateIncident stores a new incident, setting ResourceVersion to 1 and
// UpdatedAt on i. An existing ID is ECONFLICT.
func (s *Store) CreateIncident(ctx context.Context, i *stamp.Incident) error {
	body, err := sqlstore.MarshalIncident(i)
	if err != nil {
		return fmt.Errorf("create incident %q: %w", i.ID, err)
	}
	at := now()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO incidents
			(id, tenant, state, opened_at, incident, resource_version, updated_at) VALUES (?, ?, ?, ?, ?, 1, ?)
			ON CONFLICT (id) DO NOTHING`,
			i.ID, i.Tenant, i.State, nanos(i.OpenedAt), string(body), nanos(at))
		if err != nil {
			return err
		}
		return created(res, sqlstore.Incidents, i.ID)
	})
	if err != nil {
		return sqlstore.Wrap(err, "create incident %q", i.ID)
	}
	i.ResourceVersion = 1
	i.UpdatedAt = at
	return nil
}

// GetIncident returns the incident or ENOTFOUND.
func (s *Store) GetIncident(ctx context.Context, id string) (*stamp.Incident, error) {
	return getOne(s.read.QueryRowContext(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, id), scanIncident, sqlstore.Incidents, id)
}

// ListIncidents returns the incidents f selects, newest (latest OpenedAt)
// first; of those opened at the same instant, the one created last comes
// first. A zero Limit means sqlstore.IncidentLimit's default; a larger one
// than its max is lowered to it; a negative one is EINVALID.
func (s *Store) ListIncidents(ctx context.Context, f stamp.IncidentFilter) ([]*stamp.Incident, error) {
	query, args, err := listIncidentsQuery(f)
	if err != nil {
		return nil, err
	}
	is, err := queryAll(ctx, s.read, scanIncident, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	return is, nil
}

// listIncidentsQuery returns the query of ListIncidents for f and its
// arguments.
func listIncidentsQuery(f stamp.IncidentFilter) (string, []any, error) {
	limit, err := sqlstore.IncidentLimit.Of(f.Limit)
	if err != nil {
		return "", nil, err
	}
	var where []string
	var args []any
	if f.Tenant != "" {
		where = append(where, `tenant = ?`)
		args = append(args, f.Tenant)
	}
	if f.Tenants != nil {
		where = append(where, `tenant IN (SELECT value FROM json_each(?))`)
		names, err := json.Marshal(f.Tenants)
		if err != nil {
			return "", nil, fmt.Errorf("list incidents: %w", err)
		}
		args = append(args, string(names))
	}
	if !f.OpenedSince.IsZero() {
		where = append(where, `opened_at >= ?`)
		args = append(args, nanos(f.OpenedSince))
	}
	if f.Open {
		where = append(where, openIncidents)
	}
	query := `SELECT ` + incidentColumns + ` FROM incidents`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY opened_at DESC, rowid DESC LIMIT ?`
	return query, append(args, limit), nil
}

// UpdateIncident writes i if i.ResourceVersion is the stored one, then
// increments i.ResourceVersion and sets UpdatedAt. A stale version is
// ECONFLICT; a missing incident is ENOTFOUND.
func (s *Store) UpdateIncident(ctx context.Context, i *stamp.Incident) error {
	body, err := sqlstore.MarshalIncident(i)
	if err != nil {
		return fmt.Errorf("update incident %q: %w", i.ID, err)
	}
	at := now()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE incidents
			SET tenant = ?, state = ?, opened_at = ?, incident = ?, resource_version = resource_version + 1, updated_at = ?
			WHERE id = ? AND resource_version = ?`,
			i.Tenant, i.State, nanos(i.OpenedAt), string(body), nanos(at), i.ID, i.ResourceVersion)
		if err != nil {
			return err
		}
		return checkVersion(ctx, tx, sqlstore.Incidents, res, i.ID, i.ResourceVersion)
	})
	if err != nil {
		return sqlstore.Wrap(err, "update incident %q", i.ID)
	}
	i.ResourceVersion++
	i.UpdatedAt = at
	return nil
}

func scanIncident(sc scanner) (*stamp.Incident, error) {
	var id string
	var body []byte
	var version, updatedAt int64
	if err := sc.Scan(&id, &body, &version, &updatedAt); err != nil {
		return nil, err
	}
	var i stamp.Incident
	if err := json.Unmarshal(body, &i); err != nil {
		return nil, fmt.Errorf("decode incident %q: %w", id, err)
	}
	sqlstore.IncidentUTC(&i)
	i.ResourceVersion, i.UpdatedAt = version, fromNanos(updatedAt)
	return &i, nil
}
