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
	loadSteps := []string{"allocate", "secrets", "database", "load", "start", "health", "route"}
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
		{"a pooled stamp is made without seed", tenant(func(t *stamp.Tenant) { t.Spec.Pooled = true }), &stamp.Observed{},
			[]string{"allocate", "secrets", "database", "migrate", "start", "health", "route"}},
		{"a claimed stamp is seeded and routed, not migrated again", tenant(func(t *stamp.Tenant) {
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseProvisioning, MigratedVersion: "1.0.0", Runtime: "pool-a1"}
		}), up, []string{"allocate", "secrets", "database", "seed", "start", "health", "route"}},
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
		{"a sleep cut short before its instances stopped sleeps again", tenant(func(t *stamp.Tenant) {
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseSleeping, ObservedGeneration: 1, MigratedVersion: "1.0.0", Seeded: true, Version: "1.0.0"}
		}), nil, []string{"sleep"}},
		{"asleep stays asleep, whatever runs", tenant(func(t *stamp.Tenant) {
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseSleeping, ObservedGeneration: 1, MigratedVersion: "1.0.0", Seeded: true, Version: "1.0.0", SleptAt: time.Unix(1, 0)}
		}), nil, nil},
		{"asleep with a wake asked for starts, checks health and routes", tenant(func(t *stamp.Tenant) {
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseSleeping, ObservedGeneration: 1, MigratedVersion: "1.0.0", Seeded: true, Version: "1.0.0",
				SleptAt: time.Unix(1, 0), WakeAt: time.Unix(2, 0)}
		}), nil, []string{"secrets", "database", "start", "health", "route"}},
		{"asleep and deleted is removed", tenant(func(t *stamp.Tenant) {
			t.Spec.Desired = stamp.DesiredDeleted
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseSleeping, ObservedGeneration: 1, Version: "1.0.0"}
		}), nil, []string{"remove"}},
		{"asleep on an old version begins a move (the move, once recorded, skips the check)", tenant(func(t *stamp.Tenant) {
			t.Generation = 2
			t.Spec.Version = "1.1.0"
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseSleeping, ObservedGeneration: 1, MigratedVersion: "1.0.0", Seeded: true, Version: "1.0.0", SleptAt: time.Unix(1, 0)}
		}), nil, upgrade},
		{"asleep with a wake asked for and a new version moves first", tenant(func(t *stamp.Tenant) {
			t.Generation = 2
			t.Spec.Version = "1.1.0"
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseSleeping, ObservedGeneration: 1, MigratedVersion: "1.0.0", Seeded: true, Version: "1.0.0",
				SleptAt: time.Unix(1, 0), WakeAt: time.Unix(2, 0)}
		}), nil, upgrade},
		{"suspended while ready stops", tenant(func(t *stamp.Tenant) {
			t.Spec.Desired = stamp.DesiredSuspended
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseReady, ObservedGeneration: 1, MigratedVersion: "1.0.0", Seeded: true, Version: "1.0.0"}
		}), up, []string{"suspend"}},
		{"a suspension cut short is taken again", tenant(func(t *stamp.Tenant) {
			t.Spec.Desired = stamp.DesiredSuspended
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseSuspended, ObservedGeneration: 1, MigratedVersion: "1.0.0", Seeded: true, Version: "1.0.0"}
		}), nil, []string{"suspend"}},
		{"a new tenant made from a backup loads it instead of its seed", tenant(func(t *stamp.Tenant) {
			t.Spec.Load = &stamp.BackupRef{Tenant: "globex", ID: "20261205T011500Z-00000001", Generation: 1}
		}), &stamp.Observed{}, loadSteps},
		{"a restore asked of a ready tenant loads", tenant(func(t *stamp.Tenant) {
			t.Generation = 2
			t.Spec.Load = &stamp.BackupRef{Tenant: "acme", ID: "20261205T011500Z-00000001", Generation: 2}
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseReady, ObservedGeneration: 1, MigratedVersion: "1.0.0", Seeded: true, Version: "1.0.0"}
		}), up, loadSteps},
		{"a restore to another version loads, it does not upgrade", tenant(func(t *stamp.Tenant) {
			t.Generation = 2
			t.Spec.Version = "0.9.0"
			t.Spec.Load = &stamp.BackupRef{Tenant: "acme", ID: "20261205T011500Z-00000001", Generation: 2}
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseReady, ObservedGeneration: 1, MigratedVersion: "1.0.0", Seeded: true, Version: "1.0.0"}
		}), up, loadSteps},
		{"loaded, a pass cut short starts it as a new tenant", tenant(func(t *stamp.Tenant) {
			t.Generation = 2
			t.Spec.Version = "0.9.0"
			t.Spec.Load = &stamp.BackupRef{Tenant: "acme", ID: "20261205T011500Z-00000001", Generation: 2}
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseRestoring, ObservedGeneration: 1, MigratedVersion: "0.9.0", Seeded: true, Loaded: t.Spec.Load.String()}
		}), down, []string{"allocate", "secrets", "database", "start", "health", "route"}},
		{"loaded and ready is left alone", tenant(func(t *stamp.Tenant) {
			t.Generation = 2
			t.Spec.Load = &stamp.BackupRef{Tenant: "acme", ID: "20261205T011500Z-00000001", Generation: 2}
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseReady, ObservedGeneration: 2, MigratedVersion: "1.0.0", Seeded: true, Version: "1.0.0", Loaded: t.Spec.Load.String()}
		}), up, nil},
		{"suspended is left alone", tenant(func(t *stamp.Tenant) {
			t.Spec.Desired = stamp.DesiredSuspended
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseSuspended, ObservedGeneration: 1, MigratedVersion: "1.0.0", Seeded: true, Version: "1.0.0", SuspendedAt: time.Unix(1, 0)}
		}), nil, nil},
		{"a failed tenant can be suspended", tenant(func(t *stamp.Tenant) {
			t.Spec.Desired = stamp.DesiredSuspended
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseFailed, ObservedGeneration: 1, Version: "1.0.0"}
		}), down, []string{"suspend"}},
		{"resumed starts as it was", tenant(func(t *stamp.Tenant) {
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseSuspended, ObservedGeneration: 1, MigratedVersion: "1.0.0", Seeded: true, Version: "1.0.0", SuspendedAt: time.Unix(1, 0)}
		}), nil, []string{"secrets", "database", "start", "health", "route"}},
		{"deleted softly, a ready tenant stops", tenant(func(t *stamp.Tenant) {
			t.Spec.Desired = stamp.DesiredSoftDeleted
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseReady, ObservedGeneration: 1, MigratedVersion: "1.0.0", Seeded: true, Version: "1.0.0"}
		}), up, []string{"suspend"}},
		{"deleted softly and stopped is left alone", tenant(func(t *stamp.Tenant) {
			t.Spec.Desired = stamp.DesiredSoftDeleted
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseSoftDeleted, ObservedGeneration: 1, MigratedVersion: "1.0.0", Seeded: true, Version: "1.0.0", SuspendedAt: time.Unix(1, 0)}
		}), nil, nil},
		{"a suspended tenant deleted softly is stopped as deleted", tenant(func(t *stamp.Tenant) {
			t.Spec.Desired = stamp.DesiredSoftDeleted
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseSuspended, ObservedGeneration: 1, MigratedVersion: "1.0.0", Seeded: true, Version: "1.0.0", SuspendedAt: time.Unix(1, 0)}
		}), nil, []string{"suspend"}},
		{"undeleted starts as it was", tenant(func(t *stamp.Tenant) {
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseSoftDeleted, ObservedGeneration: 1, MigratedVersion: "1.0.0", Seeded: true, Version: "1.0.0", SuspendedAt: time.Unix(1, 0)}
		}), nil, []string{"secrets", "database", "start", "health", "route"}},
		{"suspended while upgrading finishes the move first", func() *stamp.Tenant {
			t := upgrading(&stamp.Upgrade{From: "1.0.0", To: "1.1.0"}, "1.0.0")
			t.Spec.Desired = stamp.DesiredSuspended
			return t
		}(), up, upgrade},
		{"a move begun with a wake asked for does not sleep at the end", upgrading(&stamp.Upgrade{From: "1.0.0", To: "1.1.0", Recreate: true, Stopped: true}, "1.0.0"),
			nil, []string{"secrets", "database", "stop", "snapshot", "migrate", "start", "health", "route", "retire"}},
		{"a move begun asleep skips the check and sleeps at the end", upgrading(&stamp.Upgrade{From: "1.0.0", To: "1.1.0", Asleep: true, Recreate: true, Stopped: true}, "1.0.0"),
			nil, []string{"secrets", "database", "stop", "snapshot", "migrate", "start", "health", "route", "retire", "sleep"}},
		{"a move begun asleep resumes after the switch", upgrading(&stamp.Upgrade{From: "1.0.0", To: "1.1.0", Asleep: true, Recreate: true, Stopped: true, SwitchedAt: time.Unix(1, 0)}, "1.1.0"),
			nil, []string{"retire", "sleep"}},
		{"failed upgrade rolls back", upgrading(&stamp.Upgrade{From: "1.0.0", To: "1.1.0", Snapshot: "pre-upgrade", FailedStep: "health"}, "1.1.0"),
			up, []string{"rollback"}},
		{"a changed plan or parameters rolls blue/green with no snapshot or migration", tenant(func(t *stamp.Tenant) {
			t.Generation, t.Spec.ConfigGeneration = 3, 3
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseReady, ObservedGeneration: 2, MigratedVersion: "1.0.0", Seeded: true, Version: "1.0.0"}
		}), up, []string{"check", "secrets", "database", "start", "health", "route", "retire"}},
		{"a change already served needs nothing", tenant(func(t *stamp.Tenant) {
			t.Generation, t.Spec.ConfigGeneration = 3, 3
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseReady, ObservedGeneration: 3, MigratedVersion: "1.0.0", Seeded: true, Version: "1.0.0", Revision: "1.0.0_c3"}
		}), up, nil},
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

