package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stamphq/stamp"
)

// FlowIndexed returns the Seq of the last event read into the flow
// index.
func (s *Store) FlowIndexed(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.pool.QueryRow(ctx, `SELECT seq FROM flow_index WHERE id = 1`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("read the flow index's position: %w", err)
	}
	return seq, nil
}

// SaveFlowRuns writes runs and moves the flow index from from to to, or
// returns ECONFLICT if it is no longer at from.
func (s *Store) SaveFlowRuns(ctx context.Context, from, to int64, runs []*stamp.FlowRun) error {
	err := s.inTx(stamp.WithoutPendingAudit(ctx), func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE flow_index SET seq = $1 WHERE id = 1 AND seq = $2`, to, from)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return stamp.Errorf(stamp.ECONFLICT, "the flow index is no longer at event %d: another server moved it", from)
		}
		b := &pgx.Batch{}
		for _, r := range runs {
			b.Queue(`INSERT INTO flow_runs (kind, begin_seq, tenant, start, state, lead, steps)
				VALUES ($1, $2, $3, $4, $5, $6, $7)
				ON CONFLICT (kind, begin_seq) DO UPDATE SET state = excluded.state, lead = excluded.lead, steps = excluded.steps`,
				r.Kind, r.BeginSeq, text(r.Tenant), r.Start, r.State, int64(r.Lead), nonNil(r.Steps))
		}
		return tx.SendBatch(ctx, b).Close()
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
		args = append(args, f.Since)
		where = append(where, fmt.Sprintf(`start >= $%d`, len(args)))
	}
	if !f.Until.IsZero() {
		args = append(args, f.Until)
		where = append(where, fmt.Sprintf(`start < $%d`, len(args)))
	}
	query := `SELECT kind, begin_seq, tenant, start, state, lead, steps FROM flow_runs`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("read flow runs: %w", err)
	}
	defer rows.Close()
	var r stamp.FlowRun
	var lead int64
	var steps pgtype.DriverBytes // the row's own bytes, valid until the next row
	for rows.Next() {
		if err := rows.Scan(&r.Kind, &r.BeginSeq, &r.Tenant, &r.Start, &r.State, &lead, &steps); err != nil {
			return fmt.Errorf("read flow runs: %w", err)
		}
		r.Lead, r.Steps = time.Duration(lead), steps
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read flow runs: %w", err)
	}
	return nil
}

// nonNil is b, or an empty slice for nil, which the driver would write
// as NULL: a run without steps has an empty list of them.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
