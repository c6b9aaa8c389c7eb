package local

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/stamphq/stamp"
)

// TestStopSweeps: Stop kills what else of the tenant runs and records it
// swept, so that taking it up again (a wake) skips the look through the
// host's processes; anything of the tenant that starts afterwards, an
// instance or a task, clears the record first, so a take-up after a
// crash looks again and kills what nothing accounts for.
func TestStopSweeps(t *testing.T) {
	dir := newDir(t)
	d := open(t, dir)
	ctx := context.Background()
	rt := runtime("acme", web(1, "serve"))
	apply(t, d, rt)
	running(t, d, "acme", "web", 1)
	plant := func(marker string) *exec.Cmd {
		t.Helper()
		cmd := exec.Command(filepath.Join(dir, "bundles", strings.TrimPrefix(app.ref.Digest, "sha256:"), "bin", "app"), "sleep", "1h")
		cmd.Env = []string{markerVar + "=" + dir + "|" + marker}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	swept := func(want bool) {
		t.Helper()
		var st tenantState
		if _, err := readJSON(filepath.Join(dir, "tenants", "acme", "state.json"), &st); err != nil {
			t.Fatal(err)
		}
		if st.Swept != want {
			t.Errorf("state swept: got %t, want %t", st.Swept, want)
		}
	}
	swept(false)

	leftover := plant("acme/task:old") // a task's leftover nothing accounts for
	if err := d.Stop(ctx, "acme"); err != nil {
		t.Fatalf("stop: %v", err)
	}
	waitKilled(t, leftover)
	swept(true)

	// A task on the stopped tenant (a migration of a sleeping tenant's
	// upgrade) clears it before it starts; the control plane goes down
	// while it runs, and a process nothing accounts for appears.
	task := &stamp.Task{Name: "migrate-g2", Bundle: app.ref, Command: command("sleep", "1h")}
	if err := d.StartTask(ctx, "acme", task); err != nil {
		t.Fatalf("start task: %v", err)
	}
	swept(false)
	d.Close()
	orphan := plant("acme/web-9")
	d = open(t, dir)
	observe(t, d, "acme") // takes it up
	waitKilled(t, orphan)
	ids := markedIDs(dir)
	if len(ids) == 0 || slices.ContainsFunc(ids, func(id string) bool { return id != "acme/task:migrate-g2" }) {
		t.Errorf("processes after the take-up: got %q, want the task's (its shell and command) alone", ids)
	}

	// Stopped while the task runs, it is not swept; applied (a wake), it
	// runs again.
	if err := d.Stop(ctx, "acme"); err != nil {
		t.Fatalf("stop with a task under way: %v", err)
	}
	swept(false)
	apply(t, d, rt)
	running(t, d, "acme", "web", 1)
	swept(false)
}
