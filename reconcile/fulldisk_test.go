package reconcile_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bundle"
	"github.com/stamphq/stamp/driver/local"
	"github.com/stamphq/stamp/internal/tmpfstest"
	"github.com/stamphq/stamp/reconcile"
	"github.com/stamphq/stamp/store/sqlite"
)

// fillerBlueprint is a blueprint whose migrate hook writes "ran" to
// runs in the tenant's data directory and then runs the shell commands
// of %s; its bundle holds a file of 512 KiB besides (see the test).
const fillerBlueprint = `name: filler
version: 1.0.0
services:
  worker:
    command: [sleep, "600"]
hooks:
  migrate: [sh, -c, "echo ran >> runs; %s"]
`

// TestTenantOnAFullDiskConverges creates a tenant with the local driver
// on a small tmpfs that fills up: while there is no space the tenant
// stays provisioning, not failed, with tenant.retry events saying "no
// space left on device"; once space is freed it becomes ready, its
// migrate hook having run once.
func TestTenantOnAFullDiskConverges(t *testing.T) {
	tests := []struct {
		name string
		size int    // of the driver's disk
		hook string // what the migrate hook does after it records its run
		step string // that runs out of space
		// free makes room on the driver's disk mounted on dir.
		free func(t *testing.T, dir string)
	}{
		{"bundle larger than the disk", 256 << 10, "exit 0", stamp.StepAllocate, func(t *testing.T, dir string) {
			tmpfstest.Resize(t, dir, 4<<20)
		}},
		{"migrate hook fills the disk", 4 << 20, "cat /dev/zero > fill 2>/dev/null; exit 0", stamp.StepMigrate, func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "tenants", "acme", "data", "fill")); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			dir := tmpfstest.Mount(t, tt.size)
			st := openStore(t)
			d, err := local.New(ctx, local.Config{Dir: dir, Bundles: st, PortMin: 25000, PortMax: 25099,
				StopTimeout: time.Second, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				d.StopAll(context.Background())
				d.Close()
			})
			pushBundle(t, st, map[string]string{
				"stamp.yaml": fmt.Sprintf(fillerBlueprint, tt.hook),
				"big":        strings.Repeat("0123456789abcdef", 32<<10),
			})
			if err := st.CreateTenant(ctx, &stamp.Tenant{
				Name:       "acme",
				Spec:       stamp.TenantSpec{Blueprint: "filler", Version: "1.0.0", Desired: stamp.DesiredRunning},
				Status:     stamp.TenantStatus{Phase: stamp.PhaseProvisioning},
				Generation: 1,
			}); err != nil {
				t.Fatal(err)
			}
			// Run's first pass over the store takes the tenant up.
			runReconciler(t, reconcile.Config{Store: st, Driver: d, Workers: 2})

			waitFor(t, "a tenant.retry event of step "+tt.step+" saying there is no space left", func() bool {
				if tn := getTenant(t, st); tn.Status.Phase == stamp.PhaseFailed {
					t.Fatalf("tenant failed at step %s: %s", tn.Status.FailedStep, tn.Status.Message)
				}
				events, err := st.ListEvents(ctx, stamp.EventFilter{Tenant: "acme"})
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range events {
					if e.Type == stamp.EventRetry && e.Step == tt.step && strings.Contains(e.Message, "no space left on device") {
						return true
					}
				}
				return false
			})
			if tn := getTenant(t, st); tn.Status.Phase != stamp.PhaseProvisioning {
				t.Fatalf("tenant on a full disk: phase %q (%s), want %q", tn.Status.Phase, tn.Status.Message, stamp.PhaseProvisioning)
			}

			tt.free(t, dir)
			waitFor(t, "the tenant to be ready", func() bool {
				tn := getTenant(t, st)
				if tn.Status.Phase == stamp.PhaseFailed {
					t.Fatalf("tenant failed: %s", tn.Status.Message)
				}
				return tn.Status.Phase == stamp.PhaseReady
			})
			runs, err := os.ReadFile(filepath.Join(dir, "tenants", "acme", "data", "runs"))
			if err != nil || string(runs) != "ran\n" {
				t.Errorf("runs of the migrate hook: %q (%v), want one", runs, err)
			}
		})
	}
}

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "stamp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// pushBundle packs files (name -> content) and stores them as a bundle,
// as `stamp blueprint push` would.
func pushBundle(t *testing.T, st stamp.Store, files map[string]string) {
	t.Helper()
	src := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	content, err := bundle.Pack(src)
	if err != nil {
		t.Fatal(err)
	}
	b := &stamp.Bundle{Name: "filler", Version: "1.0.0", Digest: bundle.Digest(content), Size: int64(len(content)), Content: content}
	if err := st.CreateBundle(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

// runReconciler runs a reconciler with cfg until the test ends.
func runReconciler(t *testing.T, cfg reconcile.Config) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reconcile.New(cfg).Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("reconciler: %v", err)
		}
	})
}

func getTenant(t *testing.T, st stamp.Store) *stamp.Tenant {
	t.Helper()
	tn, err := st.GetTenant(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

// waitFor waits until cond holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after a minute waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
