package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/internal/sqlstore"
)

const auditColumns = `at, token_id, token_name, role, token_tenant, action, resource, tenant, remote, request_id, status, outcome, error`

// AppendAudit appends rec, setting Seq (and At if zero).
func (s *Store) AppendAudit(ctx context.Context, rec *stamp.AuditRecord) error {
	if rec.At.IsZero() {
		rec.At = now()
	}
	var seq int64
	err := s.inTx(stamp.WithoutPendingAudit(ctx), func(tx *sql.Tx) error {
		var err error
		seq, err = insertAudit(ctx, tx, rec)
		return err
	})
	if err != nil {
		return fmt.Errorf("append audit record of %s: %w", rec.Action, err)
	}
	rec.Seq = seq
	return nil
}

// insertAudit inserts rec in tx and returns its Seq.
func insertAudit(ctx context.Context, tx *sql.Tx, rec *stamp.AuditRecord) (int64, error) {
	at := rec.At
	if at.IsZero() {
		at = now()
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO audit (`+auditColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		nanos(at), rec.TokenID, rec.TokenName, string(rec.Role), rec.TokenTenant, rec.Action, rec.Resource, rec.Tenant,
		rec.Remote, rec.RequestID, rec.Status, rec.Outcome, rec.Error)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// ListAudit returns the records f selects, oldest first.
func (s *Store) ListAudit(ctx context.Context, f stamp.AuditFilter) ([]*stamp.AuditRecord, error) {
	limit, err := sqlstore.AuditLimit.Of(f.Limit)
	if err != nil {
		return nil, err
	}
	query := `SELECT seq, ` + auditColumns + ` FROM audit WHERE seq > ?`
	args := []any{f.AfterSeq}
	if f.Tenant != "" {
		query += ` AND tenant = ?`
		args = append(args, f.Tenant)
	}
	if f.Token != "" {
		query += ` AND (token_name = ? OR token_id = ?)`
		args = append(args, f.Token, f.Token)
	}
	if !f.Since.IsZero() {
		query += ` AND at >= ?`
		args = append(args, nanos(f.Since))
	}
	query += ` ORDER BY seq LIMIT ?`
	args = append(args, limit)
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit records: %w", err)
	}
	defer rows.Close()
	var out []*stamp.AuditRecord
	for rows.Next() {
		var r stamp.AuditRecord
		var at int64
		var role string
		if err := rows.Scan(&r.Seq, &at, &r.TokenID, &r.TokenName, &role, &r.TokenTenant, &r.Action, &r.Resource, &r.Tenant,
			&r.Remote, &r.RequestID, &r.Status, &r.Outcome, &r.Error); err != nil {
			return nil, fmt.Errorf("list audit records: %w", err)
		}
		r.At, r.Role = fromNanos(at), stamp.Role(role)
		out = append(out, &r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit records: %w", err)
	}
	return out, nil
}

// LastAuditSeq returns the highest Seq appended, 0 if none.
func (s *Store) LastAuditSeq(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.read.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM audit`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("last audit seq: %w", err)
	}
	return seq, nil
}
