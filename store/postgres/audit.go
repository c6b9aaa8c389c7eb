package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/internal/sqlstore"
)

const (
	auditColumns = `at, token_id, token_name, role, token_tenant, action, resource, tenant, remote, request_id, status, outcome, error`
	insertAudit  = `INSERT INTO audit (` + auditColumns + `) VALUES (coalesce($1, now()), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		RETURNING seq, at`
)

// auditArgs are the arguments of insertAudit for rec.
func auditArgs(rec *stamp.AuditRecord) []any {
	return []any{optionalTime(rec.At), text(rec.TokenID), text(rec.TokenName), text(string(rec.Role)), text(rec.TokenTenant),
		text(rec.Action), text(rec.Resource), text(rec.Tenant), text(rec.Remote), text(rec.RequestID), rec.Status, text(rec.Outcome), text(rec.Error)}
}

// AppendAudit appends rec, setting Seq (and At, the database's clock, if
// zero).
func (s *Store) AppendAudit(ctx context.Context, rec *stamp.AuditRecord) error {
	var at time.Time
	// Under the append lock, as every audit record (see inTx).
	err := s.appendInTx(stamp.WithoutPendingAudit(ctx), func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, insertAudit, auditArgs(rec)...).Scan(&rec.Seq, &at)
	})
	if err != nil {
		return fmt.Errorf("append audit record of %s: %w", rec.Action, err)
	}
	rec.At = at
	return nil
}

// ListAudit returns the records f selects, oldest first.
func (s *Store) ListAudit(ctx context.Context, f stamp.AuditFilter) ([]*stamp.AuditRecord, error) {
	limit, err := sqlstore.AuditLimit.Of(f.Limit)
	if err != nil {
		return nil, err
	}
	query := `SELECT seq, ` + auditColumns + ` FROM audit WHERE seq > $1`
	args := []any{f.AfterSeq, limit}
	if f.Tenant != "" {
		args = append(args, f.Tenant)
		query += fmt.Sprintf(` AND tenant = $%d`, len(args))
	}
	if f.Token != "" {
		args = append(args, f.Token)
		query += fmt.Sprintf(` AND (token_name = $%d OR token_id = $%d)`, len(args), len(args))
	}
	if !f.Since.IsZero() {
		args = append(args, f.Since)
		query += fmt.Sprintf(` AND at >= $%d`, len(args))
	}
	query += ` ORDER BY seq LIMIT $2`
	rows, _ := s.pool.Query(ctx, query, args...)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*stamp.AuditRecord, error) {
		var r stamp.AuditRecord
		var role string
		err := row.Scan(&r.Seq, &r.At, &r.TokenID, &r.TokenName, &role, &r.TokenTenant, &r.Action, &r.Resource, &r.Tenant,
			&r.Remote, &r.RequestID, &r.Status, &r.Outcome, &r.Error)
		r.Role = stamp.Role(role)
		return &r, err
	})
	if err != nil {
		return nil, fmt.Errorf("list audit records: %w", err)
	}
	return out, nil
}

// LastAuditSeq returns the highest Seq appended, 0 if none.
func (s *Store) LastAuditSeq(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM audit`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("last audit seq: %w", err)
	}
	return seq, nil
}

// writer runs statements, on the pool or in a transaction.
type writer interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// write runs fn, a write without events, on the pool; within an API call
// whose audit record no write took yet, in a transaction with the record
// (see stamp.WithPendingAudit), so that the change and its record are
// kept or lost together.
func (s *Store) write(ctx context.Context, fn func(writer) error) error {
	if stamp.PendingAuditIn(ctx) {
		return s.inTx(ctx, func(tx pgx.Tx) error { return fn(tx) })
	}
	return fn(s.pool)
}

// inTx runs fn in a transaction, with the pending audit record of the API
// call ctx belongs to, if any. The record goes in last, under the event
// log's append lock (see AppendEvents), so that records commit in the
// order of their Seq, which webhooks deliver them by.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	audit := stamp.ClaimAudit(ctx)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := fn(tx); err != nil || audit == nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, appendLockKey); err != nil {
			return err
		}
		rec := audit.Record()
		rec.At = time.Now()
		if _, err := tx.Exec(ctx, insertAudit, auditArgs(rec)...); err != nil {
			return fmt.Errorf("append audit record: %w", err)
		}
		return nil
	})
	if audit != nil {
		audit.Settle(err == nil)
	}
	return err
}
