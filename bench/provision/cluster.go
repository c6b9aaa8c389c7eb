package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// cluster is a throwaway PostgreSQL cluster that scripts/postgres runs in
// dir: tenant databases and floor databases both live on it.
type cluster struct {
	script string // scripts/postgres
	dir    string
	url    string // superuser URL
}

// startCluster starts a cluster in dir with the repository's script. The
// postgres user must be able to traverse dir's parent. The returned
// cluster is non-nil whenever the script ran, so the caller can stop it.
func startCluster(ctx context.Context, root, dir string) (*cluster, error) {
	c := &cluster{script: filepath.Join(root, "scripts", "postgres"), dir: dir}
	cmd := exec.CommandContext(ctx, c.script, "start", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return c, fmt.Errorf("start PostgreSQL: %w\n%s", err, stderr.Bytes())
	}
	lines := strings.Fields(string(out))
	if len(lines) == 0 {
		return c, fmt.Errorf("start PostgreSQL: the script printed no URL\n%s", stderr.Bytes())
	}
	c.url = lines[len(lines)-1]
	return c, nil
}

// stop stops the cluster immediately. It runs on every exit path, Ctrl-C
// included, so it does not use the run's (then cancelled) context.
func (c *cluster) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, c.script, "stop", c.dir).CombinedOutput(); err != nil {
		return fmt.Errorf("stop PostgreSQL: %w\n%s", err, out)
	}
	return nil
}
