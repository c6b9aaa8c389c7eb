package flow

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/stamphq/stamp"
)

// IndexStore is what an Index reads and keeps: the event log, and the
// flow index itself.
type IndexStore interface {
	stamp.EventLog
	stamp.FlowIndex
}

// indexPage is how many events the index reads, and saves the runs of,
// at a time: it bounds the memory a catch-up takes and the work a
// failed save loses.
const indexPage = 10000

// Index keeps the runs of the event log in the store, a row each, so a
// report reads runs rather than events (see builder for what a run
// is). It reads the events appended since it last did before each
// report. Servers sharing a store share the index: one that finds the
// index moved under it reads again from where it now is.
type Index struct {
	st IndexStore
	mu sync.Mutex // one catch-up at a time in this process
}

// NewIndex returns the index kept in st.
func NewIndex(st IndexStore) *Index { return &Index{st: st} }

// CatchUp reads the events appended since the index last read into it,
// at least up to the log's end as it was when called. Where another
// server moves the index meanwhile, it reads on from there, unless that
// server took the index far enough.
func (x *Index) CatchUp(ctx context.Context) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	target, err := x.st.LastEventSeq(ctx)
	if err != nil {
		return fmt.Errorf("read the event log's end: %w", err)
	}
	for attempt := 1; ; attempt++ {
		at, err := x.st.FlowIndexed(ctx)
		switch {
		case err != nil:
			return err
		case at >= target:
			return nil // read already, by this server or another
		}
		err = x.catchUp(ctx, at)
		if stamp.ErrorCode(err) != stamp.ECONFLICT || attempt == maxCatchUps {
			return err
		}
	}
}

// maxCatchUps bounds the catch-ups one call makes while other servers
// keep moving the index under it.
const maxCatchUps = 10

// catchUp reads the log from event from, where the index is, a page at
// a time, saving each page's runs with the index's new position; the
// runs under way are read back first, to be taken up.
func (x *Index) catchUp(ctx context.Context, from int64) error {
	b := newBuilder()
	err := x.st.EachFlowRun(ctx, stamp.FlowRunFilter{Open: true}, b.resume)
	if err != nil {
		return fmt.Errorf("read the flow index's runs under way: %w", err)
	}
	for {
		page, err := x.st.ListEvents(ctx, stamp.EventFilter{AfterSeq: from, Limit: indexPage})
		if err != nil {
			return fmt.Errorf("read the event log after event %d: %w", from, err)
		}
		if len(page) == 0 {
			return nil
		}
		for _, e := range page {
			b.apply(e)
		}
		to := page[len(page)-1].Seq
		if err := x.st.SaveFlowRuns(ctx, from, to, b.flush()); err != nil {
			return err
		}
		if len(page) < indexPage {
			return nil
		}
		from = to
	}
}

// Report catches the index up and returns the report of the runs f
// selects (the delivery stream and the DORA figures are not the
// index's: see Delivery and ComputeDORA).
func (x *Index) Report(ctx context.Context, f Filter) (*Report, error) {
	if err := x.CatchUp(ctx); err != nil {
		return nil, fmt.Errorf("bring the flow index up to date: %w", err)
	}
	create, upgrade := newTallier(), newTallier()
	err := x.st.EachFlowRun(ctx, stamp.FlowRunFilter{Since: f.Since, Until: f.Until}, func(r *stamp.FlowRun) error {
		if f.Tenants != nil && !f.Tenants[r.Tenant] {
			return nil
		}
		return tallierOf(r.Kind, create, upgrade).addRun(r)
	})
	if err != nil {
		return nil, fmt.Errorf("read the flow index: %w", err)
	}
	return &Report{Since: f.Since, Until: f.Until, Create: create.stream(rankOf), Upgrade: upgrade.stream(rankOf)}, nil
}

// Run catches the index up now and then every period until ctx ends,
// so that a report finds little left to read: after an upgrade, the
// whole log is read here rather than by the first report. A catch-up
// that fails is logged and tried again at the next period.
func (x *Index) Run(ctx context.Context, period time.Duration, logger *slog.Logger) error {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		start := time.Now()
		if err := x.CatchUp(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("bring the flow index up to date", "err", err)
		} else if d := time.Since(start); d > time.Second {
			logger.Info("brought the flow index up to date", "took", d.Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
