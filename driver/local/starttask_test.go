package local

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stamphq/stamp"
)

// TestStartTaskThenRun starts a task without waiting for it, then waits
// for that run with RunTask: the task runs once, however often it is
// started, before and after it ended.
func TestStartTaskThenRun(t *testing.T) {
	dir := newDir(t)
	d := open(t, dir)
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "runs")
	task := &stamp.Task{Name: "seed-g1", Bundle: app.ref, Command: command("append", file, "300ms")}
	if err := d.StartTask(ctx, "acme", task); err != nil {
		t.Fatalf("start task: %v", err)
	}
	if ids := markedIDs(dir); !slices.Contains(ids, "acme/task:seed-g1") {
		t.Errorf("processes once StartTask returned: %v, want the task's", ids)
	}
	if err := d.StartTask(ctx, "acme", task); err != nil {
		t.Fatalf("start the running task again: %v", err)
	}
	res, err := d.RunTask(ctx, "acme", task)
	if err != nil {
		t.Fatalf("run the started task: %v", err)
	}
	if res.ExitCode != 0 || res.Output != "appended" {
		t.Errorf("got exit code %d, output %q; want 0 and %q", res.ExitCode, res.Output, "appended")
	}
	if err := d.StartTask(ctx, "acme", task); err != nil {
		t.Fatalf("start the finished task again: %v", err)
	}
	if res, err := d.RunTask(ctx, "acme", task); err != nil || res.ExitCode != 0 {
		t.Errorf("run the finished task again: got %+v, %v; want exit code 0", res, err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(data), "\n"); got != 1 {
		t.Errorf("runs: got %d, want 1", got)
	}
}

func TestStartTaskInvalid(t *testing.T) {
	d := open(t, newDir(t))
	for _, task := range []*stamp.Task{nil, {Name: ".hidden", Command: command("sleep")}, {Name: "seed"}} {
		if err := d.StartTask(context.Background(), "acme", task); stamp.ErrorCode(err) != stamp.EINVALID {
			t.Errorf("StartTask(%+v): got %v, want code %q", task, err, stamp.EINVALID)
		}
	}
}
