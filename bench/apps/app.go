package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// app is one real example app: its blueprint, the path whose first 200
// ends a sample, and how an operator runs it by hand.
type app struct {
	name     string // the blueprint's name
	example  string // its directory, from the module root
	health   string // path of the app's health check
	postgres bool   // its tenants need --tenant-postgres
	// byHand takes one floor sample in the empty directory dir, with the
	// built blueprint directory bp, and records its steps in s.
	byHand func(ctx context.Context, b *bench, bp, dir string, s *sample) error
}

// apps are the apps the bench knows, by name.
var apps = map[string]*app{
	"miniflux": {name: "miniflux", example: "examples/miniflux", health: "/healthcheck", postgres: true, byHand: minifluxByHand},
	"radicale": {name: "radicale", example: "examples/radicale", health: "/.web/", byHand: radicaleByHand},
}

// minifluxByHand does what the Miniflux blueprint has Stamp do, in the
// order its docs give: a database and role of its own, `miniflux
// -migrate`, the admin created from the environment (`CREATE_ADMIN`, in
// the shortest run that reads it: `-run-cleanup-tasks`), then `miniflux`
// serving on a loopback port until the first 200 of /healthcheck.
func minifluxByHand(ctx context.Context, b *bench, bp, dir string, s *sample) error {
	bin := filepath.Join(bp, "bin", "miniflux")
	env := baseEnv(dir)
	var dbURL string
	if err := s.step("database", func() (err error) {
		dbURL, err = b.floorDB.Create(ctx, s.n)
		return err
	}); err != nil {
		return err
	}
	env = append(env, "DATABASE_URL="+dbURL)
	if err := s.step("migrate", func() error { return runApp(ctx, dir, env, bin, "-migrate") }); err != nil {
		return err
	}
	seedEnv := append(env[:len(env):len(env)], "CREATE_ADMIN=1", "ADMIN_USERNAME=admin", "ADMIN_PASSWORD="+rand.Text())
	if err := s.step("seed", func() error { return runApp(ctx, dir, seedEnv, bin, "-run-cleanup-tasks") }); err != nil {
		return err
	}
	return s.step("start to first 200", func() error {
		addr, err := benchkit.FreePort()
		if err != nil {
			return err
		}
		return serveUntilHealthy(ctx, dir, append(env, "LISTEN_ADDR="+addr, "BASE_URL=http://"+addr), "http://"+addr+"/healthcheck", bin)
	})
}

// radicaleByHand starts Radicale as the Radicale blueprint does, on a
// fresh data directory, until the first 200 of /.web/.
func radicaleByHand(ctx context.Context, _ *bench, _, dir string, s *sample) error {
	return s.step("start to first 200", func() error {
		addr, err := benchkit.FreePort()
		if err != nil {
			return err
		}
		return serveUntilHealthy(ctx, dir, baseEnv(dir), "http://"+addr+"/.web/",
			"radicale", "--config", "", "--server-hosts", addr, "--storage-filesystem-folder", filepath.Join(dir, "collections"),
			"--auth-type", "none", "--server-max-content-length", "10000000")
	})
}

// baseEnv is the environment of a process started by hand in dir.
func baseEnv(dir string) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + dir}
}

// runApp runs argv in dir and waits for it.
func runApp(ctx context.Context, dir string, env []string, argv ...string) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %w\n%s", argv, err, out)
	}
	return nil
}

// serveUntilHealthy starts argv in dir, waits for the first 200 of url,
// and stops it again.
func serveUntilHealthy(ctx context.Context, dir string, env []string, url string, argv ...string) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	p, err := benchkit.StartProc(cmd)
	if err != nil {
		return fmt.Errorf("start %v: %w", argv, err)
	}
	defer p.Stop(10 * time.Second)
	if err := benchkit.WaitOK(ctx, url, "", p.Exited()); err != nil {
		out, _ := os.ReadFile(logf.Name())
		return fmt.Errorf("%w\n%s printed:\n%s", err, argv[0], out)
	}
	return nil
}
