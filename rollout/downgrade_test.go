package rollout

import (
	"reflect"
	"strings"
	"testing"

	"github.com/stamphq/stamp"
)

func TestTargetSkipsTenantsOnANewerVersion(t *testing.T) {
	moving := serving("moving", "2.0.0")
	moving.Spec.Version = "3.0.0" // on its way to 3.0.0
	tenants := []*stamp.Tenant{serving("old", "1.0.0"), serving("rc", "2.0.0-rc.1"), serving("newer", "3.0.0"),
		moving, serving("ten", "10.0.0"), serving("patch", "2.0.1")}
	reason := func(v string) string {
		return "skipped: it is on " + v + ", newer than 2.0.0: a release moves no tenant back unless it allows downgrades (--allow-downgrade)"
	}
	for _, tt := range []struct {
		allow bool
		want  map[string]string
	}{
		{false, map[string]string{"old": "pending: ", "rc": "pending: ", "newer": reason("3.0.0"),
			"moving": reason("3.0.0"), "ten": reason("10.0.0"), "patch": reason("2.0.1")}},
		{true, map[string]string{"old": "pending: ", "rc": "pending: ", "newer": "pending: ",
			"moving": "pending: ", "ten": "pending: ", "patch": "pending: "}},
	} {
		spec := &stamp.ReleaseSpec{Blueprint: "ledger", Version: "2.0.0", Waves: []stamp.Wave{{Percent: 100}}, AllowDowngrade: tt.allow}
		got := map[string]string{}
		for _, rt := range Target(tenants, spec, nil) {
			got[rt.Name] = rt.State + ": " + rt.Message
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("allowDowngrade %v:\ngot  %v\nwant %v", tt.allow, got, tt.want)
		}
	}
}

// upgradeByHand moves tenant name to version outside any release, as
// `stamp tenant upgrade` and the reconciler would.
func (f *fixture) upgradeByHand(name, version string) {
	f.t.Helper()
	tn := f.tenant(name)
	tn.Spec.Version, tn.Status.Version = version, version
	tn.Generation++
	tn.Status.ObservedGeneration = tn.Generation
	if err := f.st.UpdateTenant(f.ctx, tn); err != nil {
		f.t.Fatal(err)
	}
}

// TestTenantMovedPastTheReleaseIsSkipped: b is moved to 3.0.0 by hand
// while a release of 2.0.0 is at its first wave; its second wave leaves
// b on 3.0.0 unless the release allows downgrades.
func TestTenantMovedPastTheReleaseIsSkipped(t *testing.T) {
	for _, allow := range []bool{false, true} {
		f := newFixture(t, "a", "b")
		f.release(stamp.ReleaseSpec{Waves: []stamp.Wave{{Count: 1}, {Percent: 100}}, MaxParallel: 1, AllowDowngrade: allow})
		f.advance() // a moves
		f.upgradeByHand("b", "3.0.0")
		f.finishUpgrade("a")
		f.advance() // the first wave's gate passes (no soak)
		r := f.advance()
		b := r.Status.Tenants[1]
		if !allow {
			if r.Status.State != stamp.ReleaseSucceeded || b.State != stamp.ReleaseTenantSkipped ||
				!strings.Contains(b.Message, "it is on 3.0.0, newer than 2.0.0") {
				t.Errorf("release %s; b: %+v; want b skipped as newer", r.Status.State, b)
			}
			if tn := f.tenant("b"); tn.Spec.Version != "3.0.0" {
				t.Errorf("b's spec names %s, want 3.0.0 still", tn.Spec.Version)
			}
			continue
		}
		if b.State != stamp.ReleaseTenantUpgrading || b.Message != "from 3.0.0, a downgrade" {
			t.Errorf("allowed: b: %+v; want it moving back, saying so", b)
		}
		if tn := f.tenant("b"); tn.Spec.Version != "2.0.0" {
			t.Errorf("allowed: b's spec names %s, want 2.0.0", tn.Spec.Version)
		}
	}
}
