package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/internal/sqlstore"
)

const pipelineColumns = `blueprint, version, commit_id, stage, status, started_at, finished_at, recorded_at`

// AppendPipelineEvent appends e, setting Seq (and RecordedAt, the
// database's clock, if zero).
func (s *Store) AppendPipelineEvent(ctx context.Context, e *stamp.PipelineEvent) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO pipeline_events (`+pipelineColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8, now())) RETURNING seq, recorded_at`,
			text(e.Blueprint), text(e.Version), text(e.Commit), text(e.Stage), text(e.Status), e.StartedAt, e.FinishedAt,
			optionalTime(e.RecordedAt)).Scan(&e.Seq, &e.RecordedAt)
	})
	if err != nil {
		return fmt.Errorf("append pipeline event %s of %s@%s: %w", e.Stage, e.Blueprint, e.Version, err)
	}
	return nil
}

// ListPipelineEvents returns the events f selects, oldest first.
func (s *Store) ListPipelineEvents(ctx context.Context, f stamp.PipelineFilter) ([]*stamp.PipelineEvent, error) {
	limit, err := sqlstore.PipelineLimit.Of(f.Limit)
	if err != nil {
		return nil, err
	}
	query := `SELECT seq, ` + pipelineColumns + ` FROM pipeline_events WHERE seq > $1`
	args := []any{f.AfterSeq, limit}
	if !f.Since.IsZero() {
		args = append(args, f.Since)
		query += fmt.Sprintf(` AND finished_at >= $%d`, len(args))
	}
	if f.Blueprints != nil {
		args = append(args, f.Blueprints)
		query += fmt.Sprintf(` AND blueprint = ANY($%d)`, len(args))
	}
	query += ` ORDER BY seq LIMIT $2`
	rows, _ := s.pool.Query(ctx, query, args...)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*stamp.PipelineEvent, error) {
		var e stamp.PipelineEvent
		err := row.Scan(&e.Seq, &e.Blueprint, &e.Version, &e.Commit, &e.Stage, &e.Status, &e.StartedAt, &e.FinishedAt, &e.RecordedAt)
		return &e, err
	})
	if err != nil {
		return nil, fmt.Errorf("list pipeline events: %w", err)
	}
	return out, nil
}
