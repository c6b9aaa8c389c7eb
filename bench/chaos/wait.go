package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// errDeadline is a wait of a round past -deadline.
var errDeadline = errors.New("past the deadline")

// poll calls done until it reports true, for at most the -deadline, and
// says what it waited for when that passes (wrapping errDeadline) or
// done fails.
func (r *roundRun) poll(ctx context.Context, what string, done func() (bool, error)) error {
	wctx, cancel := context.WithTimeout(ctx, r.b.cfg.deadline)
	defer cancel()
	err := poll(wctx, done)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return fmt.Errorf("round %d: wait for %s: %w (%s)", r.res.n, what, errDeadline, r.b.cfg.deadline)
	}
	if err != nil {
		return fmt.Errorf("round %d: wait for %s: %w", r.res.n, what, err)
	}
	return nil
}

// poll calls done every 250ms until it reports true or fails, or ctx
// ends.
func poll(ctx context.Context, done func() (bool, error)) error {
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		if err := benchkit.Sleep(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
}
