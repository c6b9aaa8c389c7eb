package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/internal/sqlstore"
)

const pipelineColumns = `blueprint, version, commit_id, stage, status, started_at, finished_at, recorded_at`

// AppendPipelineEvent appends e, setting Seq (and RecordedAt if zero).
func (s *Store) AppendPipelineEvent(ctx context.Context, e *stamp.PipelineEvent) error {
	at := e.RecordedAt
	if at.IsZero() {
		at = now()
	}
	var seq int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO pipeline_events (`+pipelineColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			e.Blueprint, e.Version, e.Commit, e.Stage, e.Status, nanos(e.StartedAt), nanos(e.FinishedAt), nanos(at))
		if err != nil {
			return err
		}
		seq, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return fmt.Errorf("append pipeline event %s of %s@%s: %w", e.Stage, e.Blueprint, e.Version, err)
	}
	e.Seq, e.RecordedAt = seq, at
	return nil
}

// ListPipelineEvents returns the events f selects, oldest first.
func (s *Store) ListPipelineEvents(ctx context.Context, f stamp.PipelineFilter) ([]*stamp.PipelineEvent, error) {
	limit, err := sqlstore.PipelineLimit.Of(f.Limit)
	if err != nil {
		return nil, err
	}
	query := `SELECT seq, ` + pipelineColumns + ` FROM pipeline_events WHERE seq > ?`
	args := []any{f.AfterSeq}
	if !f.Since.IsZero() {
		query += ` AND finished_at >= ?`
		args = append(args, nanos(f.Since))
	}
	if f.Blueprints != nil {
		names, err := json.Marshal(f.Blueprints)
		if err != nil {
			return nil, err
		}
		query += ` AND blueprint IN (SELECT value FROM json_each(?))`
		args = append(args, string(names))
	}
	query += ` ORDER BY seq LIMIT ?`
	args = append(args, limit)
	out, err := queryAll(ctx, s.read, scanPipelineEvent, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list pipeline events: %w", err)
	}
	return out, nil
}

func scanPipelineEvent(sc scanner) (*stamp.PipelineEvent, error) {
	var e stamp.PipelineEvent
	var started, finished, recorded int64
	if err := sc.Scan(&e.Seq, &e.Blueprint, &e.Version, &e.Commit, &e.Stage, &e.Status, &started, &finished, &recorded); err != nil {
		return nil, err
	}
	e.StartedAt, e.FinishedAt, e.RecordedAt = fromNanos(started), fromNanos(finished), fromNanos(recorded)
	return &e, nil
}
