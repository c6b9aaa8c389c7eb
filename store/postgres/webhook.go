package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/internal/sqlstore"
)

// webhookColumns are the columns scanWebhook reads, in its order.
const webhookColumns = `id, webhook, resource_version, created_at, updated_at`

// CreateWebhook stores a new webhook, setting ResourceVersion to 1 and both
// timestamps (the database's clock) on w. An existing ID is ECONFLICT.
func (s *Store) CreateWebhook(ctx context.Context, w *stamp.Webhook) error {
	body, err := sqlstore.MarshalWebhook(w)
	if err != nil {
		return fmt.Errorf("create webhook %q: %w", w.ID, err)
	}
	var at time.Time
	err = s.write(ctx, func(q writer) error {
		return q.QueryRow(ctx, `INSERT INTO webhooks (`+webhookColumns+`) VALUES ($1, $2, 1, now(), now())
			RETURNING created_at`, w.ID, body).Scan(&at)
	})
	if isUniqueViolation(err, "webhooks_pkey") {
		return sqlstore.Webhooks.Exists(w.ID)
	}
	if err != nil {
		return fmt.Errorf("create webhook %q: %w", w.ID, err)
	}
	w.ResourceVersion = 1
	w.CreatedAt, w.UpdatedAt = at, at
	return nil
}

// GetWebhook returns the webhook, Secret included, or ENOTFOUND.
func (s *Store) GetWebhook(ctx context.Context, id string) (*stamp.Webhook, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id = $1`, id)
	return getOne(rows, scanWebhook, sqlstore.Webhooks, id)
}

// ListWebhooks returns every webhook, Secret included, oldest first (then
// by order of creation, for equal times).
func (s *Store) ListWebhooks(ctx context.Context) ([]*stamp.Webhook, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+webhookColumns+` FROM webhooks ORDER BY created_at, seq`)
	ws, err := pgx.CollectRows(rows, scanWebhook)
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
	var at time.Time
	err = s.write(ctx, func(q writer) error {
		return q.QueryRow(ctx, `UPDATE webhooks
			SET webhook = $1, resource_version = resource_version + 1, updated_at = now()
			WHERE id = $2 AND resource_version = $3
			RETURNING updated_at`,
			body, w.ID, w.ResourceVersion).Scan(&at)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		err = s.explainVersion(ctx, sqlstore.Webhooks, w.ID, w.ResourceVersion)
	}
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
	var tag pgconn.CommandTag
	err := s.write(ctx, func(q writer) (err error) {
		tag, err = q.Exec(ctx, `DELETE FROM webhooks WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete webhook %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return sqlstore.Webhooks.NotFound(id)
	}
	return nil
}

// AppendDeliveryAttempt records one attempt of a webhook's delivery,
// setting At to the database's clock if it is zero. Attempts belong to a
// stored webhook and are deleted with it, so a missing webhook is
// ENOTFOUND rather than a home for orphans. Error is stored as events'
// text is (see AppendEvents): it may quote what the endpoint answered.
func (s *Store) AppendDeliveryAttempt(ctx context.Context, a *stamp.DeliveryAttempt) error {
	var at time.Time
	err := s.pool.QueryRow(ctx, `INSERT INTO webhook_attempts
		(webhook, event_seq, audit_seq, attempt, at, status, error, duration_ns) VALUES ($1, $2, $3, $4, coalesce($5, now()), $6, $7, $8)
		RETURNING at`,
		a.Webhook, a.EventSeq, a.AuditSeq, a.Attempt, optionalTime(a.At), a.Status, text(a.Error), int64(a.Duration)).Scan(&at)
	if isForeignKeyViolation(err) {
		err = sqlstore.Webhooks.NotFound(a.Webhook)
	}
	if err != nil {
		return sqlstore.Wrap(err, "append delivery attempt of webhook %q", a.Webhook)
	}
	if a.At.IsZero() {
		a.At = at
	}
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
	rows, _ := s.pool.Query(ctx, `SELECT event_seq, audit_seq, attempt, at, status, error, duration_ns
		FROM webhook_attempts WHERE webhook = $1 ORDER BY seq DESC LIMIT $2`, webhook, limit)
	as, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*stamp.DeliveryAttempt, error) {
		a := stamp.DeliveryAttempt{Webhook: webhook}
		var duration int64
		err := row.Scan(&a.EventSeq, &a.AuditSeq, &a.Attempt, &a.At, &a.Status, &a.Error, &duration)
		a.Duration = time.Duration(duration)
		return &a, err
	})
	if err != nil {
		return nil, fmt.Errorf("list delivery attempts of webhook %q: %w", webhook, err)
	}
	return as, nil
}

func scanWebhook(row pgx.CollectableRow) (*stamp.Webhook, error) {
	var id string
	var body []byte
	var version int64
	var createdAt, updatedAt time.Time
	if err := row.Scan(&id, &body, &version, &createdAt, &updatedAt); err != nil {
		return nil, err
	}
	var w stamp.Webhook
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("decode webhook %q: %w", id, err)
	}
	sqlstore.WebhookUTC(&w)
	w.ResourceVersion, w.CreatedAt, w.UpdatedAt = version, createdAt, updatedAt
	return &w, nil
}
