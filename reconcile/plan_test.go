package reconcile

import (
	"slices"
	"testing"
	"time"

	stamp "github.com/stamphq/stamp"
)

func TestPlan(t *testing.T) {
	full := []string{"allocate", "secrets", "database", "migrate", "seed", "start", "health", "route"}
	up := &stamp.Observed{Services: map[string]*stamp.ServiceObserved{
		"web": {Instances: []stamp.Instance{{ID: "web-0"}}},
	}}
	down := &stamp.Observed{Services: map[string]*stamp.ServiceObserved{"web": {}}}
	tenant := func(mod func(*stamp.Tenant)) *stamp.Tenant {
		t := &stamp.Tenant{Name: "acme", Generation: 1, Spec: stamp.TenantSpec{Version: "1.0.0", Desired: stamp.DesiredRunning}}
		mod(t)
		return t
	}
	upgrade := []string{"check", "secrets", "database", "snapshot", "migrate", "start", "health", "route", "retire"}
	upgrading := func(u *stamp.Upgrade, migrated string) *stamp.Tenant {
		return tenant(func(t *stamp.Tenant) {
			t.Generation = 2
			t.Spec.Version = u.To
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseUpgrading, ObservedGeneration: 1, MigratedVersion: migrated,
				Seeded: true, Version: u.From, Upgrade: u}
		})
	}
	tests := []struct {
		name string
		t    *stamp.Tenant
		obs  *stamp.Observed
		want []string
	}{
		{"new tenant", tenant(func(*stamp.Tenant) {}), &stamp.Observed{}, full},
		{"deleted", tenant(func(t *stamp.Tenant) { t.Spec.Desired = stamp.DesiredDeleted }), up, []string{"remove"}},
		{"ready and running", tenant(func(t *stamp.Tenant) {
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseReady, ObservedGeneration: 1, MigratedVersion: "1.0.0", Seeded: true}
		}), up, nil},
		{"ready with an instance between restarts", tenant(func(t *stamp.Tenant) {
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseReady, ObservedGeneration: 1, MigratedVersion: "1.0.0", Seeded: true}
		}), down, nil},
		{"ready but driver knows nothing", tenant(func(t *stamp.Tenant) {
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseReady, ObservedGeneration: 1, MigratedVersion: "1.0.0", Seeded: true}
		}), &stamp.Observed{}, []string{"allocate", "secrets", "database", "start", "health", "route"}},
		{"failed at this generation stays failed", tenant(func(t *stamp.Tenant) {
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseFailed, ObservedGeneration: 1}
		}), &stamp.Observed{}, nil},
		{"failed at an older generation retries", tenant(func(t *stamp.Tenant) {
			t.Generation = 2
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseFailed, ObservedGeneration: 1}
		}), &stamp.Observed{}, full},
		{"crashed after seed", tenant(func(t *stamp.Tenant) {
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseProvisioning, MigratedVersion: "1.0.0", Seeded: true}
		}), &stamp.Observed{}, []string{"allocate", "secrets", "database", "start", "health", "route"}},
		{"new version before the tenant ever served migrates again but never seeds again", tenant(func(t *stamp.Tenant) {
			t.Generation = 2
			t.Spec.Version = "1.1.0"
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseFailed, ObservedGeneration: 1, MigratedVersion: "1.0.0", Seeded: true}
		}), up, []string{"allocate", "secrets", "database", "migrate", "start", "health", "route"}},
		{"new version of a serving tenant upgrades blue/green", tenant(func(t *stamp.Tenant) {
			t.Generation = 2
			t.Spec.Version = "1.1.0"
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseReady, ObservedGeneration: 1, MigratedVersion: "1.0.0", Seeded: true, Version: "1.0.0"}
		}), up, upgrade},
		{"upgrade resumes after the snapshot", upgrading(&stamp.Upgrade{From: "1.0.0", To: "1.1.0", Snapshot: "pre-upgrade"}, "1.0.0"),
			up, []string{"secrets", "database", "migrate", "start", "health", "route", "retire"}},
		{"upgrade resumes after the migration", upgrading(&stamp.Upgrade{From: "1.0.0", To: "1.1.0", Snapshot: "pre-upgrade", Migrating: true}, "1.1.0"),
			up, []string{"secrets", "database", "start", "health", "route", "retire"}},
		{"upgrade resumes after the switch", upgrading(&stamp.Upgrade{From: "1.0.0", To: "1.1.0", Snapshot: "pre-upgrade", SwitchedAt: time.Unix(1, 0)}, "1.1.0"),
			up, []string{"retire"}},
		{"failed upgrade rolls back", upgrading(&stamp.Upgrade{From: "1.0.0", To: "1.1.0", Snapshot: "pre-upgrade", FailedStep: "health"}, "1.1.0"),
			up, []string{"rollback"}},
		{"recreate upgrade stops the old version before the snapshot", upgrading(&stamp.Upgrade{From: "1.0.0", To: "1.1.0", Recreate: true}, "1.0.0"),
			up, []string{"check", "secrets", "database", "stop", "snapshot", "migrate", "start", "health", "route", "retire"}},
		{"recreate upgrade resumes after the stop without checking", upgrading(&stamp.Upgrade{From: "1.0.0", To: "1.1.0", Recreate: true, Stopped: true}, "1.0.0"),
			up, []string{"secrets", "database", "stop", "snapshot", "migrate", "start", "health", "route", "retire"}},
		{"recreate upgrade resumes after the migration", upgrading(&stamp.Upgrade{From: "1.0.0", To: "1.1.0", Recreate: true, Stopped: true, Snapshot: "pre-upgrade", Migrating: true}, "1.1.0"),
			up, []string{"secrets", "database", "stop", "start", "health", "route", "retire"}},
		{"going back restores the snapshot", upgrading(&stamp.Upgrade{From: "1.1.0", To: "1.0.0", Snapshot: "pre-upgrade", Restore: true}, "1.1.0"),
			up, []string{"secrets", "database", "restore", "start", "health", "route", "retire"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Plan(tt.t, tt.obs); !slices.Equal(got, tt.want) {
				t.Errorf("Plan = %q, want %q", got, tt.want)
			}
		})
	}
}