func TestNextUpgrade(t *testing.T) {
	ok := stamp.UpgradeSucceeded
	tests := []struct {
		name     string
		prev     *stamp.Upgrade
		from, to string // versions
		config   int64  // the spec's ConfigGeneration
		want     stamp.Upgrade
	}{
		{"first upgrade", nil, "1.0.0", "2.0.0", 0, stamp.Upgrade{From: "1.0.0", To: "2.0.0"}},
		{"back after an upgrade restores", &stamp.Upgrade{From: "1.0.0", To: "2.0.0", Snapshot: "s", Result: ok}, "2.0.0", "1.0.0", 0,
			stamp.Upgrade{From: "2.0.0", To: "1.0.0", Restore: true, Snapshot: "s"}},
		{"a change of parameters carries the snapshot on", &stamp.Upgrade{From: "1.0.0", To: "2.0.0", Snapshot: "s", Result: ok}, "2.0.0", "2.0.0", 4,
			stamp.Upgrade{From: "2.0.0", To: "2.0.0", ToRev: "2.0.0_c4", FromRev: "2.0.0", KeptSnapshot: "s", KeptFrom: "1.0.0"}},
		{"back after an upgrade and a change restores", &stamp.Upgrade{From: "2.0.0", To: "2.0.0", KeptSnapshot: "s", KeptFrom: "1.0.0", Result: ok}, "2.0.0", "1.0.0", 4,
			stamp.Upgrade{From: "2.0.0", To: "1.0.0", FromRev: "2.0.0_c4", ToRev: "1.0.0_c4", Restore: true, Snapshot: "s"}},
		{"a rolled-back upgrade leaves nothing to restore", &stamp.Upgrade{From: "1.0.0", To: "2.0.0", Snapshot: "s", Result: stamp.UpgradeRolledBack}, "1.0.0", "2.0.0", 0,
			stamp.Upgrade{From: "1.0.0", To: "2.0.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ten := &stamp.Tenant{Spec: stamp.TenantSpec{Version: tt.to, ConfigGeneration: tt.config},
				Status: stamp.TenantStatus{Version: tt.from, Upgrade: tt.prev}}
			if tt.from == tt.to {
				ten.Status.Revision = tt.from // served before the change
			} else if tt.config != 0 {
				ten.Status.Revision = tt.from + "_c4"
			}
			got := *nextUpgrade(ten, time.Time{})
			if got.From != tt.want.From || got.To != tt.want.To || got.FromRevision() != tt.want.FromRevision() || got.ToRevision() != tt.want.ToRevision() ||
				got.Restore != tt.want.Restore || got.Snapshot != tt.want.Snapshot || got.KeptSnapshot != tt.want.KeptSnapshot || got.KeptFrom != tt.want.KeptFrom {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRestoreConfig(t *testing.T) {
	spec := stamp.TenantSpec{Version: "2.0.0+c9", Plan: "big", Params: map[string]string{"currency": "USD"}, ConfigGeneration: 7}
	u := &stamp.Upgrade{From: "2.0.0+c9", To: "2.0.0+c9", FromRev: "2.0.0+c9_c3", ToRev: "2.0.0+c9_c7",
		FromConfig: &stamp.TenantConfig{Plan: "small", Params: map[string]string{"currency": "EUR"}, Generation: 3}}
	restoreConfig(&spec, u)
	if spec.Revision() != u.FromRevision() || spec.Plan != "small" || spec.Params["currency"] != "EUR" {
		t.Errorf("after restoring: got revision %q, plan %q, params %v; want %q, small, currency EUR", spec.Revision(), spec.Plan, spec.Params, u.FromRevision())
	}
	spec = stamp.TenantSpec{Version: "2.0.0", ConfigGeneration: 7, Plan: "big"}
	restoreConfig(&spec, &stamp.Upgrade{From: "2.0.0", To: "2.0.0", ToRev: "2.0.0_c7"})
	if spec.Revision() != "2.0.0" || spec.Plan != "big" {
		t.Errorf("with no recorded config: got revision %q, plan %q; want 2.0.0, big", spec.Revision(), spec.Plan)
	}
}
