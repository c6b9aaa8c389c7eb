package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bench/internal/benchkit"
	"github.com/stamphq/stamp/httpapi"
	"golang.org/x/sync/errgroup"
)

// span is one tenant's create, from just before the API call to the poll
// that saw it ready, as offsets from the start of the fleet.
type span struct{ start, end time.Duration }

func (s span) took() time.Duration { return s.end - s.start }

// snapshot is what the server held and how the fleet stood once a tenth
// more of it was created.
type snapshot struct {
	tenth   int           // 1 to 10
	created int           // tenants created when it was read
	at      time.Duration // since the start of the fleet
	cpu     time.Duration // the server's user and system CPU time so far
	held    held
	phases  map[string]int // tenants by phase, from the API's listing
	procs   int            // tenant processes running
}

// fleet is the creation of the -n starter tenants.
type fleet struct {
	each      []span // by tenant, in the order their creates started
	wall      time.Duration
	cpu       time.Duration // the server's user and system CPU time at the start
	snapshots []snapshot
}

// starterName is the name of the i-th (from 0) starter tenant.
func starterName(i int) string { return fmt.Sprintf("s-%d", i+1) }

// createFleet creates the -n starter tenants, -concurrency at once, and
// takes a snapshot as each tenth of them is created (the last once all
// are), aside from the creates, which go on meanwhile.
func (b *bench) createFleet(ctx context.Context) (*fleet, error) {
	n := b.cfg.n
	f := &fleet{each: make([]span, n)}
	var err error
	if f.cpu, err = b.srv.CPU(); err != nil {
		return nil, err
	}
	marks := make(chan int, 10) // the tenths 1-9 reached; never more than 9 are sent
	var (
		mu      sync.Mutex
		snapErr error
		wg      sync.WaitGroup
		done    atomic.Int64
	)
	start := time.Now()
	take := func(tenth int) {
		s, err := b.snapshot(ctx, tenth, int(done.Load()), time.Since(start))
		mu.Lock()
		defer mu.Unlock()
		f.snapshots = append(f.snapshots, s)
		snapErr = errors.Join(snapErr, err)
	}
	wg.Go(func() {
		for tenth := range marks {
			take(tenth)
		}
	})
	b.progress("create %d tenants of plan starter, %d at once", n, b.cfg.concurrency)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.cfg.concurrency)
	for i := range n {
		g.Go(func() error {
			t0 := time.Since(start)
			if err := b.create(gctx, starterName(i), "starter"); err != nil {
				return err
			}
			f.each[i] = span{start: t0, end: time.Since(start)}
			d := int(done.Add(1))
			for k := 1; k <= 9; k++ {
				if d == k*n/10 {
					b.progress("%d of %d tenants created", d, n)
					marks <- k
				}
			}
			return nil
		})
	}
	err = g.Wait()
	f.wall = time.Since(start)
	close(marks)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	take(10)
	return f, snapErr
}

// snapshot reads what the server holds, the tenants by phase and the
// tenant processes running.
func (b *bench) snapshot(ctx context.Context, tenth, created int, at time.Duration) (snapshot, error) {
	s := snapshot{tenth: tenth, created: created, at: at}
	var err error
	if s.cpu, err = b.srv.CPU(); err != nil {
		return s, err
	}
	if s.held, err = b.held(ctx); err != nil {
		return s, err
	}
	if s.phases, err = b.phases(ctx); err != nil {
		return s, err
	}
	procs, err := benchkit.TenantProcs(b.srv.Data)
	if err != nil {
		return s, err
	}
	s.procs = len(procs)
	return s, nil
}

// phases counts the tenants by phase, reading the API's listing a page
// at a time (following each page's next).
func (b *bench) phases(ctx context.Context) (map[string]int, error) {
	by := map[string]int{}
	for page, err := range b.srv.Client.TenantPages(ctx, httpapi.TenantQuery{}) {
		if err != nil {
			return nil, fmt.Errorf("list tenants: %w", err)
		}
		for _, t := range page {
			by[t.Status.Phase]++
		}
	}
	return by, nil
}

// waitAllAsleep waits, up to -timeout, until every starter tenant sleeps
// and none of their processes runs, and returns how long that took.
func (b *bench) waitAllAsleep(ctx context.Context) (time.Duration, error) {
	b.progress("wait for the %d starter tenants to sleep", b.cfg.n)
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, b.cfg.timeout)
	defer cancel()
	lastNote := start
	for {
		by, err := b.phases(ctx)
		if err != nil {
			return 0, err
		}
		procs, err := benchkit.TenantProcs(b.srv.Data)
		if err != nil {
			return 0, err
		}
		awake := 0
		for _, p := range procs {
			if p.Tenant != warmName {
				awake++
			}
		}
		if by[stamp.PhaseSleeping] == b.cfg.n && awake == 0 {
			return time.Since(start), nil
		}
		if time.Since(lastNote) > 10*time.Second {
			b.progress("%d of %d asleep, %d starter processes running", by[stamp.PhaseSleeping], b.cfg.n, awake)
			lastNote = time.Now()
		}
		if err := benchkit.Sleep(ctx, 500*time.Millisecond); err != nil {
			return 0, fmt.Errorf("wait for every starter tenant to sleep (%d of %d do, %d of their processes run): %w", by[stamp.PhaseSleeping], b.cfg.n, awake, err)
		}
	}
}
