package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/internal/sqlstore"
)

// releaseColumns are the columns scanRelease reads, in its order.
const releaseColumns = `id, spec, status, resource_version, created_at, updated_at`

// CreateRelease stores a new release, setting ResourceVersion to 1 and both
// timestamps on r, with events appended in the same transaction. An
// existing ID is ECONFLICT.
func (s *Store) CreateRelease(ctx context.Context, r *stamp.Release, events ...*stamp.Event) error {
	spec, status, err := marshalSpecStatus(r.Spec, r.Status)
	if err != nil {
		return fmt.Errorf("create release %q: %w", r.ID, err)
	}
	at := now()
	var seqs []int64
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO releases (`+releaseColumns+`) VALUES (?, ?, ?, 1, ?, ?)
			ON CONFLICT (id) DO NOTHING`,
			r.ID, spec, status, nanos(at), nanos(at))
		if err == nil {
			err = created(res, sqlstore.Releases, r.ID)
		}
		if err != nil {
			return err
		}
		seqs, err = insertEvents(ctx, tx, at, events)
		return err
	})
	if err != nil {
		return sqlstore.Wrap(err, "create release %q", r.ID)
	}
	r.ResourceVersion = 1
	r.CreatedAt, r.UpdatedAt = at, at
	numberEvents(events, seqs, at)
	return nil
}

// GetRelease returns the release or ENOTFOUND.
func (s *Store) GetRelease(ctx context.Context, id string) (*stamp.Release, error) {
	return getOne(s.read.QueryRowContext(ctx, `SELECT `+releaseColumns+` FROM releases WHERE id = ?`, id), scanRelease, sqlstore.Releases, id)
}

// ListReleases returns every release, oldest first (then by order of
// creation, for equal times).
func (s *Store) ListReleases(ctx context.Context) ([]*stamp.Release, error) {
	rs, err := queryAll(ctx, s.read, scanRelease, `SELECT `+releaseColumns+` FROM releases ORDER BY created_at, rowid`)
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
	spec, status, err := marshalSpecStatus(r.Spec, r.Status)
	if err != nil {
		return fmt.Errorf("update release %q: %w", r.ID, err)
	}
	at := now()
	var seqs []int64
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE releases
			SET spec = ?, status = ?, resource_version = resource_version + 1, updated_at = ?
			WHERE id = ? AND resource_version = ?`,
			spec, status, nanos(at), r.ID, r.ResourceVersion)
		if err != nil {
			return err
		}
		if err := checkVersion(ctx, tx, sqlstore.Releases, res, r.ID, r.ResourceVersion); err != nil {
			return err
		}
		seqs, err = insertEvents(ctx, tx, at, events)
		return err
	})
	if err != nil {
		return sqlstore.Wrap(err, "update release %q", r.ID)
	}
	r.ResourceVersion++
	r.UpdatedAt = at
	numberEvents(events, seqs, at)
	return nil
}

func scanRelease(sc scanner) (*stamp.Release, error) {
	var r stamp.Release
	var spec, status []byte
	var createdAt, updatedAt int64
	if err := sc.Scan(&r.ID, &spec, &status, &r.ResourceVersion, &createdAt, &updatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(spec, &r.Spec); err != nil {
		return nil, fmt.Errorf("decode spec of release %q: %w", r.ID, err)
	}
	if err := json.Unmarshal(status, &r.Status); err != nil {
		return nil, fmt.Errorf("decode status of release %q: %w", r.ID, err)
	}
	sqlstore.ReleaseUTC(&r)
	r.CreatedAt, r.UpdatedAt = fromNanos(createdAt), fromNanos(updatedAt)
	return &r, nil
}
