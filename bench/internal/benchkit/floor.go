package benchkit

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// FloorDB makes the database of one floor sample by hand, as an operator
// would without Stamp, and takes it away afterwards.
type FloorDB interface {
	// Create makes the database of floor sample n, whose directory is
	// dir, and returns the DATABASE_URL the app is given.
	Create(ctx context.Context, dir string, n int64) (string, error)
	// Drop removes the database of sample n once its app has stopped. It
	// is safe after a Create that failed half way.
	Drop(ctx context.Context, n int64) error
}

// SQLiteFloor gives each floor sample an SQLite file in its directory:
// the app creates the file, and removing the directory removes it.
type SQLiteFloor struct{}

// Create returns the URL of ledger.db in dir.
func (SQLiteFloor) Create(_ context.Context, dir string, _ int64) (string, error) {
	return "sqlite:" + filepath.Join(dir, "ledger.db"), nil
}

// Drop does nothing: the file goes with the sample's directory.
func (SQLiteFloor) Drop(context.Context, int64) error { return nil }

var _ FloorDB = SQLiteFloor{}

// Floor starts the example app by hand, as its own cold start: the floor
// a tenant's provisioning is compared with. It tracks the processes it
// starts, so that KillAll ends whatever an interrupted sample left.
type Floor struct {
	Ledger string  // the app's binary
	Dir    string  // each sample gets a directory of its own under it
	DB     FloorDB // makes each sample's database

	mu    sync.Mutex
	procs map[*Proc]bool
}

// FloorSample is one start of the app by hand, from just before its
// database is made (Start) until /healthz has answered 200 and the seed
// has exited, whichever is later (End).
type FloorSample struct {
	Start, End time.Time
	// Created is when the database was made, Migrated when `ledger
	// migrate` finished, Healthy when `ledger serve` first answered 200
	// and Seeded when `ledger seed` exited.
	Created, Migrated, Healthy, Seeded time.Time
}

// Took is the sample's time from Start to End.
func (s FloorSample) Took() time.Duration { return s.End.Sub(s.Start) }

// Sample starts the app by hand in a fresh directory: makes its database
// (f.DB), runs `ledger migrate`, then `ledger seed` and `ledger serve`
// side by side, timed from just before the database is made until
// /healthz (polled every PollEvery) has answered 200 and the seed has
// exited, whichever is later: a tenant is not whole before its seed, and
// Stamp's route waits for it too. It then stops the app, drops the
// database and removes the directory. n names the sample, distinct
// within f.
func (f *Floor) Sample(ctx context.Context, n int64) (s FloorSample, err error) {
	dir := filepath.Join(f.Dir, strconv.FormatInt(n, 10))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return FloorSample{}, fmt.Errorf("floor %d: %w", n, err)
	}
	defer os.RemoveAll(dir)
	defer func() {
		if derr := f.DB.Drop(ctx, n); derr != nil && err == nil {
			err = fmt.Errorf("floor %d: %w", n, derr)
		}
	}()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + dir}

	s.Start = time.Now()
	dbURL, err := f.DB.Create(ctx, dir, n)
	if err != nil {
		return FloorSample{}, fmt.Errorf("floor %d: %w", n, err)
	}
	s.Created = time.Now()
	env = append(env, "DATABASE_URL="+dbURL)
	if err := f.runLedger(ctx, dir, env, "migrate"); err != nil {
		return FloorSample{}, fmt.Errorf("floor %d: %w", n, err)
	}
	s.Migrated = time.Now()
	seeded := make(chan error, 1)
	go func() {
		err := f.runLedger(ctx, dir, env, "seed")
		s.Seeded = time.Now()
		seeded <- err
	}()
	s.Healthy, err = f.serveUntilHealthy(ctx, dir, env)
	if serr := <-seeded; err == nil {
		err = serr
	}
	if err != nil {
		return FloorSample{}, fmt.Errorf("floor %d: %w", n, err)
	}
	s.End = s.Healthy
	if s.Seeded.After(s.End) {
		s.End = s.Seeded
	}
	return s, nil
}

// serveUntilHealthy starts `ledger serve` in dir on a free loopback port,
// waits for the first 200 of /healthz, stops it again and returns when the
// 200 came.
func (f *Floor) serveUntilHealthy(ctx context.Context, dir string, env []string) (healthy time.Time, err error) {
	addr, err := FreePort()
	if err != nil {
		return healthy, err
	}
	_, port, _ := net.SplitHostPort(addr)
	serve := exec.Command(f.Ledger, "serve")
	serve.Dir, serve.Env = dir, append(env, "PORT="+port, "TENANT=floor")
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return healthy, err
	}
	defer logf.Close()
	serve.Stdout, serve.Stderr = logf, logf
	p, err := StartProc(serve)
	if err != nil {
		return healthy, fmt.Errorf("start ledger serve: %w", err)
	}
	f.track(p, true)
	err = WaitOK(ctx, "http://"+addr+"/healthz", "", p.Exited())
	healthy = time.Now()
	p.Stop(10 * time.Second)
	f.track(p, false)
	if err != nil {
		out, _ := os.ReadFile(logf.Name())
		return healthy, fmt.Errorf("%w\nledger serve printed:\n%s", err, out)
	}
	return healthy, nil
}

// runLedger runs `ledger <command>` in dir and waits for it.
func (f *Floor) runLedger(ctx context.Context, dir string, env []string, command string) error {
	cmd := exec.CommandContext(ctx, f.Ledger, command)
	cmd.Dir, cmd.Env = dir, env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ledger %s: %w\n%s", command, err, out)
	}
	return nil
}

// track adds p to the processes KillAll ends, or removes it.
func (f *Floor) track(p *Proc, running bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.procs == nil {
		f.procs = map[*Proc]bool{}
	}
	if running {
		f.procs[p] = true
	} else {
		delete(f.procs, p)
	}
}

// KillAll kills every `ledger serve` a sample still runs, by its pid.
func (f *Floor) KillAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for p := range f.procs {
		p.Kill()
		delete(f.procs, p)
	}
}
