package reconcile

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bundle"
)

// sleepyShop is shop with a default plan that sleeps after 100ms.
const sleepyShop = "plans:\n  starter: { idle: 100ms }\ndefault_plan: starter\n"

// TestReadyTenantSleepsWithoutAnotherPass provisions a tenant in one
// pass, nothing queuing it again (it was created before the reconciler
// started, so only the first resync queues it, and the next is 30s
// away): the pass that made it ready starts its idle clock, and it
// sleeps once idle.
func TestReadyTenantSleepsWithoutAnotherPass(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	yaml := fmt.Sprintf(shopBlueprint, "3.0.0") + sleepyShop
	if err := os.WriteFile(filepath.Join(dir, "stamp.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	content, err := bundle.Pack(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := &stamp.Bundle{Name: "shop", Version: "3.0.0", Digest: bundle.Digest(content), Size: int64(len(content)), Content: content}
	if err := f.st.CreateBundle(f.ctx, b); err != nil {
		t.Fatal(err)
	}
	f.r.cfg.IdleCheck = 10 * time.Millisecond
	f.create("acme", "3.0.0")
	f.start()

	start := time.Now()
	f.waitTenant("acme", "acme to sleep", func(tn *stamp.Tenant) bool { return tn.Status.Phase == stamp.PhaseSleeping })
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("acme slept %s after the start, want well within the 30s to the next resync", took.Round(time.Millisecond))
	}
	eventually(t, waitLimit, "the sleep pass to end", func() bool { return slices.Contains(f.observed(), "sleep done") })
	if !f.d.isStopped("acme") {
		t.Error("acme sleeps, but its instances were not stopped")
	}
}
