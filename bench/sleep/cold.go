package main

import (
	"context"
	"fmt"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// coldSample is one cold start and the floor sample taken next to it.
type coldSample struct {
	tenant     string
	sent, done time.Time     // the cold start's request and the end of its answer
	cold       time.Duration // GET /healthz through the router to a sleeping tenant, to its answer
	floor      time.Duration // `ledger serve` started by hand to its first 200 of /healthz
}

// coldStarts takes -cold cold starts, each on another sleeping tenant
// spread over the fleet, alternating with as many floor samples so that
// both see the same machine.
func (b *bench) coldStarts(ctx context.Context) ([]coldSample, error) {
	tmpl, err := b.floorTemplate(ctx)
	if err != nil {
		return nil, err
	}
	c := routerClient()
	defer c.CloseIdleConnections()
	var out []coldSample
	for i := range b.cfg.cold {
		name := starterName(i * b.cfg.n / b.cfg.cold)
		b.progress("cold start %d of %d: %s", i+1, b.cfg.cold, name)
		s := coldSample{tenant: name}
		if s.floor, err = b.floorSample(ctx, tmpl, i); err != nil {
			return nil, err
		}
		if err := b.waitAsleep(ctx, name); err != nil {
			return nil, err
		}
		wctx, cancel := context.WithTimeout(ctx, b.cfg.timeout)
		s.sent = time.Now()
		s.cold, err = b.get(wctx, c, b.srv.Router, name)
		s.done = s.sent.Add(s.cold)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("cold start %d: %w", i+1, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// waitAsleep waits, up to -timeout, until tenant name sleeps with no wake
// asked and none of its processes runs.
func (b *bench) waitAsleep(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.timeout)
	defer cancel()
	for {
		t, err := b.srv.Client.GetTenant(ctx, name)
		if err != nil {
			return fmt.Errorf("wait for %s to sleep: %w", name, err)
		}
		running := 0
		if t.Status.Phase == stamp.PhaseSleeping && t.Status.WakeAt.IsZero() {
			procs, err := benchkit.TenantProcs(b.srv.Data)
			if err != nil {
				return err
			}
			for _, p := range procs {
				if p.Tenant == name {
					running++
				}
			}
			if running == 0 {
				return nil
			}
		}
		if err := benchkit.Sleep(ctx, 100*time.Millisecond); err != nil {
			return fmt.Errorf("wait for %s to sleep (phase %s, %d processes): %w", name, t.Status.Phase, running, err)
		}
	}
}

// countProcs counts the tenant processes running.
func (b *bench) countProcs() (int, error) {
	procs, err := benchkit.TenantProcs(b.srv.Data)
	return len(procs), err
}
