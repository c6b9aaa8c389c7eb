package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/internal/sqlstore"
)

// AppendEvents appends events in order, in one transaction, assigning each
// its Seq (and Time, the same for the whole call, if zero). The structs are
// changed only once the events are committed.
func (s *Store) AppendEvents(ctx context.Context, events ...*stamp.Event) error {
	if len(events) == 0 {
		return nil
	}
	at := now()
	var seqs []int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		seqs, err = insertEvents(ctx, tx, at, events)
		return err
	})
	if err != nil {
		return fmt.Errorf("append %d events: %w", len(events), err)
	}
	numberEvents(events, seqs, at)
	return nil
}

// insertEvents appends events in tx, those without a time at at, and
// returns their sequence numbers.
func insertEvents(ctx context.Context, tx *sql.Tx, at time.Time, events []*stamp.Event) ([]int64, error) {
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO events
		(time, type, tenant, release, incident, generation, step, status, message, queued_at, started_at, finished_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return nil, err
	}
	defer stmt.Close()
	seqs := make([]int64, len(events))
	for i, e := range events {
		t := e.Time
		if t.IsZero() {
			t = at
		}
		res, err := stmt.ExecContext(ctx, nanos(t), e.Type, e.Tenant, e.Release, e.Incident, e.Generation, e.Step, e.Status, e.Message,
			optionalNanos(e.QueuedAt), optionalNanos(e.StartedAt), optionalNanos(e.FinishedAt))
		if err != nil {
			return nil, err
		}
		if seqs[i], err = res.LastInsertId(); err != nil {
			return nil, err
		}
	}
	return seqs, nil
}

// numberEvents gives committed events their sequence numbers, and the
// time at to those that had none.
func numberEvents(events []*stamp.Event, seqs []int64, at time.Time) {
	for i, e := range events {
		e.Seq = seqs[i]
		if e.Time.IsZero() {
			e.Time = at
		}
	}
}

// LastEventSeq returns the highest Seq appended, 0 for an empty log.
// AUTOINCREMENT keeps it in sqlite_sequence, but MAX over the primary key is
// just as cheap and needs no knowledge of SQLite's bookkeeping.
func (s *Store) LastEventSeq(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("last event seq: %w", err)
	}
	return seq, nil
}

// ListEvents returns events matching f, oldest (lowest Seq) first. A zero
// Limit means sqlstore.EventLimit's default; a larger one than its max is
// lowered to it; a negative one is EINVALID.
func (s *Store) ListEvents(ctx context.Context, f stamp.EventFilter) ([]*stamp.Event, error) {
	limit, err := sqlstore.EventLimit.Of(f.Limit)
	if err != nil {
		return nil, err
	}
	query := `SELECT seq, time, type, tenant, release, incident, generation, step, status, message, queued_at, started_at, finished_at
		FROM events WHERE seq > ?`
	args := []any{f.AfterSeq}
	if f.Tenant != "" {
		query += ` AND tenant = ?`
		args = append(args, f.Tenant)
	}
	if f.Release != "" {
		query += ` AND release = ?`
		args = append(args, f.Release)
	}
	query += ` ORDER BY seq LIMIT ?`
	args = append(args, limit)

	events, err := queryAll(ctx, s.read, scanEvent, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return events, nil
}

func scanEvent(sc scanner) (*stamp.Event, error) {
	var e stamp.Event
	var t int64
	var queued, started, finished sql.NullInt64
	if err := sc.Scan(&e.Seq, &t, &e.Type, &e.Tenant, &e.Release, &e.Incident, &e.Generation, &e.Step, &e.Status, &e.Message,
		&queued, &started, &finished); err != nil {
		return nil, err
	}
	e.Time = fromNanos(t)
	e.QueuedAt, e.StartedAt, e.FinishedAt = fromOptionalNanos(queued), fromOptionalNanos(started), fromOptionalNanos(finished)
	return &e, nil
}
