package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/internal/sqlstore"
)

// CreateToken stores a token, setting CreatedAt (the database's clock) if
// it is zero; a duplicate ID or hash is ECONFLICT.
func (s *Store) CreateToken(ctx context.Context, t *stamp.Token) error {
	err := s.pool.QueryRow(ctx, `INSERT INTO tokens (id, name, hash, created_at) VALUES ($1, $2, $3, coalesce($4, now()))
		RETURNING created_at`, t.ID, t.Name, t.Hash, optionalTime(t.CreatedAt)).Scan(&t.CreatedAt)
	if isUniqueViolation(err, "tokens_hash_key") {
		// A token clashing on both reports the ID, as the SQLite store does,
		// whichever index PostgreSQL happened to check first.
		var idTaken bool
		if err = s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tokens WHERE id = $1)`, t.ID).Scan(&idTaken); err == nil {
			err = sqlstore.SecretTaken(t.ID)
			if idTaken {
				err = sqlstore.Tokens.Exists(t.ID)
			}
		}
	}
	if isUniqueViolation(err, "tokens_pkey") {
		err = sqlstore.Tokens.Exists(t.ID)
	}
	if err != nil {
		return sqlstore.Wrap(err, "create token %q", t.ID)
	}
	return nil
}

// TokenByHash returns the token whose Hash is hash, or ENOTFOUND.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*stamp.Token, error) {
	var t stamp.Token
	err := s.pool.QueryRow(ctx, `SELECT id, name, hash, created_at FROM tokens WHERE hash = $1`, hash).
		Scan(&t.ID, &t.Name, &t.Hash, &t.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, sqlstore.TokenNotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("find token by hash: %w", err)
	}
	return &t, nil
}
