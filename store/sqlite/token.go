package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/internal/sqlstore"
)

// CreateToken stores a token, setting CreatedAt if it is zero; a duplicate
// ID or hash is ECONFLICT.
func (s *Store) CreateToken(ctx context.Context, t *stamp.Token) error {
	createdAt := t.CreatedAt
	if createdAt.IsZero() {
		createdAt = now()
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var id string
		err := tx.QueryRowContext(ctx, `SELECT id FROM tokens WHERE id = ? OR hash = ? ORDER BY id = ? DESC LIMIT 1`, t.ID, t.Hash, t.ID).Scan(&id)
		switch {
		case err == nil && id == t.ID:
			return sqlstore.Tokens.Exists(t.ID)
		case err == nil:
			return sqlstore.SecretTaken(t.ID)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO tokens (id, name, hash, created_at) VALUES (?, ?, ?, ?)`,
			t.ID, t.Name, t.Hash, nanos(createdAt))
		return err
	})
	if err != nil {
		return sqlstore.Wrap(err, "create token %q", t.ID)
	}
	t.CreatedAt = createdAt
	return nil
}

// TokenByHash returns the token whose Hash is hash, or ENOTFOUND.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*stamp.Token, error) {
	var t stamp.Token
	var createdAt int64
	err := s.read.QueryRowContext(ctx, `SELECT id, name, hash, created_at FROM tokens WHERE hash = ?`, hash).
		Scan(&t.ID, &t.Name, &t.Hash, &createdAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sqlstore.TokenNotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("find token by hash: %w", err)
	}
	t.CreatedAt = fromNanos(createdAt)
	return &t, nil
}
