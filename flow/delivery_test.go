package flow

import (
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// min is t0 plus n minutes.
func mins(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }

// stage is a pipeline event of blueprint@version, started and finished
// at those minutes (the CI system's clock) and recorded when it
// finished by a server whose clock is ahead minutes behind the CI's.
func stage(bp, version, name, status string, started, finished, ahead int) *stamp.PipelineEvent {
	return &stamp.PipelineEvent{Blueprint: bp, Version: version, Commit: version + "-sha", Stage: name, Status: status,
		StartedAt: mins(started), FinishedAt: mins(finished), RecordedAt: mins(finished - ahead)}
}

// never stands for a time that has not come: a release still going, an
// incident still open.
const never = -1 << 20

// release is a release of blueprint@version created, started and
// finished at those minutes (finished never: still going), in state.
func release(bp, version, state string, created, started, finished int, tenants ...string) *stamp.Release {
	r := &stamp.Release{ID: "rel-" + version, Spec: stamp.ReleaseSpec{Blueprint: bp, Version: version}, CreatedAt: mins(created),
		Status: stamp.ReleaseStatus{State: state, StartedAt: mins(started)}}
	if finished != never {
		r.Status.FinishedAt = mins(finished)
	}
	for _, t := range tenants {
		r.Status.Tenants = append(r.Status.Tenants, stamp.ReleaseTenant{Name: t})
	}
	return r
}

// deliveryFixture: changes with known timings (minutes after t0).
//   - ledger 1.1.0: build 0-2, test 3-8, review 10-40, release 50-80
//     (ok), its tenants upgraded at 60 and 70 (then a soak): lead 70.
//   - ledger 1.2.0, the CI clock an hour ahead (the second report 59
//     minutes): build 100-104, test 105-111, release created 120, started
//     121, ended 140 (ok): lead 40.
//   - billing 2.0.0: test failed, no release: failed.
//   - billing 2.1.0: its release still rolls out: in progress.
//   - ledger 1.3.0: its release failed: failed.
//   - ledger 1.0.0: committed before the window.
//   - ledger 1.4.0: aborted.
func deliveryFixture() ([]*stamp.PipelineEvent, []*stamp.Release) {
	pipeline := []*stamp.PipelineEvent{
		stage("ledger", "1.0.0", "build", stamp.StatusOK, -100, -99, 0),
		stage("ledger", "1.1.0", "build", stamp.StatusOK, 0, 2, 0),
		stage("ledger", "1.1.0", "test", stamp.StatusOK, 3, 8, 0),
		stage("ledger", "1.1.0", "review", stamp.StatusOK, 10, 40, 0),
		stage("ledger", "1.2.0", "build", stamp.StatusOK, 160, 164, 60),
		stage("ledger", "1.2.0", "test", stamp.StatusOK, 164, 170, 59),
		stage("billing", "2.0.0", "build", stamp.StatusOK, 200, 202, 0),
		stage("billing", "2.0.0", "test", stamp.StatusFailed, 203, 204, 0),
		stage("billing", "2.1.0", "build", stamp.StatusOK, 300, 301, 0),
		stage("ledger", "1.3.0", "build", stamp.StatusOK, 400, 401, 0),
		stage("ledger", "1.4.0", "build", stamp.StatusOK, 480, 481, 0),
	}
	releases := []*stamp.Release{
		release("ledger", "1.0.0", stamp.ReleaseSucceeded, -60, -60, -50, "acme"),
		release("ledger", "1.1.0", stamp.ReleaseSucceeded, 50, 50, 80, "acme", "globex"),
		release("ledger", "1.2.0", stamp.ReleaseSucceeded, 120, 121, 140, "globex"),
		release("billing", "2.1.0", stamp.ReleaseRunning, 310, 310, never, "initech"),
		release("ledger", "1.3.0", stamp.ReleaseFailed, 405, 405, 420, "acme"),
		release("ledger", "1.4.0", stamp.ReleaseAborted, 490, 490, 500, "acme"),
	}
	for i, at := range []int{60, 70} {
		releases[1].Status.Tenants[i].State, releases[1].Status.Tenants[i].FinishedAt = stamp.ReleaseTenantUpgraded, mins(at)
	}
	return pipeline, releases
}

func dur(n int) time.Duration { return time.Duration(n) * time.Minute }

func TestDelivery(t *testing.T) {
	pipeline, releases := deliveryFixture()
	s := Delivery(pipeline, releases, Filter{Since: t0, Until: t0.Add(24 * time.Hour)})
	if s.Completed != 2 || s.InProgress != 1 || s.Failed != 3 {
		t.Fatalf("completed, in progress, failed: %d %d %d; want 2 1 3", s.Completed, s.InProgress, s.Failed)
	}
	if want := (Durations{Count: 2, Total: dur(110), P50: dur(40), P90: dur(70), Max: dur(70)}); s.Lead != want {
		t.Errorf("lead %+v, want %+v", s.Lead, want)
	}
	// Work: 2+5+30+20 and 4+6+19, over 110.
	if want := 86.0 / 110; s.Efficiency != want {
		t.Errorf("efficiency %v, want %v", s.Efficiency, want)
	}
	want := []Step{
		{"build", Durations{Count: 2, Total: dur(6), P50: dur(2), P90: dur(4), Max: dur(4)}, Durations{Count: 2}},
		{"test", Durations{Count: 2, Total: dur(11), P50: dur(5), P90: dur(6), Max: dur(6)}, Durations{Count: 2, Total: dur(2), P50: dur(1), P90: dur(1), Max: dur(1)}},
		{"review", Durations{Count: 1, Total: dur(30), P50: dur(30), P90: dur(30), Max: dur(30)}, Durations{Count: 1, Total: dur(2), P50: dur(2), P90: dur(2), Max: dur(2)}},
		{StepRelease, Durations{Count: 2, Total: dur(39), P50: dur(19), P90: dur(20), Max: dur(20)}, Durations{Count: 2, Total: dur(20), P50: dur(10), P90: dur(10), Max: dur(10)}},
	}
	checkSteps(t, s.Steps, want)
	if s.Bottleneck != StepRelease {
		t.Errorf("bottleneck %q, want release", s.Bottleneck)
	}
}

// TestDeliveryStageRunAgain: a stage that failed and then passed is no
// failure, and both runs count.
func TestDeliveryStageRunAgain(t *testing.T) {
	pipeline := []*stamp.PipelineEvent{
		stage("ledger", "1.1.0", "test", stamp.StatusFailed, 0, 1, 0),
		stage("ledger", "1.1.0", "test", stamp.StatusOK, 2, 5, 0),
	}
	releases := []*stamp.Release{release("ledger", "1.1.0", stamp.ReleaseSucceeded, 6, 6, 10)}
	s := Delivery(pipeline, releases, Filter{Since: t0})
	if s.Completed != 1 || s.Failed != 0 || s.Lead.P50 != dur(10) {
		t.Fatalf("completed %d, failed %d, lead %v; want 1, 0, 10m", s.Completed, s.Failed, s.Lead.P50)
	}
	if s.Steps[0].Work.Count != 2 || s.Steps[0].Wait.Total != dur(1) {
		t.Errorf("test step %+v: want two runs, the second waiting 1m", s.Steps[0])
	}
}
