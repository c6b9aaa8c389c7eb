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

// selectBundles reads bundles without content, with their yank if any
// (scanBundle reads its rows).
const selectBundles = `SELECT b.name, b.version, b.digest, b.size, b.description, b.created_at, y.yanked_at, y.reason
	FROM bundles b LEFT JOIN bundle_yanks y ON y.name = b.name AND y.version = b.version`

// CreateBundle stores b (Content included) and sets CreatedAt. If
// name@version already exists with the same digest it does nothing and
// returns nil; with a different digest it returns ECONFLICT.
func (s *Store) CreateBundle(ctx context.Context, b *stamp.Bundle) error {
	// Look first so that pushing a stored bundle again does not send its
	// content; a concurrent first push is caught by the unique constraint.
	exists, err := s.sameBundle(ctx, b)
	if err != nil {
		return sqlstore.Wrap(err, "create blueprint %s", b.Ref())
	}
	if exists {
		return nil
	}
	content := b.Content
	if content == nil {
		content = []byte{} // nil binds as NULL
	}
	err = s.write(ctx, func(w writer) error {
		return w.QueryRow(ctx, `INSERT INTO bundles (name, version, digest, size, description, created_at, content)
			VALUES ($1, $2, $3, $4, $5, now(), $6) RETURNING created_at`,
			b.Name, b.Version, b.Digest, b.Size, b.Description, content).Scan(&b.CreatedAt)
	})
	if isUniqueViolation(err, "bundles_name_version_key") {
		_, err = s.sameBundle(ctx, b)
	}
	if err != nil {
		return sqlstore.Wrap(err, "create blueprint %s", b.Ref())
	}
	return nil
}

// sameBundle reports whether name@version of b is stored with b's digest;
// stored with another one is ECONFLICT.
func (s *Store) sameBundle(ctx context.Context, b *stamp.Bundle) (bool, error) {
	var stored string
	err := s.pool.QueryRow(ctx, `SELECT digest FROM bundles WHERE name = $1 AND version = $2`, b.Name, b.Version).Scan(&stored)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	case err != nil:
		return false, err
	case stored != b.Digest:
		return false, sqlstore.BundleDiffers(b, stored)
	}
	return true, nil
}

// GetBundle returns name@version without its content, or ENOTFOUND.
func (s *Store) GetBundle(ctx context.Context, name, version string) (*stamp.Bundle, error) {
	rows, _ := s.pool.Query(ctx, selectBundles+` WHERE b.name = $1 AND b.version = $2`, name, version)
	b, err := pgx.CollectExactlyOneRow(rows, scanBundle)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, sqlstore.BundleNotFound(name, version)
	}
	if err != nil {
		return nil, fmt.Errorf("get blueprint %s@%s: %w", name, version, err)
	}
	return b, nil
}

// ListBundles returns every bundle without content, ordered by name and
// creation time (then by order of creation, for equal times).
func (s *Store) ListBundles(ctx context.Context) ([]*stamp.Bundle, error) {
	rows, _ := s.pool.Query(ctx, selectBundles+` ORDER BY b.name, b.created_at, b.seq`)
	bs, err := pgx.CollectRows(rows, scanBundle)
	if err != nil {
		return nil, fmt.Errorf("list blueprints: %w", err)
	}
	return bs, nil
}

// BundleContent returns the archive whose sha256 is digest, or ENOTFOUND.
func (s *Store) BundleContent(ctx context.Context, digest string) ([]byte, error) {
	var content []byte
	err := s.pool.QueryRow(ctx, `SELECT content FROM bundles WHERE digest = $1 LIMIT 1`, digest).Scan(&content)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, sqlstore.DigestNotFound(digest)
	}
	if err != nil {
		return nil, fmt.Errorf("read blueprint content %s: %w", digest, err)
	}
	return content, nil
}

// SetYanked yanks name@version or unyanks it, appending events with the
// change; see stamp.BundleStore. The bundle's row is locked first, so that of
// two racing calls the second sees what the first did.
func (s *Store) SetYanked(ctx context.Context, name, version string, yanked bool, reason string, events ...*stamp.Event) (*stamp.Bundle, bool, error) {
	var b *stamp.Bundle
	var seqs []int64
	var times []time.Time
	changed := false
	err := s.appendInTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM bundles WHERE name = $1 AND version = $2 FOR UPDATE`, name, version); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, selectBundles+` WHERE b.name = $1 AND b.version = $2`, name, version)
		var err error
		b, err = pgx.CollectExactlyOneRow(rows, scanBundle)
		if errors.Is(err, pgx.ErrNoRows) {
			return sqlstore.BundleNotFound(name, version)
		}
		if err != nil || b.Yanked == yanked {
			return err
		}
		if yanked {
			err = tx.QueryRow(ctx, `INSERT INTO bundle_yanks (name, version, yanked_at, reason) VALUES ($1, $2, now(), $3) RETURNING yanked_at`,
				name, version, text(reason)).Scan(&b.YankedAt)
			b.Yanked, b.YankReason = true, text(reason)
		} else {
			_, err = tx.Exec(ctx, `DELETE FROM bundle_yanks WHERE name = $1 AND version = $2`, name, version)
			b.Yanked, b.YankedAt, b.YankReason = false, time.Time{}, ""
		}
		if err != nil {
			return err
		}
		changed = true
		seqs, times, err = insertEvents(ctx, tx, events)
		return err
	})
	if err != nil {
		return nil, false, sqlstore.Wrap(err, "set yank of blueprint %s@%s", name, version)
	}
	if changed {
		numberEvents(events, seqs, times)
	}
	return b, changed, nil
}

func scanBundle(row pgx.CollectableRow) (*stamp.Bundle, error) {
	var b stamp.Bundle
	var yankedAt *time.Time
	var reason *string
	err := row.Scan(&b.Name, &b.Version, &b.Digest, &b.Size, &b.Description, &b.CreatedAt, &yankedAt, &reason)
	if yankedAt != nil {
		b.Yanked, b.YankedAt = true, *yankedAt
		if reason != nil {
			b.YankReason = *reason
		}
	}
	return &b, err
}
