package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/internal/sqlstore"
)

// incidentColumns are the columns scanIncident reads, in its order.
const incidentColumns = `id, incident, resource_version, updated_at`

// openIncidents is the condition of IncidentFilter.Open, the one of the
// partial index incidents_open (migration 0003).
const openIncidents = `state IN ('` + stamp.IncidentOpen + `', '` + stamp.IncidentAcknowledged + `')`

// CreateIncident stores a new incident, setting ResourceVersion to 1 and
// UpdatedAt (the database's clock) on i. An existing ID is ECONFLICT.
func (s *Store) CreateIncident(ctx context.Context, i *stamp.Incident) error {
	body, err := sqlstore.MarshalIncident(i)
	if err != nil {
		return fmt.Errorf("create incident %q: %w", i.ID, err)
	}
	var at time.Time
	err = s.write(ctx, func(w writer) error {
		return w.QueryRow(ctx, `INSERT INTO incidents
			(id, tenant, state, opened_at, incident, resource_version, updated_at) VALUES ($1, $2, $3, $4, $5, 1, now())
			RETURNING updated_at`, i.ID, i.Tenant, i.State, i.OpenedAt, body).Scan(&at)
	})
	if isUniqueViolation(err, "incidents_pkey") {
		return sqlstore.Incidents.Exists(i.ID)
	}
	if err != nil {
		return fmt.Errorf("create incident %q: %w", i.ID, err)
	}
	i.ResourceVersion = 1
	i.UpdatedAt = at
	return nil
}

// GetIncident returns the incident or ENOTFOUND.
func (s *Store) GetIncident(ctx context.Context, id string) (*stamp.Incident, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = $1`, id)
	return getOne(rows, scanIncident, sqlstore.Incidents, id)
}

// ListIncidents returns the incidents f selects, newest (latest OpenedAt,
// to the microsecond) first; of those opened at the same instant, the one
// created last comes first. A zero Limit means sqlstore.IncidentLimit's
// default; a larger one than its max is lowered to it; a negative one is
// EINVALID.
func (s *Store) ListIncidents(ctx context.Context, f stamp.IncidentFilter) ([]*stamp.Incident, error) {
	limit, err := sqlstore.IncidentLimit.Of(f.Limit)
	if err != nil {
		return nil, err
	}
	var where []string
	args := []any{limit}
	if f.Tenant != "" {
		args = append(args, f.Tenant)
		where = append(where, fmt.Sprintf(`tenant = $%d`, len(args)))
	}
	if f.Tenants != nil {
		args = append(args, f.Tenants)
		where = append(where, fmt.Sprintf(`tenant = ANY($%d)`, len(args)))
	}
	if !f.OpenedSince.IsZero() {
		args = append(args, f.OpenedSince)
		where = append(where, fmt.Sprintf(`opened_at >= $%d`, len(args)))
	}
	if f.Open {
		where = append(where, openIncidents)
	}
	query := `SELECT ` + incidentColumns + ` FROM incidents`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY opened_at DESC, seq DESC LIMIT $1`

	rows, _ := s.pool.Query(ctx, query, args...)
	is, err := pgx.CollectRows(rows, scanIncident)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	return is, nil
}

// UpdateIncident writes i if i.ResourceVersion is the stored one, then
// increments i.ResourceVersion and sets UpdatedAt. A stale version is
// ECONFLICT; a missing incident is ENOTFOUND.
func (s *Store) UpdateIncident(ctx context.Context, i *stamp.Incident) error {
	body, err := sqlstore.MarshalIncident(i)
	if err != nil {
		return fmt.Errorf("update incident %q: %w", i.ID, err)
	}
	var at time.Time
	err = s.write(ctx, func(w writer) error {
		return w.QueryRow(ctx, `UPDATE incidents
			SET tenant = $1, state = $2, opened_at = $3, incident = $4, resource_version = resource_version + 1, updated_at = now()
			WHERE id = $5 AND resource_version = $6
			RETURNING updated_at`,
			i.Tenant, i.State, i.OpenedAt, body, i.ID, i.ResourceVersion).Scan(&at)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		err = s.explainVersion(ctx, sqlstore.Incidents, i.ID, i.ResourceVersion)
	}
	if err != nil {
		return sqlstore.Wrap(err, "update incident %q", i.ID)
	}
	i.ResourceVersion++
	i.UpdatedAt = at
	return nil
}

func scanIncident(row pgx.CollectableRow) (*stamp.Incident, error) {
	var id string
	var body []byte
	var version int64
	var updatedAt time.Time
	if err := row.Scan(&id, &body, &version, &updatedAt); err != nil {
		return nil, err
	}
	var i stamp.Incident
	if err := json.Unmarshal(body, &i); err != nil {
		return nil, fmt.Errorf("decode incident %q: %w", id, err)
	}
	sqlstore.IncidentUTC(&i)
	i.ResourceVersion, i.UpdatedAt = version, updatedAt
	return &i, nil
}
