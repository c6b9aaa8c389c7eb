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

const tokenColumns = `id, name, hash, role, tenant, created_at, expires_at, revoked_at`

// CreateToken stores a token, setting CreatedAt if it is zero; a duplicate
// ID or hash, or the name of a token not revoked, is ECONFLICT.
func (s *Store) CreateToken(ctx context.Context, t *stamp.Token) error {
	if _, err := stamp.ParseRole(string(t.Role)); err != nil {
		return fmt.Errorf("create token %q: %w", t.ID, err)
	}
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
		err = tx.QueryRowContext(ctx, `SELECT id FROM tokens WHERE name = ? AND revoked_at IS NULL LIMIT 1`, t.Name).Scan(&id)
		switch {
		case err == nil:
			return sqlstore.TokenNameTaken(t.Name)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO tokens (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			t.ID, t.Name, t.Hash, string(t.Role), t.Tenant, nanos(createdAt), optionalNanos(t.ExpiresAt), optionalNanos(t.RevokedAt))
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
	t, err := scanToken(s.read.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sqlstore.TokenNotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("find token by hash: %w", err)
	}
	return t, nil
}

// ListTokens returns every token, oldest first.
func (s *Store) ListTokens(ctx context.Context) ([]*stamp.Token, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []*stamp.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// RevokeToken revokes the token ref names (see stamp.TokenStore).
func (s *Store) RevokeToken(ctx context.Context, ref string, at time.Time) (*stamp.Token, error) {
	var revoked *stamp.Token
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens
			WHERE revoked_at IS NULL AND (id = ? OR name = ?) ORDER BY id = ? DESC, id`, ref, ref, ref)
		if err != nil {
			return err
		}
		var found []*stamp.Token
		for rows.Next() {
			t, err := scanToken(rows)
			if err != nil {
				rows.Close()
				return err
			}
			found = append(found, t)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		t, err := sqlstore.OneToken(ref, found)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ? WHERE id = ?`, nanos(at), t.ID); err != nil {
			return err
		}
		t.RevokedAt = fromNanos(nanos(at))
		revoked = t
		return nil
	})
	if err != nil {
		return nil, sqlstore.Wrap(err, "revoke token %q", ref)
	}
	s.revoked.fire()
	return revoked, nil
}

var _ stamp.TokenWatcher = (*Store)(nil)

// WatchTokens calls f after every revocation through this Store (see
// stamp.TokenWatcher); it always watches.
func (s *Store) WatchTokens(ctx context.Context, f func(watching bool)) error {
	return s.revoked.watch(ctx, f)
}

// scanToken reads one row of tokenColumns.
func scanToken(row interface{ Scan(...any) error }) (*stamp.Token, error) {
	var t stamp.Token
	var role string
	var createdAt int64
	var expiresAt, revokedAt sql.NullInt64
	if err := row.Scan(&t.ID, &t.Name, &t.Hash, &role, &t.Tenant, &createdAt, &expiresAt, &revokedAt); err != nil {
		return nil, err
	}
	t.Role = stamp.Role(role)
	t.CreatedAt = fromNanos(createdAt)
	t.ExpiresAt, t.RevokedAt = fromOptionalNanos(expiresAt), fromOptionalNanos(revokedAt)
	return &t, nil
}
