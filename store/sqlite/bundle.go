package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/internal/sqlstore"
)

// bundleColumns are the columns of a bundle without its content.
const bundleColumns = `name, version, digest, size, description, created_at`

// selectBundles reads bundles without content, with their yank if any
// (scanBundle reads its rows).
const selectBundles = `SELECT b.name, b.version, b.digest, b.size, b.description, b.created_at, y.yanked_at, y.reason
	FROM bundles b LEFT JOIN bundle_yanks y ON y.name = b.name AND y.version = b.version`

// CreateBundle stores b (Content included) and sets CreatedAt. If
// name@version already exists with the same digest it does nothing and
// returns nil; with a different digest it returns ECONFLICT.
func (s *Store) CreateBundle(ctx context.Context, b *stamp.Bundle) error {
	createdAt := now()
	inserted := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var stored string
		err := tx.QueryRowContext(ctx, `SELECT digest FROM bundles WHERE name = ? AND version = ?`, b.Name, b.Version).Scan(&stored)
		switch {
		case err == nil && stored == b.Digest:
			return nil
		case err == nil:
			return sqlstore.BundleDiffers(b, stored)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO bundles (`+bundleColumns+`, content) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			b.Name, b.Version, b.Digest, b.Size, b.Description, nanos(createdAt), nonNil(b.Content))
		inserted = err == nil
		return err
	})
	if err != nil {
		return sqlstore.Wrap(err, "create blueprint %s", b.Ref())
	}
	if inserted {
		b.CreatedAt = createdAt
	}
	return nil
}

// GetBundle returns name@version without its content, or ENOTFOUND.
func (s *Store) GetBundle(ctx context.Context, name, version string) (*stamp.Bundle, error) {
	b, err := scanBundle(s.read.QueryRowContext(ctx, selectBundles+` WHERE b.name = ? AND b.version = ?`, name, version))
	if errors.Is(err, sql.ErrNoRows) {
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
	bs, err := queryAll(ctx, s.read, scanBundle, selectBundles+` ORDER BY b.name, b.created_at, b.rowid`)
	if err != nil {
		return nil, fmt.Errorf("list blueprints: %w", err)
	}
	return bs, nil
}

// BundleContent returns the archive whose sha256 is digest, or ENOTFOUND.
func (s *Store) BundleContent(ctx context.Context, digest string) ([]byte, error) {
	var content []byte
	err := s.read.QueryRowContext(ctx, `SELECT content FROM bundles WHERE digest = ? LIMIT 1`, digest).Scan(&content)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sqlstore.DigestNotFound(digest)
	}
	if err != nil {
		return nil, fmt.Errorf("read blueprint content %s: %w", digest, err)
	}
	return content, nil
}

// SetYanked yanks name@version or unyanks it, appending events with the
// change; see stamp.BundleStore.
func (s *Store) SetYanked(ctx context.Context, name, version string, yanked bool, reason string, events ...*stamp.Event) (*stamp.Bundle, bool, error) {
	at := now()
	var b *stamp.Bundle
	var seqs []int64
	changed := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		b, err = scanBundle(tx.QueryRowContext(ctx, selectBundles+` WHERE b.name = ? AND b.version = ?`, name, version))
		if errors.Is(err, sql.ErrNoRows) {
			return sqlstore.BundleNotFound(name, version)
		}
		if err != nil || b.Yanked == yanked {
			return err
		}
		if yanked {
			_, err = tx.ExecContext(ctx, `INSERT INTO bundle_yanks (name, version, yanked_at, reason) VALUES (?, ?, ?, ?)`, name, version, nanos(at), reason)
			b.Yanked, b.YankedAt, b.YankReason = true, at, reason
		} else {
			_, err = tx.ExecContext(ctx, `DELETE FROM bundle_yanks WHERE name = ? AND version = ?`, name, version)
			b.Yanked, b.YankedAt, b.YankReason = false, time.Time{}, ""
		}
		if err != nil {
			return err
		}
		changed = true
		seqs, err = insertEvents(ctx, tx, at, events)
		return err
	})
	if err != nil {
		return nil, false, sqlstore.Wrap(err, "set yank of blueprint %s@%s", name, version)
	}
	if changed {
		numberEvents(events, seqs, at)
	}
	return b, changed, nil
}

func scanBundle(sc scanner) (*stamp.Bundle, error) {
	var b stamp.Bundle
	var createdAt int64
	var yankedAt sql.NullInt64
	var reason sql.NullString
	if err := sc.Scan(&b.Name, &b.Version, &b.Digest, &b.Size, &b.Description, &createdAt, &yankedAt, &reason); err != nil {
		return nil, err
	}
	b.CreatedAt = fromNanos(createdAt)
	if yankedAt.Valid {
		b.Yanked, b.YankedAt, b.YankReason = true, fromNanos(yankedAt.Int64), reason.String
	}
	return &b, nil
}

// nonNil returns p, or an empty slice for nil: a nil []byte binds as NULL.
func nonNil(p []byte) []byte {
	if p == nil {
		return []byte{}
	}
	return p
}
