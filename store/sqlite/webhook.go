package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/internal/sqlstore"
)

// webhookColumns are the columns scanWebhook reads, in its order.
const webhookColumns = `id, webhook, resource_version, created_at, updated_at`

// listAttemptsSQL reads a webhook's newest attempts; a test checks that
// SQLite plans it as a search of webhook_attempts_webhook_seq, without
// sorting.
const listAttemptsSQL = `SELECT event_seq, audit_seq, attempt, at, status, error, duration_ns
	FROM webhook_attempts WHERE webhook = ? ORDER BY seq DESC LIMIT ?`

// CreateWebhook stores a new webhook, setting ResourceVersion to 1 and both
// timestamps on w. An existing ID is ECONFLICT.
func (s *Store) CreateWebhook(ctx context.Context, w *stamp.Webhook) error {
	body, err := sqlstore.MarshalWebhook(w)
	if err != nil {
		return fmt.Errorf("create webhook %q: %w", w.ID, err)
	}
	at := now()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO webhooks (`+webhookColumns+`) VALUES (?, ?, 1, ?, ?)
			ON CONFLICT (id) DO NOTHING`,
			w.ID, string(body), nanos(at), nanos(at))
		if err != nil {
			return err
		}
		return created(res, sqlstore.Webhooks, w.ID)
	})
	if err != nil {
		return sqlstore.Wrap(err, "create webhook %q", w.ID)
	}
	w.ResourceVersion = 1
	w.CreatedAt, w.UpdatedAt = at, at
	return nil
}

// GetWebhook returns the webhook, Secret included, or ENOTFOUND.
func (s *Store) GetWebhook(ctx context.Context, id string) (*stamp.Webhook, error) {
	return getOne(s.read.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id = ?`, id), scanWebhook, sqlstore.Webhooks, id)
}

// ListWebhooks returns every webhook, Secret included, oldest first (then
// by order of creation, for equal times).
func (s *Store) ListWebhooks(ctx context.Context) ([]*stamp.Webhook, error) {
	ws, err := queryAll(ctx, s.read, scanWebhook, `SELECT `+webhookColumns+` FROM webhooks ORDER BY created_at, rowid`)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return ws, nil
}

// UpdateWebhook writes w if w.ResourceVersion is the stored one, then
// increments w.ResourceVersion and sets UpdatedAt. A stale version is
// ECONFLICT; a missing webhook is ENOTFOUND. CreatedAt is never rewritten.
func (s *Store) UpdateWebhook(ctx context.Context, w *stamp.Webhook) error {
	body, err := sqlstore.MarshalWebhook(w)
	if err != nil {
		return fmt.Errorf("update webhook %q: %w", w.ID, err)
	}
	at := now()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhooks
			SET webhook = ?, resource_version = resource_version + 1, updated_at = ?
			WHERE id = ? AND resource_version = ?`,
			string(body), nanos(at), w.ID, w.ResourceVersion)
		if err != nil {
			return err
		}
		return checkVersion(ctx, tx, sqlstore.Webhooks, res, w.ID, w.ResourceVersion)
	})
	if err != nil {
		return sqlstore.Wrap(err, "update webhook %q", w.ID)
	}
	w.ResourceVersion++
	w.UpdatedAt = at
	return nil
}

// DeleteWebhook removes the webhook and its delivery attempts; a missing
// webhook is ENOTFOUND.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	// Attempts go with the row: ON DELETE CASCADE.
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhooks WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return sqlstore.Webhooks.NotFound(id)
		}
		return nil
	})
	if err != nil {
		return sqlstore.Wrap(err, "delete webhook %q", id)
	}
	return nil
}

// AppendDeliveryAttempt records one attempt of a webhook's delivery,
// setting At to the store's clock if it is zero. Attempts belong to a
// stored webhook and are deleted with it, so a missing webhook is
// ENOTFOUND rather than a home for orphans.
func (s *Store) AppendDeliveryAttempt(ctx context.Context, a *stamp.DeliveryAttempt) error {
	at := a.At
	if at.IsZero() {
		at = now()
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM webhooks WHERE id = ?`, a.Webhook).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return sqlstore.Webhooks.NotFound(a.Webhook)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO webhook_attempts
			(webhook, event_seq, audit_seq, attempt, at, status, error, duration_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			a.Webhook, a.EventSeq, a.AuditSeq, a.Attempt, nanos(at), a.Status, a.Error, int64(a.Duration))
		return err
	})
	if err != nil {
		return sqlstore.Wrap(err, "append delivery attempt of webhook %q", a.Webhook)
	}
	a.At = at
	return nil
}

// ListDeliveryAttempts returns the webhook's attempts, newest (last
// appended) first; none, not an error, for a webhook that does not exist.
// A zero limit means sqlstore.AttemptLimit's default; a larger one than
// its max is lowered to it; a negative one is EINVALID.
func (s *Store) ListDeliveryAttempts(ctx context.Context, webhook string, limit int) ([]*stamp.DeliveryAttempt, error) {
	limit, err := sqlstore.AttemptLimit.Of(limit)
	if err != nil {
		return nil, err
	}
	as, err := queryAll(ctx, s.read, func(sc scanner) (*stamp.DeliveryAttempt, error) {
		a := stamp.DeliveryAttempt{Webhook: webhook}
		var at, duration int64
		err := sc.Scan(&a.EventSeq, &a.AuditSeq, &a.Attempt, &at, &a.Status, &a.Error, &duration)
		a.At, a.Duration = fromNanos(at), time.Duration(duration)
		return &a, err
	}, listAttemptsSQL, webhook, limit)
	if err != nil {
		return nil, fmt.Errorf("list delivery attempts of webhook %q: %w", webhook, err)
	}
	return as, nil
}

func scanWebhook(sc scanner) (*stamp.Webhook, error) {
	var id string
	var body []byte
	var version, createdAt, updatedAt int64
	if err := sc.Scan(&id, &body, &version, &createdAt, &updatedAt); err != nil {
		return nil, err
	}
	var w stamp.Webhook
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("decode webhook %q: %w", id, err)
	}
	sqlstore.WebhookUTC(&w)
	w.ResourceVersion, w.CreatedAt, w.UpdatedAt = version, fromNanos(createdAt), fromNanos(updatedAt)
	return &w, nil
}
