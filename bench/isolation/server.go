package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bench/internal/benchkit"
	"github.com/stamphq/stamp/httpapi"
	"golang.org/x/sync/errgroup"
)

// The versions of the example app: real releases 1 and 2.
const (
	from = "1.0.0"
	to   = "2.0.0"
)

// releaseHeader is the header the example app names its release in.
const releaseHeader = "Ledger-Release"

// server is one of the two `stamp server`s of the run.
type server struct {
	*benchkit.Server
	setup string // isolated or plain
	// routerClient sends the bench's requests through the router, with
	// keep-alives as a browser would; no proxy is asked.
	routerClient *http.Client
}

// newServer wraps a started server.
func newServer(s *benchkit.Server, setup string, concurrency int) *server {
	return &server{Server: s, setup: setup, routerClient: &http.Client{
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 2 * concurrency},
		Timeout:   5 * time.Second,
	}}
}

// host is the Host header that routes to tenant.
func (s *server) host(tenant string) string {
	_, port, _ := net.SplitHostPort(s.Router)
	return tenant + ".localhost:" + port
}

// create asks for tenant name of version on plan and polls GET / through
// the router until it answers 200, timing the whole from just before the
// API call; then it reads the steps the server recorded.
func (s *server) create(ctx context.Context, name, plan, version string, timeout time.Duration) (sample, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	req := httpapi.CreateTenantRequest{Name: name, Blueprint: "ledger", Version: version, Plan: plan}
	if _, err := s.Client.CreateTenant(ctx, req); err != nil {
		return sample{}, fmt.Errorf("%s server: create tenant %s: %w", s.setup, name, err)
	}
	if err := benchkit.WaitOK(ctx, "http://"+s.Router+"/", s.host(name), s.Exited()); err != nil {
		return sample{}, fmt.Errorf("%s server: tenant %s: %w%s", s.setup, name, err, s.explain(name))
	}
	smp := sample{tenant: name, took: time.Since(start)}
	var err error
	smp.steps, err = s.steps(ctx, name, start)
	return smp, err
}

// upgrade moves tenant name to version to, timing from just before the
// API call to the router's first answer from release 2 (took) and to the
// upgrade's end as the server recorded it (done).
func (s *server) upgrade(ctx context.Context, name string, timeout time.Duration) (sample, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	if _, err := s.Client.UpgradeTenant(ctx, name, to); err != nil {
		return sample{}, fmt.Errorf("%s server: upgrade %s: %w", s.setup, name, err)
	}
	if err := s.waitRelease(ctx, name, "2"); err != nil {
		return sample{}, fmt.Errorf("%s server: upgrade of %s: %w%s", s.setup, name, err, s.explain(name))
	}
	smp := sample{tenant: name, took: time.Since(start)}
	for {
		t, err := s.Client.GetTenant(ctx, name)
		if err != nil {
			return smp, fmt.Errorf("%s server: get tenant %s: %w", s.setup, name, err)
		}
		if u := t.Status.Upgrade; u != nil && u.To == to && u.Result != "" {
			if u.Result != stamp.UpgradeSucceeded {
				return smp, fmt.Errorf("%s server: upgrade of %s: %s at step %s: %s", s.setup, name, u.Result, u.FailedStep, u.Message)
			}
			smp.done = u.FinishedAt.Sub(start)
			break
		}
		if err := benchkit.Sleep(ctx, 20*time.Millisecond); err != nil {
			return smp, fmt.Errorf("%s server: wait for the end of the upgrade of %s: %w", s.setup, name, err)
		}
	}
	var err error
	smp.steps, err = s.steps(ctx, name, start)
	return smp, err
}

// waitRelease polls GET /healthz of tenant through the router every
// benchkit.PollEvery until release answers it.
func (s *server) waitRelease(ctx context.Context, tenant, release string) error {
	last := "no answer yet"
	for {
		got, err := s.get(ctx, tenant)
		if err == nil && got == release {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = "release " + got
		}
		if err := benchkit.Sleep(ctx, benchkit.PollEvery); err != nil {
			return fmt.Errorf("no answer from release %s (%w); last: %s", release, err, last)
		}
	}
}

