package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bench/internal/benchkit"
	"github.com/stamphq/stamp/httpapi"
)

// pollEvery is how often the API is asked whether the pool is full or a
// deleted tenant gone.
const pollEvery = 25 * time.Millisecond

// create is one timed create of a tenant.
type create struct {
	name, plan string
	// took is from just before the POST to the first 200 of /healthz
	// through the router.
	took time.Duration
	// runtime is the tenant's status.runtime: the pool's stamp it
	// claimed, or "" for none.
	runtime string
	// refill is, for a create that claimed, from the POST's answer to
	// the pool seen full again.
	refill time.Duration
	parts  parts // where took went, from the tenant's step events
}

// claimed reports whether the create took a stamp of the pool.
func (c create) claimed() bool { return strings.HasPrefix(c.runtime, stamp.PoolPrefix) }

// The kinds of sample, each taken once a round.
const (
	kindPooled = iota
	kindPlain
	kindFloor
	kinds // how many
)

// rounds takes -n rounds of one sample of each kind into res, the kind
// going first moving on by one every round.
func (b *bench) rounds(ctx context.Context, res *result) error {
	for i := range b.cfg.n {
		b.progress("round %d of %d", i+1, b.cfg.n)
		for k := range kinds {
			var err error
			switch (i + k) % kinds {
			case kindPooled:
				err = b.pooledSample(ctx, i, res)
			case kindPlain:
				err = b.plainSample(ctx, i, res)
			case kindFloor:
				err = b.floorSample(ctx, i, res)
			}
			if err != nil {
				return fmt.Errorf("round %d: %w", i+1, err)
			}
		}
	}
	return nil
}

// pooledSample times a create of plan pooled once the pool is full, then
// the refill, and deletes the tenant.
func (b *bench) pooledSample(ctx context.Context, i int, res *result) error {
	if _, err := b.waitPoolFull(ctx); err != nil {
		return err
	}
	c, answered, err := b.create(ctx, fmt.Sprintf("pooled-%d", i+1), pooledPlan)
	if err != nil {
		return err
	}
	if c.claimed() {
		full, err := b.waitPoolFull(ctx)
		if err != nil {
			return err
		}
		c.refill = full.Sub(answered)
		res.pooled = append(res.pooled, c)
	} else {
		res.unclaimed = append(res.unclaimed, c)
	}
	return b.delete(ctx, c)
}

// plainSample times a create of plan plain and deletes the tenant.
func (b *bench) plainSample(ctx context.Context, i int, res *result) error {
	c, _, err := b.create(ctx, fmt.Sprintf("plain-%d", i+1), plainPlan)
	if err != nil {
		return err
	}
	if c.runtime != "" {
		return fmt.Errorf("tenant %s of plan %s runs under %q: a plan without a pool claimed", c.name, c.plan, c.runtime)
	}
	res.plain = append(res.plain, c)
	return b.delete(ctx, c)
}

// floorSample starts the app by hand once, within -timeout.
func (b *bench) floorSample(ctx context.Context, i int, res *result) error {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.timeout)
	defer cancel()
	s, err := b.floor.Sample(ctx, int64(i+1))
	if err != nil {
		return err
	}
	res.floor = append(res.floor, s)
	return nil
}

// create asks for tenant name of plan and GETs /healthz through the
// router until it answers 200, timing the whole from just before the API
// call. It returns when the API answered, and reads the tenant's runtime
// and step events after the timing.
func (b *bench) create(ctx context.Context, name, plan string) (c create, answered time.Time, err error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.timeout)
	defer cancel()
	_, port, _ := net.SplitHostPort(b.srv.Router)
	c = create{name: name, plan: plan}
	sent := time.Now()
	if _, err := b.srv.Client.CreateTenant(ctx, httpapi.CreateTenantRequest{Name: name, Blueprint: b.bp, Plan: plan}); err != nil {
		return c, answered, fmt.Errorf("create tenant %s of plan %s: %w", name, plan, err)
	}
	answered = time.Now()
	if err := benchkit.WaitOK(ctx, "http://"+b.srv.Router+"/healthz", name+".localhost:"+port, b.srv.Exited()); err != nil {
		return c, answered, fmt.Errorf("tenant %s: %w%s", name, err, b.explain(name))
	}
	done := time.Now()
	c.took = done.Sub(sent)

	t, err := b.srv.Client.GetTenant(ctx, name)
	if err != nil {
		return c, answered, fmt.Errorf("get tenant %s: %w", name, err)
	}
	c.runtime = t.Status.Runtime
	events, err := b.srv.Client.Events(ctx, stamp.EventFilter{Tenant: name, Limit: 1000})
	if err != nil {
		return c, answered, fmt.Errorf("events of %s: %w", name, err)
	}
	if c.parts, err = partsOf(events, sent, done); err != nil {
		return c, answered, fmt.Errorf("events of %s: %w", name, err)
	}
	return c, answered, nil
}

