package postgres_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stamphq/stamp/engine/postgres"
)

// fakeTools writes a fake pg_dump that writes for ever and a fake
// pg_restore that never reads its input and leaves a child holding its
// stderr open, into a directory it returns with the directory the fake
// pg_restore writes the pids of itself and its child in. They are fakes
// because the real tools cannot be made to stall on demand.
func fakeTools(t *testing.T) (bin, pids string) {
	t.Helper()
	bin, pids = t.TempDir(), t.TempDir()
	for name, script := range map[string]string{
		"pg_dump":    "#!/bin/sh\nexec yes stamp\n",
		"pg_restore": "#!/bin/sh\necho $$ > " + pids + "/restore\nsleep 600 &\necho $! > " + pids + "/child\nwait\n",
	} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bin, pids
}

// gone reports whether the process whose pid is in file has ended.
func gone(t *testing.T, file string) bool {
	t.Helper()
	pid, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("the fake pg_restore left no pid: %v", err)
	}
	stat, err := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/stat")
	return err != nil || strings.Contains(string(stat), ") Z ")
}

// TestSnapshotStalledPipe snapshots through a pg_restore that never reads
// what pg_dump writes: past the snapshot timeout both tools are killed
// with their process groups, Snapshot fails naming them and the
// deadline, and the database's lock is free again.
func TestSnapshotStalledPipe(t *testing.T) {
	bin, pids := fakeTools(t)
	e := newEngine(t, postgres.WithClientTools(bin), postgres.WithSnapshotTimeout(2*time.Second))
	s, _ := ensureApp(t, e)

	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- e.Snapshot(t.Context(), s, "pre-2") }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("Snapshot with a stalled pipe still running after 30s")
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("Snapshot with a stalled pipe took %s, want about the 2s timeout", took)
	}
	if err == nil || !strings.Contains(err.Error(), "pg_dump | pg_restore did not finish within 2s (the snapshot timeout)") {
		t.Errorf("Snapshot with a stalled pipe: got %v, want the timeout named", err)
	}
	for _, p := range []string{"restore", "child"} {
		deadline := time.Now().Add(5 * time.Second)
		for !gone(t, filepath.Join(pids, p)) {
			if time.Now().After(deadline) {
				t.Fatalf("the fake pg_restore's %s outlived the timeout", p)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// The lock is free: another engine with the real tools snapshots the
	// same database, bounded so a held lock fails instead of hanging.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := newEngine(t).Snapshot(ctx, s, "pre-2"); err != nil {
		t.Errorf("Snapshot after the stalled one: %v", err)
	}
}
