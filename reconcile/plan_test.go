package reconcile

import (
	"slices"
	"testing"

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
		{"new version migrates again but never seeds again", tenant(func(t *stamp.Tenant) {
			t.Generation = 2
			t.Spec.Version = "1.1.0"
			t.Status = stamp.TenantStatus{Phase: stamp.PhaseReady, ObservedGeneration: 1, MigratedVersion: "1.0.0", Seeded: true}
		}), up, []string{"allocate", "secrets", "database", "migrate", "start", "health", "route"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Plan(tt.t, tt.obs); !slices.Equal(got, tt.want) {
				t.Errorf("Plan = %q, want %q", got, tt.want)
			}
		})
	}
}