// explain says where a tenant that did not come up got to, for errors.
func (b *bench) explain(name string) string {
	if err := b.srv.Alive(); err != nil {
		return "\n" + err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t, err := b.srv.Client.GetTenant(ctx, name)
	if err != nil {
		return fmt.Sprintf("\n(get tenant: %v)", err)
	}
	return fmt.Sprintf("\ntenant phase %s, failed step %q: %s", t.Status.Phase, t.Status.FailedStep, t.Status.Message)
}

// waitPoolFull polls the pool until it holds -pool ready stamps of plan
// pooled, and returns when it saw them. It fails if one failed or the
// server exited.
func (b *bench) waitPoolFull(ctx context.Context) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.timeout)
	defer cancel()
	for {
		pooled, err := b.srv.Client.ListPooled(ctx)
		if err != nil {
			return time.Time{}, fmt.Errorf("wait for the pool to fill: %w", err)
		}
		seen := time.Now()
		ready := 0
		for _, s := range pooled {
			switch {
			case s.Spec.Plan != pooledPlan || s.Spec.Desired != stamp.DesiredRunning:
			case s.Status.Phase == stamp.PhaseFailed:
				return time.Time{}, fmt.Errorf("pooled stamp %s failed at step %s: %s", s.Name, s.Status.FailedStep, s.Status.Message)
			case s.Ready():
				ready++
			}
		}
		if ready >= b.cfg.pool {
			return seen, nil
		}
		if err := b.srv.Alive(); err != nil {
			return time.Time{}, err
		}
		if err := benchkit.Sleep(ctx, pollEvery); err != nil {
			return time.Time{}, fmt.Errorf("wait for the pool to fill (%d of %d stamps ready): %w", ready, b.cfg.pool, err)
		}
	}
}

// delete deletes the tenant of c and waits until the API knows it no
// more and none of its runtime's processes runs, so that the next sample
// meets a server without it.
func (b *bench) delete(ctx context.Context, c create) error {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.timeout)
	defer cancel()
	if _, err := b.srv.Client.DeleteTenant(ctx, c.name, httpapi.DeleteOptions{Purge: true}); err != nil {
		return fmt.Errorf("delete tenant %s: %w", c.name, err)
	}
	runtime := c.runtime
	if runtime == "" {
		runtime = c.name
	}
	for {
		_, err := b.srv.Client.GetTenant(ctx, c.name)
		code := stamp.ErrorCode(err)
		if err != nil && code != stamp.ENOTFOUND {
			return fmt.Errorf("wait for tenant %s to go: %w", c.name, err)
		}
		running := 0
		if code == stamp.ENOTFOUND {
			procs, err := benchkit.TenantProcs(b.srv.Data)
			if err != nil {
				return err
			}
			for _, p := range procs {
				if p.Tenant == runtime {
					running++
				}
			}
			if running == 0 {
				return nil
			}
		}
		if err := b.srv.Alive(); err != nil {
			return err
		}
		if err := benchkit.Sleep(ctx, pollEvery); err != nil {
			return fmt.Errorf("wait for tenant %s to go (%d processes of %s running): %w", c.name, running, runtime, err)
		}
	}
}

// noTenantLeft checks that every tenant the run made is gone.
func (b *bench) noTenantLeft(ctx context.Context) error {
	tenants, err := b.srv.Client.ListTenants(ctx)
	if err != nil {
		return fmt.Errorf("list tenants at the end: %w", err)
	}
	var names []string
	for _, t := range tenants {
		names = append(names, t.Name)
	}
	if len(names) > 0 {
		return fmt.Errorf("tenants left at the end, deleted once sampled: %s", strings.Join(names, ", "))
	}
	return nil
}
