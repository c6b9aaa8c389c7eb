package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bench/chaos/check"
	"github.com/stamphq/stamp/bench/internal/benchkit"
	"github.com/stamphq/stamp/driver/local/cgroup"
	"github.com/stamphq/stamp/httpapi"
	"golang.org/x/sync/errgroup"
)

const (
	// from and to are the versions released: real releases 1 and 2 of
	// the example app.
	from, to = "1.0.0", "2.0.0"
	// tenantNet is the pool of the tenants' addresses, in the block set
	// aside for benchmarks (RFC 2544). bench/isolation's pool is the
	// whole block, but its users (6,000,000-6,000,999) put its tenants
	// at 198.18.54.0-198.18.69.255 only, so no address of the two meets.
	tenantNet = "198.19.0.0/16"
	// uidBase starts the blocks of tenant users the rounds draw from:
	// 100 blocks of 1,000, clear of the server's default range, the
	// tests' (from 3,000,000 and 4,000,000) and bench/isolation's
	// (6,000,000), so that the users and their interfaces (stv<uid>)
	// found on the host are the round's.
	uidBase = 7_000_000
	// restWait bounds how long the host may take to match the store once
	// the fleet is at rest (a killed instance's group being reaped).
	restWait = 15 * time.Second
)

// roundResult is what one round did and found.
type roundResult struct {
	n       int
	killAt  time.Duration // after the release was created; -1 for the calm round
	atKill  string        // the release just before the kill; "" if it had ended
	restart time.Duration // from the kill until the server was ready again
	state   string        // the release's state at its end
	release time.Duration // release created to finished, the server's clock
	// seen is what the host check found of the fleet at rest.
	seen     string
	findings []check.Finding
	took     time.Duration
}

// roundRun is one round under way.
type roundRun struct {
	b    *bench
	res  *roundResult
	srv  *benchkit.Server
	host check.HostConfig
	// names are the tenants the round creates.
	names []string
}

// round runs round n: a fresh server and fleet, a release killed at
// killAt after its start (none when killAt < 0), the checks, and the
// deletion of every tenant, checked too. An error means the round could
// not run; what it found is in the result.
func (b *bench) round(ctx context.Context, n int, rng *rand.Rand, killAt time.Duration) (_ *roundResult, err error) {
	start := time.Now()
	r := &roundRun{b: b, res: &roundResult{n: n, killAt: killAt}}
	defer func() {
		err = errors.Join(err, b.undo())
		r.res.took = time.Since(start)
	}()
	dir := filepath.Join(b.tmp, fmt.Sprintf("round-%d", n))
	if err := os.Mkdir(dir, 0o711); err != nil {
		return nil, err
	}
	b.cleanups = append(b.cleanups, func() error { return benchkit.RemoveAll(dir) })
	if err := r.startServer(ctx, dir, rng); err != nil {
		return nil, err
	}
	if err := r.createFleet(ctx); err != nil {
		return nil, err
	}
	id, err := r.startRelease(ctx)
	if err != nil {
		return nil, err
	}
	if killAt >= 0 {
		if err := r.kill(ctx, id, killAt); err != nil {
			return nil, err
		}
	}
	if err := r.awaitEnd(ctx, id); err != nil {
		return nil, err
	}
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	if err := r.deleteAll(ctx); err != nil {
		return nil, err
	}
	return r.res, nil
}

// startServer starts the round's server on dir/data, with a block of
// tenant users and ports of its own drawn from rng and, with -store, a
// database of its own.
func (r *roundRun) startServer(ctx context.Context, dir string, rng *rand.Rand) error {
	b := r.b
	data := filepath.Join(dir, "data")
	uidLo := uidBase + 1000*rng.IntN(100)
	portLo := 26000 + rng.IntN(6000-200)
	flags := []string{"--tenant-uids", fmt.Sprintf("%d-%d", uidLo, uidLo+999), "--tenant-net", tenantNet,
		"--ports", fmt.Sprintf("%d-%d", portLo, portLo+199), "--log-level", "debug"}
	if b.cfg.store != "" {
		name := fmt.Sprintf("stamp_chaos_%d_%d", os.Getpid(), r.res.n)
		url, err := benchkit.CreateDatabase(ctx, b.cfg.store, name)
		if err != nil {
			return err
		}
		b.cleanups = append(b.cleanups, func() error { return benchkit.DropDatabase(ctx, b.cfg.store, name) })
		flags = append(flags, "--store", url)
	}
	// Below the servers' default tenant ports and the ranges the tests
	// and the other benches draw from, and below the ephemeral ones, so
	// that they are still free when the server restarts on them.
	addrs, err := benchkit.FreePortsIn(9000, 9999, 2)
	if err != nil {
		return err
	}
	api, router := addrs[0], addrs[1]
	r.host = check.HostConfig{Data: data, UIDMin: uidLo, UIDMax: uidLo + 999, CgroupParent: cgroup.ParentOf(filepath.Join(data, "local"))}
	b.progress("round %d: start stamp server (tenant users %d-%d)", r.res.n, uidLo, uidLo+999)
	srv, err := benchkit.StartServerOn(ctx, b.apps.Stamp, data, filepath.Join(dir, "server.log"), api, router, flags...)
	if srv != nil {
		b.cleanups = append(b.cleanups, func() error {
			err := srv.Stop()
			_, serr := benchkit.SweepHost(data, tenantNet, true)
			return errors.Join(err, serr)
		})
	}
	r.srv = srv
	return err
}

