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

const tokenColumns = `id, name, hash, role, tenant, created_at, expires_at, revoked_at`

// CreateToken stores a token, setting CreatedAt (the database's clock) if
// it is zero; a duplicate ID or hash, or the name of a token not revoked,
// is ECONFLICT.
func (s *Store) CreateToken(ctx context.Context, t *stamp.Token) error {
	if _, err := stamp.ParseRole(string(t.Role)); err != nil {
		return fmt.Errorf("create token %q: %w", t.ID, err)
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// Two creates of one name must not both pass the check below.
		if _, err := tx.Exec(ctx, `LOCK TABLE tokens IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		var id string
		err := tx.QueryRow(ctx, `SELECT id FROM tokens WHERE id = $1 OR hash = $2 ORDER BY id = $1 DESC LIMIT 1`, t.ID, t.Hash).Scan(&id)
		switch {
		case err == nil && id == t.ID:
			return sqlstore.Tokens.Exists(t.ID)
		case err == nil:
			return sqlstore.SecretTaken(t.ID)
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		err = tx.QueryRow(ctx, `SELECT id FROM tokens WHERE name = $1 AND revoked_at IS NULL LIMIT 1`, t.Name).Scan(&id)
		switch {
		case err == nil:
			return sqlstore.TokenNameTaken(t.Name)
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO tokens (`+tokenColumns+`) VALUES ($1, $2, $3, $4, $5, coalesce($6, now()), $7, $8)
			RETURNING created_at`, t.ID, t.Name, t.Hash, string(t.Role), t.Tenant,
			optionalTime(t.CreatedAt), optionalTime(t.ExpiresAt), optionalTime(t.RevokedAt)).Scan(&t.CreatedAt)
	})
	if err != nil {
		return sqlstore.Wrap(err, "create token %q", t.ID)
	}
	return nil
}

// TokenByHash returns the token whose Hash is hash, or ENOTFOUND.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*stamp.Token, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, sqlstore.TokenNotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("find token by hash: %w", err)
	}
	return t, nil
}

// ListTokens returns every token, oldest first.
func (s *Store) ListTokens(ctx context.Context) ([]*stamp.Token, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tokenColumns+` FROM tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*stamp.Token, error) { return scanToken(row) })
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// RevokeToken revokes the token ref names (see stamp.TokenStore).
func (s *Store) RevokeToken(ctx context.Context, ref string, at time.Time) (*stamp.Token, error) {
	var revoked *stamp.Token
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+tokenColumns+` FROM tokens
			WHERE revoked_at IS NULL AND (id = $1 OR name = $1) ORDER BY id = $1 DESC, id FOR UPDATE`, ref)
		if err != nil {
			return err
		}
		found, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*stamp.Token, error) { return scanToken(row) })
		if err != nil {
			return err
		}
		t, err := sqlstore.OneToken(ref, found)
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `UPDATE tokens SET revoked_at = $2 WHERE id = $1 RETURNING revoked_at`, t.ID, at).Scan(&t.RevokedAt); err != nil {
			return err
		}
		// Delivered to every listener (see WatchTokens) at commit.
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, tokensChannel, t.ID); err != nil {
			return err
		}
		revoked = t
		return nil
	})
	if err != nil {
		return nil, sqlstore.Wrap(err, "revoke token %q", ref)
	}
	return revoked, nil
}

// scanToken reads one row of tokenColumns.
func scanToken(row pgx.Row) (*stamp.Token, error) {
	var t stamp.Token
	var role string
	var expiresAt, revokedAt *time.Time
	if err := row.Scan(&t.ID, &t.Name, &t.Hash, &role, &t.Tenant, &t.CreatedAt, &expiresAt, &revokedAt); err != nil {
		return nil, err
	}
	t.Role = stamp.Role(role)
	t.ExpiresAt, t.RevokedAt = fromOptional(expiresAt), fromOptional(revokedAt)
	return &t, nil
}

// tokensChannel is the channel RevokeToken notifies and WatchTokens
// listens on.
const tokensChannel = "stamp_tokens"

var _ stamp.TokenWatcher = (*Store)(nil)

// WatchTokens listens for revocations on a connection of its own (see
// stamp.TokenWatcher): f(true) once it listens and after each one,
// f(false) when the connection is lost, and it connects again a second
// later, until ctx ends.
func (s *Store) WatchTokens(ctx context.Context, f func(watching bool)) error {
	for {
		s.listenTokens(ctx, f) // it ends only when its connection does
		f(false)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// listenTokens listens on tokensChannel until its connection or ctx
// ends.
func (s *Store) listenTokens(ctx context.Context, f func(watching bool)) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig)
	if err != nil {
		return
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+tokensChannel); err != nil {
		return
	}
	f(true)
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return
		}
		f(true)
	}
}
