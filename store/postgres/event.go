package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/internal/sqlstore"
)

// AppendEvents appends events in order, assigning each its Seq (and Time,
// the database's clock and the same for the whole call, if zero). The
// structs are changed only once the events are committed.
//
// Watchers read the log by AfterSeq and remember the last Seq they saw, so
// a Seq must never become visible after a higher one: a watcher past 11
// would miss 10 forever. An identity column alone does not ensure that, as
// concurrent transactions commit in any order. Each append therefore takes
// a transaction-level advisory lock before inserting and keeps it until
// its commit is visible, so appends are numbered and committed one at a
// time. The lock, the inserts and the commit go to the server as one
// pipelined batch in one implicit transaction, so the lock is held only for
// the server's own work, never across a network round trip. Within one
// process appends also take turns before they ask for a connection
// (Store.appendTurn): BenchmarkAppendEvents measured about 3,400-5,000
// appends/s with the turn, 2,000-3,000 with the lock alone and
// 5,600-6,500 without either, on a busy 2-CPU machine.
//
// Message and the other text fields are stored with NUL bytes and invalid
// UTF-8 replaced by U+FFFD: PostgreSQL text cannot hold them, and an event
// quoting a process's output must not fail to be recorded.
func (s *Store) AppendEvents(ctx context.Context, events ...*stamp.Event) error {
	if len(events) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, appendLockKey)
	// The audit record of the API call ctx belongs to, if none of its
	// writes took it yet, commits with its events (stamp.WithPendingAudit).
	audit := stamp.ClaimAudit(ctx)
	if audit != nil {
		b.Queue(insertAudit, auditArgs(audit.Record())...)
	}
	for _, e := range events {
		b.Queue(`INSERT INTO events
			(time, type, tenant, release, incident, generation, step, status, message, queued_at, started_at, finished_at)
			VALUES (coalesce($1, now()), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
			RETURNING seq, time`,
			optionalTime(e.Time), text(e.Type), text(e.Tenant), text(e.Release), text(e.Incident), e.Generation, text(e.Step), text(e.Status), text(e.Message),
			optionalTime(e.QueuedAt), optionalTime(e.StartedAt), optionalTime(e.FinishedAt))
	}
	seqs := make([]int64, len(events))
	times := make([]time.Time, len(events))
	select {
	case s.appendTurn <- struct{}{}:
	case <-ctx.Done():
		if audit != nil {
			audit.Settle(false)
		}
		return fmt.Errorf("append %d events: %w", len(events), ctx.Err())
	}
	defer func() { <-s.appendTurn }()
	br := s.pool.SendBatch(ctx, b)
	_, err := br.Exec()
	if audit != nil && err == nil {
		_, err = br.Exec()
	}
	for i := range events {
		if err != nil {
			break
		}
		err = br.QueryRow().Scan(&seqs[i], &times[i])
	}
	// Close reads the outcome of the implicit commit.
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if audit != nil {
		audit.Settle(err == nil)
	}
	if err != nil {
		return fmt.Errorf("append %d events: %w", len(events), err)
	}
	numberEvents(events, seqs, times)
	return nil
}

// appendInTx runs fn in a transaction holding the event log's append lock,
// for a write whose events must commit with it (UpdateTenant with events).
// Unlike AppendEvents it holds the lock across fn's round trips, so it is
// kept for the few writes that need it.
func (s *Store) appendInTx(ctx context.Context, fn func(pgx.Tx) error) error {
	select {
	case s.appendTurn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.appendTurn }()
	audit := stamp.ClaimAudit(ctx) // as AppendEvents
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, appendLockKey); err != nil {
			return err
		}
		if audit != nil {
			if _, err := tx.Exec(ctx, insertAudit, auditArgs(audit.Record())...); err != nil {
				return fmt.Errorf("append audit record: %w", err)
			}
		}
		return fn(tx)
	})
	if audit != nil {
		audit.Settle(err == nil)
	}
	return err
}

// insertEvents appends events in tx, which holds the append lock, and
// returns their sequence numbers and times.
func insertEvents(ctx context.Context, tx pgx.Tx, events []*stamp.Event) ([]int64, []time.Time, error) {
	seqs := make([]int64, len(events))
	times := make([]time.Time, len(events))
	for i, e := range events {
		err := tx.QueryRow(ctx, `INSERT INTO events
			(time, type, tenant, release, incident, generation, step, status, message, queued_at, started_at, finished_at)
			VALUES (coalesce($1, now()), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
			RETURNING seq, time`,
			optionalTime(e.Time), text(e.Type), text(e.Tenant), text(e.Release), text(e.Incident), e.Generation, text(e.Step), text(e.Status), text(e.Message),
			optionalTime(e.QueuedAt), optionalTime(e.StartedAt), optionalTime(e.FinishedAt)).Scan(&seqs[i], &times[i])
		if err != nil {
			return nil, nil, err
		}
	}
	return seqs, times, nil
}

// numberEvents gives committed events their sequence numbers, and their
// stored times to those that had none.
func numberEvents(events []*stamp.Event, seqs []int64, times []time.Time) {
	for i, e := range events {
		e.Seq = seqs[i]
		if e.Time.IsZero() {
			e.Time = times[i]
		}
	}
}

// text makes s storable in a text column.
func text(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// LastEventSeq returns the highest Seq appended, 0 for an empty log. Appends
// commit in Seq order, so no lower Seq can appear after it.
func (s *Store) LastEventSeq(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM events`).Scan(&seq); err != nil {
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
		FROM events WHERE seq > $1`
	args := []any{f.AfterSeq, limit}
	if f.Tenant != "" {
		args = append(args, f.Tenant)
		query += fmt.Sprintf(` AND tenant = $%d`, len(args))
	}
	if f.Release != "" {
		args = append(args, f.Release)
		query += fmt.Sprintf(` AND release = $%d`, len(args))
	}
	query += ` ORDER BY seq LIMIT $2`

	rows, _ := s.pool.Query(ctx, query, args...)
	events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*stamp.Event, error) {
		var e stamp.Event
		var queued, started, finished *time.Time
		err := row.Scan(&e.Seq, &e.Time, &e.Type, &e.Tenant, &e.Release, &e.Incident, &e.Generation, &e.Step, &e.Status, &e.Message,
			&queued, &started, &finished)
		e.QueuedAt, e.StartedAt, e.FinishedAt = fromOptional(queued), fromOptional(started), fromOptional(finished)
		return &e, err
	})
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return events, nil
}

// querier runs one statement, on the pool or in a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// withEvents runs write, one statement, and appends events after it in
// the same transaction, which holds the event log's append lock (see
// AppendEvents). Without events it runs write alone, with no
// transaction and no lock. It returns the events' sequence numbers and
// times for numberEvents.
func (s *Store) withEvents(ctx context.Context, write func(querier) error, events []*stamp.Event) ([]int64, []time.Time, error) {
	if len(events) == 0 {
		return nil, nil, s.write(ctx, func(w writer) error { return write(w) })
	}
	var seqs []int64
	var times []time.Time
	err := s.appendInTx(ctx, func(tx pgx.Tx) error {
		if err := write(tx); err != nil {
			return err
		}
		var err error
		seqs, times, err = insertEvents(ctx, tx, events)
		return err
	})
	return seqs, times, err
}
