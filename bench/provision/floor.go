package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// sample is one measured provisioning: from just before the first action
// (start) to the first 200 (end), for the floor also the seed done.
type sample struct {
	name       string // the tenant's name; empty for the floor
	start, end time.Time
	// created is when the database was made, migrated when `ledger
	// migrate` finished, healthy when `ledger serve` first answered 200
	// and seeded when `ledger seed` exited, for the floor.
	created, migrated, healthy, seeded time.Time
}

func (s sample) took() time.Duration { return s.end.Sub(s.start) }

// floorSample starts the app by hand in a fresh directory, as its own
// cold start: makes its database (see floorDB), runs `ledger migrate`,
// then `ledger seed` and `ledger serve` side by side, timed from just
// before the database is made until /healthz has answered 200 and the
// seed has exited, whichever is later (a tenant is not whole before its
// seed: Stamp's route waits for it too). It then stops the app, drops
// the database and removes the directory.
func (b *bench) floorSample(ctx context.Context, n int64) (s sample, err error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.timeout)
	defer cancel()
	dir := filepath.Join(b.tmp, "floor", strconv.FormatInt(n, 10))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return sample{}, err
	}
	defer os.RemoveAll(dir)
	defer func() {
		if derr := b.db.drop(ctx, n); derr != nil && err == nil {
			err = fmt.Errorf("floor %d: %w", n, derr)
		}
	}()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + dir}

	s.start = time.Now()
	dbURL, err := b.db.create(ctx, dir, n)
	if err != nil {
		return sample{}, fmt.Errorf("floor %d: %w", n, err)
	}
	s.created = time.Now()
	env = append(env, "DATABASE_URL="+dbURL)
	if err := b.runLedger(ctx, dir, env, "migrate"); err != nil {
		return sample{}, fmt.Errorf("floor %d: %w", n, err)
	}
	s.migrated = time.Now()
	seeded := make(chan error, 1)
	go func() {
		err := b.runLedger(ctx, dir, env, "seed")
		s.seeded = time.Now()
		seeded <- err
	}()
	s.healthy, err = b.serveUntilHealthy(ctx, dir, env)
	if serr := <-seeded; err == nil {
		err = serr
	}
	if err != nil {
		return sample{}, fmt.Errorf("floor %d: %w", n, err)
	}
	s.end = s.healthy
	if s.seeded.After(s.end) {
		s.end = s.seeded
	}
	return s, nil
}

// serveUntilHealthy starts `ledger serve` in dir on a free loopback port,
// waits for the first 200 of /healthz, stops it again and returns when the
// 200 came.
func (b *bench) serveUntilHealthy(ctx context.Context, dir string, env []string) (healthy time.Time, err error) {
	addr, err := benchkit.FreePort()
	if err != nil {
		return healthy, err
	}
	_, port, _ := net.SplitHostPort(addr)
	serve := exec.Command(b.ledger, "serve")
	serve.Dir, serve.Env = dir, append(env, "PORT="+port, "TENANT=floor")
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return healthy, err
	}
	defer logf.Close()
	serve.Stdout, serve.Stderr = logf, logf
	p, err := benchkit.StartProc(serve)
	if err != nil {
		return healthy, fmt.Errorf("start ledger serve: %w", err)
	}
	b.floors.add(p)
	err = benchkit.WaitOK(ctx, "http://"+addr+"/healthz", "", p.Exited())
	healthy = time.Now()
	p.Stop(10 * time.Second)
	b.floors.remove(p)
	if err != nil {
		out, _ := os.ReadFile(logf.Name())
		return healthy, fmt.Errorf("%w\nledger serve printed:\n%s", err, out)
	}
	return healthy, nil
}

// runLedger runs `ledger <command>` in dir and waits for it.
func (b *bench) runLedger(ctx context.Context, dir string, env []string, command string) error {
	cmd := exec.CommandContext(ctx, b.ledger, command)
	cmd.Dir, cmd.Env = dir, env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ledger %s: %w\n%s", command, err, out)
	}
	return nil
}
