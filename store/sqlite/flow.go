package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/stamphq/stamp"
)

// FlowIndexed returns the Seq of the last event read into the flow
// index.
func (s *Store) FlowIndexed(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.read.QueryRowContext(ctx, `SELECT seq FROM flow_index WHERE id = 1`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("read the flow index's position: %w", err)
	}
	return seq, nil
}

// SaveFlowRuns writes runs and moves the flow index from from to to, or
// returns ECONFLICT if it is no longer at from.
func (s *Store) SaveFlowRuns(ctx context.Context, from, to int64, runs []*stamp.FlowRun) error {
	err := s.inTx(stamp.WithoutPendingAudit(ctx), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE flow_index SET seq = ? WHERE id = 1 AND seq = ?`, to, from)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return stamp.Errorf(stamp.ECONFLICT, "the flow index is no longer at event %d: another server moved it", from)
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO flow_runs (kind, begin_seq, tenant, start, state, lead, steps)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (kind, begin_seq) DO UPDATE SET state = excluded.state, lead = excluded.lead, steps = excluded.steps`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, r := range runs {
			if _, err := stmt.ExecContext(ctx, r.Kind, r.BeginSeq, r.Tenant, nanos(r.Start), r.State, int64(r.Lead), nonNil(r.Steps)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save %d flow runs up to event %d: %w", len(runs), to, err)
	}
	return nil
}

// EachFlowRun calls fn with each run f selects.
func (s *Store) EachFlowRun(ctx context.Context, f stamp.FlowRunFilter, fn func(*stamp.FlowRun) error) error {
	var where []string
	var args []any
	if f.Open {
		where = append(where, `state = '`+stamp.FlowInProgress+`'`)
	}
	if !f.Since.IsZero() {
		where = append(where, `start >= ?`)
		args = append(args, nanos(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, `start < ?`)
		args = append(args, nanos(f.Until))
	}
	query := `SELECT kind, begin_seq, tenant, start, state, lead, steps FROM flow_runs`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("read flow runs: %w", err)
	}
	defer rows.Close()
	var r stamp.FlowRun
	var start, lead int64
	var steps sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&r.Kind, &r.BeginSeq, &r.Tenant, &start, &r.State, &lead, &steps); err != nil {
			return fmt.Errorf("read flow runs: %w", err)
		}
		r.Start, r.Lead, r.Steps = fromNanos(start), time.Duration(lead), steps
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read flow runs: %w", err)
	}
	return nil
}
