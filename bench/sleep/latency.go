package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// warmUp is how many requests go to the warm tenant before the timed
// ones, so that the connection and the tenant's caches are warm.
const warmUp = 50

// routerClient keeps one connection to the host it is sent to, as a
// browser would, and asks no proxy.
func routerClient() *http.Client {
	return &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1}, Timeout: 10 * time.Second}
}

// latency is the warm tenant's GET /healthz timed through the router and
// straight at its instance, alternately: the difference is the router's.
type latency struct {
	router, direct []time.Duration
}

// routerLatency times -requests sequential GET /healthz to the warm
// tenant through the router, each followed by one straight to its
// instance, each way over one kept connection and each from the call to
// the end of the body.
func (b *bench) routerLatency(ctx context.Context) (latency, error) {
	var l latency
	t, err := b.srv.Client.GetTenant(ctx, warmName)
	if err != nil {
		return l, fmt.Errorf("get the warm tenant: %w", err)
	}
	if len(t.Status.Endpoints) != 1 {
		return l, fmt.Errorf("the warm tenant has endpoints %v, want one", t.Status.Endpoints)
	}
	viaRouter, direct := routerClient(), routerClient()
	defer viaRouter.CloseIdleConnections()
	defer direct.CloseIdleConnections()
	for i := range warmUp + b.cfg.requests {
		r, err := b.get(ctx, viaRouter, b.srv.Router, warmName)
		if err != nil {
			return l, err
		}
		d, err := b.get(ctx, direct, t.Status.Endpoints[0], "")
		if err != nil {
			return l, err
		}
		if i >= warmUp {
			l.router, l.direct = append(l.router, r), append(l.direct, d)
		}
	}
	return l, nil
}

// get sends GET /healthz to addr, for tenant through the router (with
// its Host) or, with tenant "", straight, and times it from the call to
// the end of the body; an answer other than 200 fails.
func (b *bench) get(ctx context.Context, c *http.Client, addr, tenant string) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	if err != nil {
		return 0, err
	}
	if tenant != "" {
		_, port, _ := net.SplitHostPort(addr)
		req.Host = tenant + ".localhost:" + port
	} else {
		tenant = addr
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET /healthz of %s: %w", tenant, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("GET /healthz of %s: %w", tenant, err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /healthz of %s: status %d: %.300s", tenant, resp.StatusCode, body)
	}
	return took, nil
}

// quiet is what the server cost over a window in which every starter
// tenant slept and the bench sent nothing.
type quiet struct {
	window time.Duration
	cpu    time.Duration // the server's user and system CPU time over it
	held   held          // read at its end
	procs  int           // tenant processes running at its end
}

// quietWindow reads the server's CPU time over -quiet, sending it
// nothing, then what it holds.
func (b *bench) quietWindow(ctx context.Context) (quiet, error) {
	q := quiet{window: b.cfg.quiet}
	b.progress("quiet window of %s, every starter tenant asleep", b.cfg.quiet)
	cpu0, err := b.srv.CPU()
	if err != nil {
		return q, err
	}
	if err := benchkit.Sleep(ctx, b.cfg.quiet); err != nil {
		return q, err
	}
	cpu1, err := b.srv.CPU()
	if err != nil {
		return q, err
	}
	q.cpu = cpu1 - cpu0
	if q.procs, err = b.countProcs(); err != nil {
		return q, err
	}
	q.held, err = b.held(ctx)
	return q, err
}
