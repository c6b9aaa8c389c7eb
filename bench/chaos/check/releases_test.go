package check

import (
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

func rev(typ, tenant, status, msg string) *stamp.Event {
	return &stamp.Event{Type: typ, Release: "rel-1", Tenant: tenant, Status: status, Message: msg}
}

// succeededLog is the log of rel-1 rolling 2.0.0 over a and b in waves
// 1 and 100%, with the tenant events of their moves.
func succeededLog() []*stamp.Event {
	return stream(
		rev(stamp.EventReleaseCreated, "", "", "ledger@2.0.0: 2 tenant(s) in 2 wave(s), 1 skipped"),
		rev(stamp.EventReleaseTenant, "a", "", "upgrading: from 1.0.0"),
		&stamp.Event{Type: stamp.EventTenantUpgradeRequested, Tenant: "a", Release: "rel-1", Generation: 2},
		rev(stamp.EventReleaseTenant, "a", "", "upgraded"),
		rev(stamp.EventReleaseGate, "", stamp.StatusOK, "wave 1 (1): 1 tenant(s) healthy for 0s, 0 of 0 requests 5xx"),
		rev(stamp.EventReleaseWave, "", "", "wave 2 (100%) starts"),
		rev(stamp.EventReleaseTenant, "b", "", "upgrading: from 1.0.0"),
		&stamp.Event{Type: stamp.EventTenantUpgradeRequested, Tenant: "b", Release: "rel-1", Generation: 2},
		rev(stamp.EventReleaseTenant, "b", "", "upgraded"),
		rev(stamp.EventReleaseGate, "", stamp.StatusOK, "wave 2 (100%): 1 tenant(s) healthy for 0s, 0 of 0 requests 5xx"),
		rev(stamp.EventReleaseSucceeded, "", "", "every wave passed its gate"),
	)
}

// succeeded is rel-1 as succeededLog leaves it.
func succeeded() *stamp.Release {
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	return &stamp.Release{ID: "rel-1", CreatedAt: at,
		Spec: stamp.ReleaseSpec{Blueprint: "ledger", Version: "2.0.0", Waves: []stamp.Wave{{Count: 1}, {Percent: 100}}, OnFailure: stamp.OnFailureRollback},
		Status: stamp.ReleaseStatus{State: stamp.ReleaseSucceeded, Wave: 2, StartedAt: at, FinishedAt: at.Add(time.Minute), Tenants: []stamp.ReleaseTenant{
			{Name: "a", Wave: 0, From: "1.0.0", State: stamp.ReleaseTenantUpgraded, Generation: 2},
			{Name: "b", Wave: 1, From: "1.0.0", State: stamp.ReleaseTenantUpgraded, Generation: 2},
			{Name: "pinned", Wave: -1, State: stamp.ReleaseTenantSkipped, Message: "pinned to version 1.0.0"},
		}}}
}

func TestReleases(t *testing.T) {
	with := func(change func(r *stamp.Release)) *stamp.Release {
		r := succeeded()
		change(r)
		return r
	}
	running := func(r *stamp.Release) { r.Status.State, r.Status.FinishedAt = stamp.ReleaseRunning, time.Time{} }
	log := succeededLog()
	// pick takes the events at indexes is of a fresh succeededLog,
	// numbered anew.
	pick := func(is ...int) []*stamp.Event {
		all := succeededLog()
		var out []*stamp.Event
		for _, i := range is {
			out = append(out, all[i])
		}
		return stream(out...)
	}
	for _, tc := range []struct {
		name    string
		release *stamp.Release
		events  []*stamp.Event
		want    []string
	}{
		{name: "succeeded", release: succeeded(), events: log},
		{name: "succeeded with no release.succeeded", release: succeeded(), events: log[:10],
			want: []string{"state succeeded, but its last event that sets one, release.created (seq 1"}},
		{name: "running mid-wave", release: with(func(r *stamp.Release) {
			running(r)
			r.Status.Wave = 1
			r.Status.Tenants[1].State = stamp.ReleaseTenantUpgrading
		}), events: log[:8]},
		{name: "running, wave not recorded", release: with(func(r *stamp.Release) {
			running(r)
			r.Status.Wave = 1
			r.Status.Tenants[1].State = stamp.ReleaseTenantPending
		}), events: log[:4],
			want: []string{"at wave index 1, but 0 gate(s) passed", "at wave index 1 of 2, so 1 release.wave event(s), but it has 0"}},
		{name: "tenant state ahead of its events", release: with(func(r *stamp.Release) {
			running(r)
			r.Status.Wave = 1
		}), events: log[:8],
			want: []string{"tenant b is upgraded, but its last release.tenant event, release.tenant (seq 7, generation 0, \"upgrading: from 1.0.0\"), says upgrading"}},
		{name: "tenant moved with no event", release: with(func(r *stamp.Release) {
			running(r)
			r.Status.Wave = 1
			r.Status.Tenants[1].State = stamp.ReleaseTenantUpgrading
		}), events: log[:6],
			want: []string{"tenant b is upgrading (wave index 1) with no release.tenant event about it"}},
		{name: "finished with a tenant still moving", release: with(func(r *stamp.Release) {
			r.Status.Tenants[1].State = stamp.ReleaseTenantUpgrading
		}), events: pick(0, 1, 2, 3, 4, 5, 6, 9, 10),
			want: []string{"succeeded, but tenant b is still upgrading in it"}},
		{name: "finished with no finish time", release: with(func(r *stamp.Release) { r.Status.FinishedAt = time.Time{} }), events: log,
			want: []string{"state succeeded with finish time"}},
		{name: "upgraded with no move", release: succeeded(), events: pick(0, 1, 2, 3, 4, 5, 6, 8, 9, 10),
			want: []string{"tenant b is upgraded after its move at generation 2, but no tenant.upgrade-requested event of that move"}},
		{name: "gate passed out of order", release: succeeded(), events: pick(0, 1, 2, 3, 9, 5, 6, 7, 8, 4, 10),
			want: []string{"gate passed #1 is release.gate", "gate passed #2 is release.gate"}},
		{name: "rolling back after a failed gate", release: with(func(r *stamp.Release) {
			running(r)
			r.Status.State, r.Status.Wave = stamp.ReleaseRollingBack, 0
			r.Status.Tenants[0].State = stamp.ReleaseTenantFailed
			r.Status.Tenants[1].State, r.Status.Tenants[1].Message = stamp.ReleaseTenantSkipped, "the release stopped at wave 1"
			r.Status.Tenants[1].Generation = 0
		}), events: stream(append(pick(0, 1, 2), rev(stamp.EventReleaseTenant, "a", "", "failed: rolled-back at step health: unhealthy"),
			rev(stamp.EventReleaseGate, "", stamp.StatusFailed, "wave 1 (1) failed its gate: 1 tenant(s) failed to upgrade"),
			rev(stamp.EventReleaseTenant, "b", "", "skipped: the release stopped at wave 1"))...)},
		{name: "events of a release the store lacks", events: log[:1],
			want: []string{"release rel-1: not in the store, but it has 1 release.* event(s)"}},
		{name: "no release.created", release: succeeded(), events: log[1:],
			want: []string{"its first event is not release.created"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var releases []*stamp.Release
			if tc.release != nil {
				releases = append(releases, tc.release)
			}
			wantFindings(t, Releases(releases, tc.events), KindInconsistent, tc.want)
		})
	}
}
