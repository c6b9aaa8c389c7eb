package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/stamphq/stamp"
)

// bundleColumns are the columns of a bundle without its content.
const bundleColumns = `name, version, digest, size, description, created_at`

// CreateBundle stores b (Content included) and sets CreatedAt. If
// name@version already exists with the same digest it does nothing and
// returns nil; with a different digest it returns ECONFLICT.
func (s *Store) CreateBundle(ctx context.Context, b *stamp.Bundle) error {
	// Look first so that pushing a stored bundle again does not send its
	// content; a concurrent first push is caught by the unique constraint.
	exists, err := s.sameBundle(ctx, b)
	if err != nil {
		return wrap(err, "create blueprint %s", b.Ref())
	}
	if exists {
		return nil
	}
	content := b.Content
	if content == nil {
		content = []byte{} // nil binds as NULL
	}
	err = s.pool.QueryRow(ctx, `INSERT INTO bundles (name, version, digest, size, description, created_at, content)
		VALUES ($1, $2, $3, $4, $5, now(), $6) RETURNING created_at`,
		b.Name, b.Version, b.Digest, b.Size, b.Description, content).Scan(&b.CreatedAt)
	if isUniqueViolation(err, "bundles_name_version_key") {
		_, err = s.sameBundle(ctx, b)
	}
	if err != nil {
		return wrap(err, "create blueprint %s", b.Ref())
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
		return false, stamp.Errorf(stamp.ECONFLICT, "blueprint %s already exists with different content (stored %s, pushed %s)", b.Ref(), stored, b.Digest)
	}
	return true, nil
}

// GetBundle returns name@version without its content, or ENOTFOUND.
func (s *Store) GetBundle(ctx context.Context, name, version string) (*stamp.Bundle, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+bundleColumns+` FROM bundles WHERE name = $1 AND version = $2`, name, version)
	b, err := pgx.CollectExactlyOneRow(rows, scanBundle)
	if errors.Is(err, pgx.ErrNoRows) {
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
	rows, _ := s.pool.Query(ctx, `SELECT `+bundleColumns+` FROM bundles ORDER BY name, created_at, seq`)
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
		return nil, stamp.Errorf(stamp.ENOTFOUND, "no blueprint has digest %s", digest)
	}
	if err != nil {
		return nil, fmt.Errorf("read blueprint content %s: %w", digest, err)
	}
	return content, nil
}

func scanBundle(row pgx.CollectableRow) (*stamp.Bundle, error) {
	var b stamp.Bundle
	err := row.Scan(&b.Name, &b.Version, &b.Digest, &b.Size, &b.Description, &b.CreatedAt)
	return &b, err
}