// get sends GET /healthz to tenant through the router and returns the
// release that answered; any status but 200 is an error.
func (s *server) get(ctx context.Context, tenant string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.Router+"/healthz", nil)
	if err != nil {
		return "", err
	}
	req.Host = s.host(tenant)
	resp, err := s.routerClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body) // so the connection is reused
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /healthz of %s: status %d", tenant, resp.StatusCode)
	}
	return resp.Header.Get(releaseHeader), nil
}

// load sends n GET /healthz to tenant through the router, conc at once,
// and returns every request's latency and the wall time of the whole.
func (s *server) load(ctx context.Context, tenant string, n, conc int) ([]time.Duration, time.Duration, error) {
	var (
		next atomic.Int64
		mu   sync.Mutex
		all  = make([]time.Duration, 0, n)
	)
	g, ctx := errgroup.WithContext(ctx)
	start := time.Now()
	for range conc {
		g.Go(func() error {
			var mine []time.Duration
			for next.Add(1) <= int64(n) {
				t := time.Now()
				if _, err := s.get(ctx, tenant); err != nil {
					return fmt.Errorf("%s server: %w", s.setup, err)
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
			return nil
		})
	}
	err := g.Wait()
	return all, time.Since(start), err
}

// steps returns the work of each successful step the server recorded for
// tenant since start.
func (s *server) steps(ctx context.Context, tenant string, since time.Time) (map[string]time.Duration, error) {
	events, err := s.Client.Events(ctx, stamp.EventFilter{Tenant: tenant, Limit: 1000})
	if err != nil {
		return nil, fmt.Errorf("%s server: events of %s: %w", s.setup, tenant, err)
	}
	steps := map[string]time.Duration{}
	for _, e := range events {
		if e.Type == stamp.EventStep && e.Status == stamp.StatusOK && !e.StartedAt.Before(since) {
			steps[e.Step] += e.FinishedAt.Sub(e.StartedAt)
		}
	}
	return steps, nil
}

// explain says where a tenant that did not come up got to, for errors.
func (s *server) explain(name string) string {
	if err := s.Alive(); err != nil {
		return "\n" + err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t, err := s.Client.GetTenant(ctx, name)
	if err != nil {
		return fmt.Sprintf("\n(get tenant: %v)", err)
	}
	return fmt.Sprintf("\ntenant phase %s, failed step %q: %s", t.Status.Phase, t.Status.FailedStep, t.Status.Message)
}

// deleteAll deletes every tenant through the API and waits, until ctx
// ends, for the server to have removed them all.
func (s *server) deleteAll(ctx context.Context) error {
	tenants, err := s.Client.ListTenants(ctx)
	if err != nil {
		return fmt.Errorf("%s server: list tenants: %w", s.setup, err)
	}
	for _, t := range tenants {
		if _, err := s.Client.DeleteTenant(ctx, t.Name, httpapi.DeleteOptions{Purge: true}); err != nil && stamp.ErrorCode(err) != stamp.ENOTFOUND {
			return fmt.Errorf("%s server: delete tenant %s: %w", s.setup, t.Name, err)
		}
	}
	for {
		left, err := s.Client.ListTenants(ctx)
		if err != nil {
			return fmt.Errorf("%s server: list tenants: %w", s.setup, err)
		}
		if len(left) == 0 {
			return nil
		}
		if err := benchkit.Sleep(ctx, 200*time.Millisecond); err != nil {
			names := make([]string, len(left))
			for i, t := range left {
				names[i] = t.Name
			}
			slices.Sort(names)
			return fmt.Errorf("%s server: tenants not yet removed (%w): %v", s.setup, err, names)
		}
	}
}

// stop asks the server to end (SIGTERM, by its pid) and waits up to
// grace, then kills it and every tenant process of its data dir.
func (s *server) stop(grace time.Duration) error {
	_ = syscall.Kill(s.PID(), syscall.SIGTERM) // it may have exited already
	select {
	case <-s.Exited():
	case <-time.After(grace):
	}
	return s.Stop()
}
