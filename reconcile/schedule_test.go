package reconcile

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/backup"
	"github.com/stamphq/stamp/keyring"
)

// settableClock is a clock a test moves.
type settableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *settableClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestScheduledBackups: a plan's schedule takes a backup when the last
// scheduled one is due, keeps the newest keep of them, and leaves the
// backups taken by hand alone; a plan without one takes none.
func TestScheduledBackups(t *testing.T) {
	f := newFixture(t)
	f.pushYAML("3.0.0", strings.Replace(fmt.Sprintf(shopBlueprint, "3.0.0"), "databases:",
		"plans:\n  daily: { backup: { every: 24h, keep: 2 } }\n  none: {}\ndefault_plan: daily\ndatabases:", 1))
	ring, err := keyring.New(bytes.Repeat([]byte{3}, keyring.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	clock := &settableClock{t: time.Now()}
	store, err := backup.Open(f.ctx, "file://"+t.TempDir(), ring, t.TempDir(), clock)
	if err != nil {
		t.Fatal(err)
	}
	f.r.cfg.Backups, f.r.cfg.Clock = store, clock
	f.start()
	f.create("acme", "3.0.0")
	f.create("globex", "3.0.0")
	f.change("globex", stamp.EventTenantUpgradeRequested, func(tn *stamp.Tenant) { tn.Spec.Plan = "none" })
	for _, name := range []string{"acme", "globex"} {
		f.waitTenant(name, name+" ready", func(tn *stamp.Tenant) bool {
			return tn.Status.Phase == stamp.PhaseReady && tn.Status.ObservedGeneration == tn.Generation
		})
	}
	reasons := func(tenant string) string {
		t.Helper()
		list, err := store.List(f.ctx, tenant)
		if err != nil {
			t.Fatal(err)
		}
		var rs []string
		for _, b := range list {
			rs = append(rs, b.Reason)
		}
		return strings.Join(rs, " ")
	}
	look := func(after time.Duration) {
		t.Helper()
		clock.add(after)
		if err := f.r.scheduledBackups(f.ctx); err != nil {
			t.Fatal(err)
		}
	}
	look(0)
	if got := reasons("acme"); got != "scheduled" {
		t.Fatalf("acme's backups after the first look: %q", got)
	}
	look(time.Hour)
	if got := reasons("acme"); got != "scheduled" {
		t.Errorf("acme's backups an hour later: %q, want none new", got)
	}
	tn := f.tenant("acme")
	if _, err := f.r.Backup(f.ctx, tn, stamp.BackupManual); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		look(25 * time.Hour)
	}
	if got := reasons("acme"); got != "scheduled scheduled manual" {
		t.Errorf("acme's backups after 3 more days: %q, want the newest two scheduled and the manual one", got)
	}
	if got := reasons("globex"); got != "" {
		t.Errorf("globex, on a plan without backups, has %q", got)
	}
}
