package reconcile

import (
	"slices"
	"strings"
	"testing"

	stamp "github.com/stamphq/stamp"
)

// TestUpgrade moves a ready tenant from 1.0.0 to 2.0.0, whose migration
// writes to the tenant's database and then exits with exit. A migration
// that succeeds leaves the tenant on 2.0.0 alone; one that fails is
// undone: 1.0.0 serves on, and the database is the snapshot taken before
// the migration, without what the migration wrote.
func TestUpgrade(t *testing.T) {
	tests := []struct {
		name        string
		exit        int
		result      string   // Upgrade.Result
		version     string   // the spec's and the status's at the end
		notes       []string // in the database at the end
		steps       []string // done after tenant.upgrading
		event       string   // the outcome's event
		wantMessage string   // of event
	}{
		{
			name: "a migration that succeeds moves the tenant", exit: 0,
			result: stamp.UpgradeSucceeded, version: "2.0.0",
			notes: []string{"before the upgrade", "migrated to 2.0.0"},
			steps: []string{"check", "secrets", "database", "snapshot", "migrate", "start", "health", "route", "retire"},
			event: stamp.EventTenantUpgraded, wantMessage: "from 1.0.0 to 2.0.0",
		},
		{
			name: "a migration that fails is rolled back, database included", exit: 1,
			result: stamp.UpgradeRolledBack, version: "1.0.0",
			notes: []string{"before the upgrade"},
			steps: []string{"check", "secrets", "database", "snapshot", "rollback"},
			event: stamp.EventTenantRolledBack,
			wantMessage: "upgrade from 1.0.0 to 2.0.0 failed at migrate and was undone; 1.0.0 serves: " +
				"migrate hook exited with code 1; last output:\nhalf way",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.d.setTask(func(_ string, task *stamp.Task) *stamp.TaskResult {
				if !strings.HasPrefix(task.Name, "migrate-2.0.0-") {
					return &stamp.TaskResult{}
				}
				if err := addNote(task.Env["DATABASE_URL"], "migrated to 2.0.0"); err != nil {
					return &stamp.TaskResult{ExitCode: 99, Output: err.Error()}
				}
				return &stamp.TaskResult{ExitCode: tt.exit, Output: "half way"}
			})
			f.create("acme", "1.0.0")
			f.start()
			f.waitTenant("acme", "acme to be ready", (*stamp.Tenant).Ready)
			db := "sqlite:" + f.dbPath("acme")
			if err := addNote(db, "before the upgrade"); err != nil {
				t.Fatal(err)
			}

			f.change("acme", stamp.EventTenantUpgradeRequested, func(tn *stamp.Tenant) { tn.Spec.Version = "2.0.0" })
			tn := f.waitTenant("acme", "the move to end", func(tn *stamp.Tenant) bool {
				return tn.Status.Upgrade != nil && tn.Status.Upgrade.Result != ""
			})

			if got := tn.Status.Upgrade.Result; got != tt.result {
				t.Errorf("upgrade result %q (failed step %q: %s), want %q", got, tn.Status.Upgrade.FailedStep, tn.Status.Upgrade.Message, tt.result)
			}
			if tn.Spec.Version != tt.version || tn.Status.Version != tt.version || !tn.Ready() {
				t.Errorf("spec version %s, status version %s, phase %s at generation %d of %d; want %s, ready",
					tn.Spec.Version, tn.Status.Version, tn.Status.Phase, tn.Status.ObservedGeneration, tn.Generation, tt.version)
			}
			if got := f.d.revisions("acme"); !slices.Equal(got, []string{tt.version}) {
				t.Errorf("driver runs revisions %v, want only %s", got, tt.version)
			}
			got, err := notes(db)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.notes) {
				t.Errorf("database holds %q, want %q", got, tt.notes)
			}
			// The last step's event follows the write that ends the move.
			var steps []string
			eventually(t, waitLimit, "the move's steps", func() bool {
				steps = f.stepsDoneSince("acme", stamp.EventTenantUpgrading)
				return len(steps) >= len(tt.steps)
			})
			if !slices.Equal(steps, tt.steps) {
				t.Errorf("steps done in the move: %v, want %v", steps, tt.steps)
			}
			if ev := f.events("acme", tt.event); len(ev) != 1 || ev[0].Message != tt.wantMessage {
				t.Errorf("%s events: %+v, want one saying:\n%s", tt.event, ev, tt.wantMessage)
			}
			// The release controller waits on Moved for either outcome.
			eventually(t, waitLimit, "Config.Moved for acme", func() bool { return slices.Contains(f.movedTenants(), "acme") })
		})
	}
}

// TestFailedRestore moves a tenant back to the version it upgraded from,
// which restores the snapshot taken before that upgrade, and fails the
// move at start: a half-restored database is not undone, so the tenant
// is failed. The status and tenant.failed are written together (the
// event is there as soon as the status says failed), and the release
// controller is told the move ended.
func TestFailedRestore(t *testing.T) {
	f := newFixture(t)
	f.create("acme", "1.0.0")
	f.start()
	f.waitTenant("acme", "acme to be ready", (*stamp.Tenant).Ready)
	f.change("acme", stamp.EventTenantUpgradeRequested, func(tn *stamp.Tenant) { tn.Spec.Version = "2.0.0" })
	f.waitTenant("acme", "the upgrade to end", func(tn *stamp.Tenant) bool {
		return tn.Status.Upgrade != nil && tn.Status.Upgrade.Result == stamp.UpgradeSucceeded
	})
	eventually(t, waitLimit, "Config.Moved for the upgrade", func() bool { return len(f.movedTenants()) == 1 })

	f.d.failNext("Apply", stamp.Errorf(stamp.EINVALID, "service web: port 8080 is taken by the router"))
	f.change("acme", stamp.EventTenantUpgradeRequested, func(tn *stamp.Tenant) { tn.Spec.Version = "1.0.0" })
	tn := f.waitTenant("acme", "the move back to end", func(tn *stamp.Tenant) bool {
		return tn.Status.Upgrade != nil && tn.Status.Upgrade.To == "1.0.0" && tn.Status.Upgrade.Result != ""
	})
	if u := tn.Status.Upgrade; !u.Restore || u.Result != stamp.UpgradeFailed || u.FailedStep != stamp.StepStart || tn.Status.Phase != stamp.PhaseFailed {
		t.Fatalf("move back: restore %v, result %q at %q, phase %s; want a restore failed at start, phase failed",
			u.Restore, u.Result, u.FailedStep, tn.Status.Phase)
	}
	if failed := f.events("acme", stamp.EventTenantFailed); len(failed) != 1 || failed[0].Step != stamp.StepStart || failed[0].Generation != tn.Generation {
		t.Errorf("tenant.failed events: %+v, want one of step start at generation %d", failed, tn.Generation)
	}
	eventually(t, waitLimit, "Config.Moved for the failed move", func() bool { return len(f.movedTenants()) == 2 })
}
