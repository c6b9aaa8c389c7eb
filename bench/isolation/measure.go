package main

import (
	"context"
	"fmt"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// warmUp is how many requests each router tenant gets before the
// measured ones, which opens the connections and fills the caches.
const warmUp = 200

// measure runs the three phases, each alternating between the servers.
func (b *bench) measure(ctx context.Context) (*report, error) {
	m, err := b.readMachine(ctx)
	if err != nil {
		return nil, err
	}
	rep := &report{machine: m, cfg: b.cfg, creates: map[cell][]sample{}, upgrades: map[cell][]sample{}, router: map[routerKey]*routerRun{}}
	phases := []struct {
		name string
		run  func(context.Context, *report) error
	}{{"create", b.measureCreates}, {"upgrade", b.measureUpgrades}, {"router", b.measureRouter}}
	for _, ph := range phases {
		load := phaseLoad{phase: ph.name, before: benchkit.LoadAverage()}
		if err := ph.run(ctx, rep); err != nil {
			return nil, fmt.Errorf("%s phase: %w", ph.name, err)
		}
		load.after = benchkit.LoadAverage()
		rep.loads = append(rep.loads, load)
	}
	return rep, nil
}

// measureCreates creates cfg.creates tenants per server and plan, one at
// a time, in rounds of one per cell.
func (b *bench) measureCreates(ctx context.Context, rep *report) error {
	for i := range b.cfg.creates {
		b.progress("create: round %d of %d", i+1, b.cfg.creates)
		for _, c := range order(i) {
			smp, err := b.servers[c.setup].create(ctx, fmt.Sprintf("c%d-%s", i+1, c.plan), c.plan, to, b.cfg.timeout)
			if err != nil {
				return err
			}
			rep.creates[c] = append(rep.creates[c], smp)
		}
	}
	return nil
}

// measureUpgrades creates cfg.upgrades tenants of 1.0.0 per server and
// plan (not measured), then upgrades them to 2.0.0 one at a time, in
// rounds of one per cell.
func (b *bench) measureUpgrades(ctx context.Context, rep *report) error {
	name := func(i int, c cell) string { return fmt.Sprintf("u%d-%s", i+1, c.plan) }
	b.progress("upgrade: create %d tenants of %s per server and plan", b.cfg.upgrades, from)
	for i := range b.cfg.upgrades {
		for _, c := range order(i) {
			if _, err := b.servers[c.setup].create(ctx, name(i, c), c.plan, from, b.cfg.timeout); err != nil {
				return err
			}
		}
	}
	for i := range b.cfg.upgrades {
		b.progress("upgrade: round %d of %d", i+1, b.cfg.upgrades)
		for _, c := range order(i) {
			smp, err := b.servers[c.setup].upgrade(ctx, name(i, c), b.cfg.timeout)
			if err != nil {
				return err
			}
			rep.upgrades[c] = append(rep.upgrades[c], smp)
		}
	}
	return nil
}

// measureRouter creates one tenant per server and plan, warms each up,
// and sends cfg.requests requests to each, sequential and concurrent, in
// cfg.blocks blocks per load: block by block, every cell gets its share
// before the next block, the servers taking turns at going first.
func (b *bench) measureRouter(ctx context.Context, rep *report) error {
	name := func(c cell) string { return "r-" + c.plan }
	b.progress("router: create and warm up one tenant per server and plan")
	for _, c := range order(0) {
		s := b.servers[c.setup]
		if _, err := s.create(ctx, name(c), c.plan, to, b.cfg.timeout); err != nil {
			return err
		}
		if _, _, err := s.load(ctx, name(c), warmUp, 1); err != nil {
			return err
		}
	}
	loads := []struct {
		name string
		conc int
	}{{sequential, 1}, {concurrent, b.cfg.concurrency}}
	for blk := range b.cfg.blocks {
		b.progress("router: block %d of %d", blk+1, b.cfg.blocks)
		// The last block takes what does not divide evenly.
		n := b.cfg.requests / b.cfg.blocks
		if blk == b.cfg.blocks-1 {
			n = b.cfg.requests - n*(b.cfg.blocks-1)
		}
		for _, l := range loads {
			for _, c := range order(blk) {
				lat, wall, err := b.servers[c.setup].load(ctx, name(c), n, l.conc)
				if err != nil {
					return err
				}
				k := routerKey{c, l.name}
				if rep.router[k] == nil {
					rep.router[k] = &routerRun{}
				}
				rep.router[k].latencies = append(rep.router[k].latencies, lat...)
				rep.router[k].wall += wall
			}
		}
	}
	return nil
}
