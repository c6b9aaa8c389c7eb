package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/internal/tmpfstest"
)

// tmpfsDir is newDir on a tmpfs of size bytes, to be filled.
func tmpfsDir(t *testing.T, size int) string {
	t.Helper()
	dir := tmpfstest.Mount(t, size)
	t.Cleanup(func() {
		for _, m := range scanMarked(dir) {
			killGroup(m)
		}
	})
	return dir
}

// TestTaskOnAFullDisk runs a hook that fills the disk and exits 0. Its
// exit code must not be lost to the full disk and judged a failure: the
// driver says it is out of space (ENOSPC) while it cannot record the
// run, and once space is freed the same call returns exit code 0,
// without running the hook again.
func TestTaskOnAFullDisk(t *testing.T) {
	const ran, fill = "echo ran >> runs; ", "cat /dev/zero > fill 2>/dev/null; exit 0"
	tests := []struct {
		name   string
		script string
		// restart: the driver is closed while the hook runs and a new
		// one, which did not start the hook, finishes it.
		restart bool
	}{
		{"exit file kept", ran + fill, false},
		{"driver restarted while the hook ran", ran + "while [ ! -e go ]; do sleep 0.05; done; " + fill, true},
		// The hook removes the file made for its exit code, as a file
		// system where writing over a file takes new space would lose
		// it: the driver, which saw the shell exit, has the code.
		{"exit file lost", ran + "rm -f ../exits/*.exit; " + fill, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tmpfsDir(t, 32<<20)
			data := filepath.Join(dir, "tenants", "acme", "data")
			task := &stamp.Task{Name: "migrate-1.0.0-g1", Bundle: app.ref, Command: []string{"sh", "-c", tt.script}}
			d := open(t, dir)
			if tt.restart {
				errc := make(chan error, 1)
				go func() {
					_, err := d.RunTask(context.Background(), "acme", task)
					errc <- err
				}()
				eventually(t, "the hook to run, recorded", func() bool {
					_, err := os.Stat(filepath.Join(dir, "tenants", "acme", "tasks", task.Name+".json"))
					_, ranErr := os.Stat(filepath.Join(data, "runs"))
					return err == nil && ranErr == nil
				})
				d.Close()
				if err := <-errc; stamp.ErrorCode(err) != stamp.EUNAVAILABLE {
					t.Fatalf("RunTask interrupted by Close: got %v, want code %q", err, stamp.EUNAVAILABLE)
				}
				d = open(t, dir)
				if err := os.WriteFile(filepath.Join(data, "go"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := d.RunTask(context.Background(), "acme", task)
			if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "no space left on device") {
				t.Fatalf("run a task that fills the disk: got %v, want an error wrapping ENOSPC saying so", err)
			}

			if err := os.Remove(filepath.Join(data, "fill")); err != nil {
				t.Fatal(err)
			}
			res, err := d.RunTask(context.Background(), "acme", task)
			if err != nil {
				t.Fatalf("run the task again once space is freed: %v", err)
			}
			if res.ExitCode != 0 {
				t.Errorf("the task once space is freed: exit code %d, output %q; want 0", res.ExitCode, res.Output)
			}
			if runs, err := os.ReadFile(filepath.Join(data, "runs")); err != nil || string(runs) != "ran\n" {
				t.Errorf("runs of the hook: %q (%v), want one", runs, err)
			}
		})
	}
}

// TestUnpackOnAFullDisk prepares a tenant whose bundle does not fit the
// disk: the error says so, naming the bundle, wraps ENOSPC and does not
// blame the archive; nothing is left in bundles/ to be taken for it; once
// the disk grows, the same call unpacks it.
func TestUnpackOnAFullDisk(t *testing.T) {
	dir := tmpfsDir(t, 1<<20)
	d := open(t, dir)
	shape := runtime("acme", stamp.Service{Name: "web", Port: 8080, Replicas: 1})
	err := d.Prepare(context.Background(), shape)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("prepare with no room for the bundle: got %v, want an error wrapping ENOSPC", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "no space left on device") || !strings.Contains(msg, "app@1.0.0") {
		t.Errorf("prepare with no room for the bundle: %q does not say there is no space left for bundle app@1.0.0", msg)
	}
	if code := stamp.ErrorCode(err); code == stamp.EUNPROCESSABLE {
		t.Errorf("prepare with no room for the bundle: code %q blames the archive", code)
	}
	bundles := filepath.Join(dir, "bundles")
	if entries, err := os.ReadDir(bundles); err != nil || len(entries) != 0 {
		t.Errorf("bundles/ after the failed unpack: %v (%v), want it empty", entries, err)
	}

	tmpfstest.Resize(t, dir, 64<<20)
	if err := d.Prepare(context.Background(), shape); err != nil {
		t.Fatalf("prepare once the disk grew: %v", err)
	}
	if _, err := os.Stat(filepath.Join(bundles, strings.TrimPrefix(app.ref.Digest, "sha256:"), "bin", "app")); err != nil {
		t.Errorf("the unpacked bundle: %v", err)
	}
}
