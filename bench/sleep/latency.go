package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// warmUp is how many requests go to the warm tenant before the timed
// ones, so that the connection and the tenant's caches are warm.
const warmUp = 50

// routerClient keeps one connection to the router, as a browser would,
// and asks no proxy.
func routerClient() *http.Client {
	return &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1}, Timeout: 10 * time.Second}
}

// routerLatency times -requests sequential GET /healthz to the warm
// tenant through the router over one kept connection, each from the call
// to the end of the body.
func (b *bench) routerLatency(ctx context.Context) ([]time.Duration, error) {
	c := routerClient()
	defer c.CloseIdleConnections()
	var out []time.Duration
	for i := range warmUp + b.cfg.requests {
		d, err := b.get(ctx, c, warmName)
		if err != nil {
			return nil, err
		}
		if i >= warmUp {
			out = append(out, d)
		}
	}
	return out, nil
}

// get sends GET /healthz to tenant through the router and times it from
// the call to the end of the body; an answer other than 200 fails.
func (b *bench) get(ctx context.Context, c *http.Client, tenant string) (time.Duration, error) {
	_, port, _ := net.SplitHostPort(b.srv.Router)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+b.srv.Router+"/healthz", nil)
	if err != nil {
		return 0, err
	}
	req.Host = tenant + ".localhost:" + port
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET /healthz of %s through the router: %w", tenant, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("GET /healthz of %s through the router: %w", tenant, err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /healthz of %s through the router: status %d: %.300s", tenant, resp.StatusCode, body)
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
	if err := sleep(ctx, b.cfg.quiet); err != nil {
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
