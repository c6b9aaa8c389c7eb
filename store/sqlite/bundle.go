package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/stamphq/stamp"
)

// bundleColumns are the columns of a bundle without its content.
const bundleColumns = `name, version, digest, size, description, created_at`

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
			return stamp.Errorf(stamp.ECONFLICT, "blueprint %s already exists with different content (stored %s, pushed %s)", b.Ref(), stored, b.Digest)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO bundles (`+bundleColumns+`, content) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			b.Name, b.Version, b.Digest, b.Size, b.Description, nanos(createdAt), nonNil(b.Content))
		inserted = err == nil
		return err
	})
	if err != nil {
		return wrap(err, "create blueprint %s", b.Ref())
	}
	if inserted {
		b.CreatedAt = createdAt
	}
	return nil
}

// GetBundle returns name@version without its content, or ENOTFOUND.
func (s *Store) GetBundle(ctx context.Context, name, version string) (*stamp.Bundle, error) {
	b, err := scanBundle(s.read.QueryRowContext(ctx, `SELECT `+bundleColumns+` FROM bundles WHERE name = ? AND version = ?`, name, version))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, stamp.Errorf(stamp.ENOTFOUND, "blueprint %s@%s does not exist", name, version)
	}
	if err != nil {
		return nil, fmt.Errorf("get blueprint %s@%s: %w", name, version, err)
	}
	return b, nil
}

// ListBundles returns every bundle without content, ordered by name and
// creation time (then by order of creation, for equal times).
func (s *Store) ListBundles(ctx context.Context) ([]*stamp.Bundle, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+bundleColumns+` FROM bundles ORDER BY name, created_at, rowid`)
	if err != nil {
		return nil, fmt.Errorf("list blueprints: %w", err)
	}
	defer rows.Close()
	var bs []*stamp.Bundle
	for rows.Next() {
		b, err := scanBundle(rows)
		if err != nil {
			return nil, fmt.Errorf("list blueprints: %w", err)
		}
		bs = append(bs, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list blueprints: %w", err)
	}
	return bs, nil
}

// BundleContent returns the archive whose sha256 is digest, or ENOTFOUND.
func (s *Store) BundleContent(ctx context.Context, digest string) ([]byte, error) {
	var content []byte
	err := s.read.QueryRowContext(ctx, `SELECT content FROM bundles WHERE digest = ? LIMIT 1`, digest).Scan(&content)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, stamp.Errorf(stamp.ENOTFOUND, "no blueprint has digest %s", digest)
	}
	if err != nil {
		return nil, fmt.Errorf("read blueprint content %s: %w", digest, err)
	}
	return content, nil
}

func scanBundle(sc scanner) (*stamp.Bundle, error) {
	var b stamp.Bundle
	var createdAt int64
	if err := sc.Scan(&b.Name, &b.Version, &b.Digest, &b.Size, &b.Description, &createdAt); err != nil {
		return nil, err
	}
	b.CreatedAt = fromNanos(createdAt)
	return &b, nil
}

// nonNil returns p, or an empty slice for nil: a nil []byte binds as NULL.
func nonNil(p []byte) []byte {
	if p == nil {
		return []byte{}
	}
	return p
}
