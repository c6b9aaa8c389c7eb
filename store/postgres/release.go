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

// releaseColumns are the columns scanRelease reads, in its order.
const releaseColumns = `id, spec, status, resource_version, created_at, updated_at`

// CreateRelease stores a new release, setting ResourceVersion to 1 and both
// timestamps (the database's clock) on r, with events appended in the same
// transaction. An existing ID is ECONFLICT.
func (s *Store) CreateRelease(ctx context.Context, r *stamp.Release, events ...*stamp.Event) error {
	var at time.Time
	insert := func(q querier) error {
		return q.QueryRow(ctx, `INSERT INTO releases (`+releaseColumns+`) VALUES ($1, $2, $3, 1, now(), now())
			RETURNING created_at`, r.ID, r.Spec, r.Status).Scan(&at)
	}
	seqs, times, err := s.withEvents(ctx, insert, events)
	if isUniqueViolation(err, "releases_pkey") {
		return sqlstore.Releases.Exists(r.ID)
	}
	if err != nil {
		return fmt.Errorf("create release %q: %w", r.ID, err)
	}
	r.ResourceVersion = 1
	r.CreatedAt, r.UpdatedAt = at, at
	numberEvents(events, seqs, times)
	return nil
}

// GetRelease returns the release or ENOTFOUND.
func (s *Store) GetRelease(ctx context.Context, id string) (*stamp.Release, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+releaseColumns+` FROM releases WHERE id = $1`, id)
	return getOne(rows, scanRelease, sqlstore.Releases, id)
}

// ListReleases returns every release, oldest first (then by order of
// creation, for equal times).
func (s *Store) ListReleases(ctx context.Context) ([]*stamp.Release, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+releaseColumns+` FROM releases ORDER BY created_at, seq`)
	rs, err := pgx.CollectRows(rows, scanRelease)
	if err != nil {
		return nil, fmt.Errorf("list releases: %w", err)
	}
	return rs, nil
}

// UpdateRelease writes r if r.ResourceVersion is the stored one, then
// increments r.ResourceVersion and sets UpdatedAt; events are appended in
// the same transaction. A stale version is ECONFLICT; a missing release
// is ENOTFOUND. CreatedAt is never rewritten.
func (s *Store) UpdateRelease(ctx context.Context, r *stamp.Release, events ...*stamp.Event) error {
	var at time.Time
	update := func(q querier) error {
		err := q.QueryRow(ctx, `UPDATE releases
			SET spec = $1, status = $2, resource_version = resource_version + 1, updated_at = now()
			WHERE id = $3 AND resource_version = $4
			RETURNING updated_at`,
			r.Spec, r.Status, r.ID, r.ResourceVersion).Scan(&at)
		if errors.Is(err, pgx.ErrNoRows) {
			return errStaleRow
		}
		return err
	}
	seqs, times, err := s.withEvents(ctx, update, events)
	if errors.Is(err, errStaleRow) {
		err = s.explainVersion(ctx, sqlstore.Releases, r.ID, r.ResourceVersion)
	}
	if err != nil {
		return sqlstore.Wrap(err, "update release %q", r.ID)
	}
	r.ResourceVersion++
	r.UpdatedAt = at
	numberEvents(events, seqs, times)
	return nil
}

func scanRelease(row pgx.CollectableRow) (*stamp.Release, error) {
	var r stamp.Release
	if err := row.Scan(&r.ID, &r.Spec, &r.Status, &r.ResourceVersion, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return nil, err
	}
	sqlstore.ReleaseUTC(&r)
	return &r, nil
}
