package rollout

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/stamphq/stamp"
)

func TestParseWave(t *testing.T) {
	good := map[string]stamp.Wave{
		"1":                  {Count: 1},
		"25%":                {Percent: 25},
		"12.5%":              {Percent: 12.5},
		"ring=canary":        {Selector: map[string]string{"ring": "canary"}},
		"ring=canary&plan=b": {Selector: map[string]string{"ring": "canary", "plan": "b"}},
		"acme+globex":        {Tenants: []string{"acme", "globex"}},
		"acme":               {Tenants: []string{"acme"}},
	}
	for in, want := range good {
		got, err := ParseWave(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseWave(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if err == nil {
			if again, _ := ParseWave(FormatWave(got)); !reflect.DeepEqual(again, got) {
				t.Errorf("ParseWave(FormatWave(%+v)) = %+v", got, again)
			}
		}
	}
	for _, in := range []string{"", "0", "-3", "0%", "101%", "x%", "=a", "ring=", "Acme", "a+-b"} {
		if _, err := ParseWave(in); stamp.ErrorCode(err) != stamp.EINVALID {
			t.Errorf("ParseWave(%q): got %v, want EINVALID", in, err)
		}
	}
}

func TestTargetSplitsWaves(t *testing.T) {
	var tenants []*stamp.Tenant
	for i := range 20 {
		tenants = append(tenants, serving(fmt.Sprintf("t%02d", i), "2.0.0"))
	}
	tenants[3].Spec.Pin = "2.0.0"
	tenants[4].Spec.Labels = map[string]string{"ring": "canary"}
	tenants[5].Spec.Version, tenants[5].Status.Version = "3.0.0", "3.0.0" // on the version already: left out
	tenants = append(tenants, &stamp.Tenant{Name: "other", Spec: stamp.TenantSpec{Blueprint: "crm", Version: "2.0.0"}})
	spec := &stamp.ReleaseSpec{Blueprint: "ledger", Version: "3.0.0",
		Waves: []stamp.Wave{{Selector: map[string]string{"ring": "canary"}}, {Count: 1}, {Percent: 25}, {Percent: 100}}}
	got := Target(tenants, spec, nil)

	waves := map[int][]string{}
	for _, rt := range got {
		waves[rt.Wave] = append(waves[rt.Wave], rt.Name)
		if rt.From != "2.0.0" {
			t.Errorf("%s: from %q, want 2.0.0", rt.Name, rt.From)
		}
	}
	// 18 targets: t04 by label, then t00, then up to ceil(25% of 18) = 5 in all, then the rest.
	want := map[int][]string{
		0:  {"t04"},
		1:  {"t00"},
		2:  {"t01", "t02", "t06"},
		3:  {"t07", "t08", "t09", "t10", "t11", "t12", "t13", "t14", "t15", "t16", "t17", "t18", "t19"},
		-1: {"t03"},
	}
	if !reflect.DeepEqual(waves, want) {
		t.Errorf("waves:\ngot  %v\nwant %v", waves, want)
	}
	if last := got[len(got)-1]; last.State != stamp.ReleaseTenantSkipped || last.Message != "pinned to version 2.0.0" {
		t.Errorf("pinned tenant: got %+v, want skipped as pinned", last)
	}
}

func TestTargetReportsWhatNoWaveReaches(t *testing.T) {
	tenants := []*stamp.Tenant{serving("a", "1.0.0"), serving("b", "1.0.0"), serving("c", "1.0.0")}
	spec := &stamp.ReleaseSpec{Blueprint: "ledger", Version: "2.0.0", Waves: []stamp.Wave{{Count: 1}}}
	got := Target(tenants, spec, func(t *stamp.Tenant) error {
		if t.Name == "c" {
			return stamp.Errorf(stamp.EUNPROCESSABLE, "plan gold is gone")
		}
		return nil
	})
	states := map[string]string{}
	for _, rt := range got {
		states[rt.Name] = rt.State + ": " + rt.Message
	}
	want := map[string]string{
		"a": "pending: ",
		"b": "skipped: no wave of the release reaches it",
		"c": "skipped: plan gold is gone",
	}
	if !reflect.DeepEqual(states, want) {
		t.Errorf("states:\ngot  %v\nwant %v", states, want)
	}
}

func serving(name, version string) *stamp.Tenant {
	return &stamp.Tenant{Name: name,
		Spec:   stamp.TenantSpec{Blueprint: "ledger", Version: version, Desired: stamp.DesiredRunning},
		Status: stamp.TenantStatus{Phase: stamp.PhaseReady, Version: version}}
}

func TestTargetFollowsTheChannel(t *testing.T) {
	stable, beta, unset := serving("s", "1.0.0"), serving("b", "1.0.0"), serving("u", "1.0.0")
	stable.Spec.Channel, beta.Spec.Channel = stamp.ChannelStable, stamp.ChannelBeta
	all := []*stamp.Tenant{beta, stable, unset}
	for channel, want := range map[string][]string{"": {"b", "s", "u"}, "beta": {"b"}, "stable": {"s", "u"}} {
		spec := &stamp.ReleaseSpec{Blueprint: "ledger", Version: "2.0.0", Channel: channel, Waves: []stamp.Wave{{Percent: 100}}}
		var got []string
		for _, rt := range Target(all, spec, nil) {
			got = append(got, rt.Name)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("channel %q: got %v, want %v", channel, got, want)
		}
	}
}

func TestTargetSelectsByLabelOrPlan(t *testing.T) {
	a, b, c := serving("a", "1.0.0"), serving("b", "1.0.0"), serving("c", "1.0.0")
	a.Spec.Plan, b.Spec.Plan, c.Spec.Plan = "business", "starter", "starter"
	c.Spec.Labels = map[string]string{"plan": "business"} // a label wins over the plan
	spec := &stamp.ReleaseSpec{Blueprint: "ledger", Version: "2.0.0", Selector: map[string]string{"plan": "business"},
		Waves: []stamp.Wave{{Percent: 100}}}
	var got []string
	for _, rt := range Target([]*stamp.Tenant{a, b, c}, spec, nil) {
		got = append(got, rt.Name)
	}
	if want := []string{"a", "c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("--select plan=business: got %v, want %v", got, want)
	}
}

// TestTargetSkipsSuspended: a release passes over a suspended tenant,
// saying so; it is reached once resumed, by a later release.
func TestTargetSkipsSuspended(t *testing.T) {
	a, b := serving("a", "1.0.0"), serving("b", "1.0.0")
	b.Spec.Desired = stamp.DesiredSuspended
	got := Target([]*stamp.Tenant{a, b}, &stamp.ReleaseSpec{Blueprint: "ledger", Version: "2.0.0", Waves: []stamp.Wave{{Percent: 100}}}, nil)
	if len(got) != 2 || got[0].Name != "a" || got[0].Wave != 0 ||
		got[1].Name != "b" || got[1].State != stamp.ReleaseTenantSkipped || got[1].Message != "the tenant is suspended (a release reaches it once resumed)" {
		t.Errorf("targets: %+v, want a in wave 0 and b skipped as suspended", got)
	}
}