// createFleet pushes both versions and creates the tenants on the old
// one, 8 API calls at a time, and waits until every one is ready.
func (r *roundRun) createFleet(ctx context.Context) error {
	for _, bp := range r.b.apps.Blueprints {
		if _, err := r.srv.Push(ctx, bp); err != nil {
			return err
		}
	}
	r.b.progress("round %d: create %d tenants on %s", r.res.n, r.b.cfg.tenants, from)
	for i := range r.b.cfg.tenants {
		r.names = append(r.names, fmt.Sprintf("c-%03d", i+1))
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, name := range r.names {
		g.Go(func() error {
			_, err := r.srv.Client.CreateTenant(gctx, httpapi.CreateTenantRequest{Name: name, Blueprint: "ledger", Version: from})
			if err != nil {
				return fmt.Errorf("create tenant %s: %w", name, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return r.poll(ctx, "every tenant ready", func() (bool, error) {
		list, err := r.srv.Client.ListTenants(ctx)
		if err != nil {
			return false, err
		}
		ready := 0
		for _, t := range list {
			if t.Status.Phase == stamp.PhaseFailed {
				return false, fmt.Errorf("tenant %s failed at step %s: %s", t.Name, t.Status.FailedStep, t.Status.Message)
			}
			if t.Ready() {
				ready++
			}
		}
		return ready == len(r.names), nil
	})
}

// startRelease releases the new version over the fleet.
func (r *roundRun) startRelease(ctx context.Context) (string, error) {
	cfg := r.b.cfg
	soak := stamp.Duration(cfg.soak)
	rel, err := r.srv.Client.CreateRelease(ctx, httpapi.CreateReleaseRequest{Blueprint: "ledger", Version: to,
		Waves: cfg.waves, MaxParallel: cfg.maxParallel, Soak: &soak, OnFailure: stamp.OnFailureRollback})
	if err != nil {
		return "", fmt.Errorf("create release: %w", err)
	}
	r.b.progress("round %d: release %s of %s over %d tenants", r.res.n, rel.ID, to, len(rel.Status.Tenants))
	return rel.ID, nil
}

// kill kills the server by its pid at killAt after release id was
// created, and starts it again on the same data dir and ports.
func (r *roundRun) kill(ctx context.Context, id string, killAt time.Duration) error {
	rel, err := r.srv.Client.Release(ctx, id)
	if err != nil {
		return fmt.Errorf("get release %s: %w", id, err)
	}
	// The server's clock and ours are the same machine's.
	if err := benchkit.Sleep(ctx, time.Until(rel.CreatedAt.Add(killAt))); err != nil {
		return err
	}
	if rel, err = r.srv.Client.Release(ctx, id); err != nil {
		return fmt.Errorf("get release %s: %w", id, err)
	}
	r.srv.Kill()
	killed := time.Now()
	if !rel.Finished() {
		r.res.atKill = describeRelease(rel)
	}
	r.b.progress("round %d: killed the server at %s (%s)", r.res.n, killAt.Round(time.Millisecond), orEnded(r.res.atKill))
	for try := 1; ; try++ {
		err := r.srv.Restart(ctx)
		if err == nil {
			break
		}
		// A supervisor would start it again: so does the round, once the
		// refusal is recorded.
		first, _, _ := strings.Cut(err.Error(), "\n")
		r.find([]check.Finding{{Kind: check.KindRestart, Subject: "stamp server", What: fmt.Sprintf("start %d after the kill failed: %s; log: %s", try, first, lastLine(r.srv.LogTail()))}})
		if try == restartTries {
			return err
		}
		if err := benchkit.Sleep(ctx, time.Second); err != nil {
			return err
		}
	}
	r.res.restart = time.Since(killed)
	return nil
}

// restartTries is how many times a round starts its server after the
// kill before it gives up.
const restartTries = 5

// lastLine returns the last line of s.
func lastLine(s string) string {
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// awaitEnd waits until release id has ended (finished, or paused for an
// operator) and then until the fleet is at rest. Past the deadline it
// returns without error: the checks then say what did not end.
func (r *roundRun) awaitEnd(ctx context.Context, id string) error {
	var rel *stamp.Release
	err := r.poll(ctx, "release "+id+" ended", func() (bool, error) {
		var err error
		rel, err = r.srv.Client.Release(ctx, id)
		return err == nil && (rel.Finished() || rel.Status.State == stamp.ReleasePaused), err
	})
	if rel != nil {
		r.res.state = rel.Status.State
		if rel.Finished() {
			r.res.release = rel.Status.FinishedAt.Sub(rel.CreatedAt)
		}
	}
	if err != nil && !errors.Is(err, errDeadline) {
		return err
	}
	err = r.poll(ctx, "fleet at rest", func() (bool, error) {
		tenants, releases, err := r.read(ctx)
		return err == nil && len(check.AtRest(tenants, releases)) == 0, err
	})
	if err != nil && !errors.Is(err, errDeadline) {
		return err
	}
	return nil
}

// check reads the store and the host and records what disagrees.
func (r *roundRun) check(ctx context.Context) error {
	tenants, releases, err := r.read(ctx)
	if err != nil {
		return err
	}
	events, err := r.srv.AllEvents(ctx)
	if err != nil {
		return err
	}
	r.find(check.Releases(releases, events))
	r.find(check.Tenants(tenants, events))
	r.find(check.AtRest(tenants, releases))
	h, err := r.checkHost(ctx, tenants)
	r.res.seen = describeHost(h)
	return err
}

// checkHost records what of the host no tenant of tenants accounts for,
// once it still does after restWait: a process being reaped or a group
// being removed as the check reads is not left over.
// It returns the host as last read.
func (r *roundRun) checkHost(ctx context.Context, tenants []*stamp.Tenant) (check.Host, error) {
	var h check.Host
	var found []check.Finding
	ctx, cancel := context.WithTimeout(ctx, restWait)
	defer cancel()
	err := poll(ctx, func() (bool, error) {
		var err error
		h, err = check.ReadHost(r.host)
		found = check.Orphans(h, tenants)
		return err == nil && len(found) == 0, err
	})
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return h, err
	}
	r.find(found)
	return h, nil
}

// deleteAll deletes every tenant, waits until they are gone, checks the
// tenants' events and the host again, then stops the server and records
// what it left on the host.
func (r *roundRun) deleteAll(ctx context.Context) error {
	r.b.progress("round %d: delete every tenant", r.res.n)
	for _, name := range r.names {
		if _, err := r.srv.Client.DeleteTenant(ctx, name, httpapi.DeleteOptions{Purge: true}); err != nil && stamp.ErrorCode(err) != stamp.ENOTFOUND {
			return fmt.Errorf("delete tenant %s: %w", name, err)
		}
	}
	var left []*stamp.Tenant
	err := r.poll(ctx, "every tenant deleted", func() (bool, error) {
		var err error
		left, err = r.srv.Client.ListTenants(ctx)
		return err == nil && len(left) == 0, err
	})
	if err != nil && !errors.Is(err, errDeadline) {
		return err
	}
	for _, t := range left {
		r.find([]check.Finding{{Kind: check.KindUnsettled, Subject: "tenant " + t.Name, What: fmt.Sprintf("still in the store (phase %s) %s after its deletion was asked", t.Status.Phase, r.b.cfg.deadline)}})
	}
	events, err := r.srv.AllEvents(ctx)
	if err != nil {
		return err
	}
	r.find(check.Tenants(left, events))
	if _, err := r.checkHost(ctx, left); err != nil {
		return err
	}
	err = r.srv.Stop()
	swept, serr := benchkit.SweepHost(r.host.Data, tenantNet, true)
	for _, s := range swept {
		r.find([]check.Finding{{Kind: check.KindOrphan, Subject: s, What: "left on the host by the server, stopped after every tenant was deleted"}})
	}
	return errors.Join(err, serr)
}

// read reads every tenant and release.
func (r *roundRun) read(ctx context.Context) ([]*stamp.Tenant, []*stamp.Release, error) {
	tenants, err := r.srv.Client.ListTenants(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("list tenants: %w", err)
	}
	releases, err := r.srv.Client.Releases(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("list releases: %w", err)
	}
	return tenants, releases, nil
}

// find records findings.
func (r *roundRun) find(findings []check.Finding) {
	r.res.findings = append(r.res.findings, findings...)
}
