package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// floorDB is the database file of the floor's template, and of each
// sample's copy of it.
const floorDB = "ledger.db"

// floorTemplate makes the database every floor sample starts from, as a
// sleeping tenant's is: migrated and seeded. It returns its directory.
func (b *bench) floorTemplate(ctx context.Context) (string, error) {
	dir := filepath.Join(b.tmp, "floor", "template")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	env := floorEnv(dir)
	for _, args := range [][]string{{"migrate"}, {"seed"}} {
		cmd := exec.CommandContext(ctx, b.ledger, args...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("floor template: ledger %s: %w\n%s", args[0], err, out)
		}
	}
	return dir, nil
}

// floorEnv is the environment of the app by hand in dir, as Stamp gives
// its tenants (less the port).
func floorEnv(dir string) []string {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // never fails
	return []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + dir,
		"DATABASE_URL=sqlite:" + filepath.Join(dir, floorDB),
		"SESSION_KEY=" + hex.EncodeToString(key), "CURRENCY=EUR", "TENANT=floor",
	}
}

// floorSample copies the template's database into a directory of its
// own (not timed), then starts `ledger serve` on it on a free loopback
// port and times it from just before the start to the first 200 of
// /healthz (polled every benchkit.PollEvery). It then stops the app and
// removes the directory.
func (b *bench) floorSample(ctx context.Context, tmpl string, n int) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.timeout)
	defer cancel()
	dir := filepath.Join(b.tmp, "floor", strconv.Itoa(n))
	if err := copyDir(tmpl, dir); err != nil {
		return 0, fmt.Errorf("floor %d: %w", n, err)
	}
	defer os.RemoveAll(dir)
	addr, err := benchkit.FreePort()
	if err != nil {
		return 0, err
	}
	_, port, _ := net.SplitHostPort(addr)
	serve := exec.Command(b.ledger, "serve")
	serve.Dir, serve.Env = dir, append(floorEnv(dir), "HOST=127.0.0.1", "PORT="+port)
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	serve.Stdout, serve.Stderr = logf, logf
	start := time.Now()
	p, err := benchkit.StartProc(serve)
	if err != nil {
		return 0, fmt.Errorf("floor %d: start ledger serve: %w", n, err)
	}
	b.floors.add(p)
	err = benchkit.WaitOK(ctx, "http://"+addr+"/healthz", "", p.Exited())
	took := time.Since(start)
	p.Stop(10 * time.Second)
	b.floors.remove(p)
	if err != nil {
		out, _ := os.ReadFile(logf.Name())
		return 0, fmt.Errorf("floor %d: %w\nledger serve printed:\n%s", n, err, out)
	}
	return took, nil
}

// copyDir copies the database files (floorDB and its -wal and -shm, if
// any) of directory from into a new directory to.
func copyDir(from, to string) error {
	if err := os.MkdirAll(to, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), floorDB) {
			continue
		}
		if err := copyFile(filepath.Join(from, e.Name()), filepath.Join(to, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return fmt.Errorf("copy %s: %w", from, err)
	}
	return dst.Close()
}

// floorSet tracks the hand-started ledger processes so that cleanup can
// kill whatever is left.
type floorSet struct {
	mu    sync.Mutex
	procs map[*benchkit.Proc]bool
}

func newFloorSet() *floorSet { return &floorSet{procs: map[*benchkit.Proc]bool{}} }

func (s *floorSet) add(p *benchkit.Proc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.procs[p] = true
}

func (s *floorSet) remove(p *benchkit.Proc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.procs, p)
}

// killAll kills every tracked process, by its pid.
func (s *floorSet) killAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range s.procs {
		p.Kill()
		delete(s.procs, p)
	}
}
