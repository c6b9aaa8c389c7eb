package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// testFlowIndex saves runs and moves the index, refuses a move from
// where the index no longer is, and lists runs by each filter.
func testFlowIndex(t *testing.T, s stamp.Store) {
	ctx := t.Context()
	if at, err := s.FlowIndexed(ctx); err != nil || at != 0 {
		t.Fatalf("FlowIndexed of a new store = %d, %v; want 0", at, err)
	}
	base := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	runs := []*stamp.FlowRun{
		{Kind: "create", Tenant: "acme", BeginSeq: 1, Start: base, State: stamp.FlowCompleted, Lead: 1500 * time.Millisecond, Steps: []byte{1, 2, 3}},
		{Kind: "create", Tenant: "globex", BeginSeq: 5, Start: base.Add(time.Hour), State: stamp.FlowInProgress, Steps: nil}, // no steps yet
		{Kind: "upgrade", Tenant: "acme", BeginSeq: 5, Start: base.Add(2 * time.Hour), State: stamp.FlowFailed, Steps: []byte{9}},
	}
	if err := s.SaveFlowRuns(ctx, 0, 10, runs); err != nil {
		t.Fatal(err)
	}
	if at, err := s.FlowIndexed(ctx); err != nil || at != 10 {
		t.Fatalf("FlowIndexed after a save to 10 = %d, %v", at, err)
	}
	err := s.SaveFlowRuns(ctx, 0, 20, []*stamp.FlowRun{{Kind: "create", Tenant: "initech", BeginSeq: 12, Start: base, State: stamp.FlowInProgress}})
	if stamp.ErrorCode(err) != stamp.ECONFLICT {
		t.Errorf("a save from where the index no longer is: %v, want ECONFLICT", err)
	}
	// globex's create ends: its row is replaced, not added.
	done := *runs[1]
	done.State, done.Lead, done.Steps = stamp.FlowCompleted, 2*time.Second, []byte{4, 5}
	if err := s.SaveFlowRuns(ctx, 10, 20, []*stamp.FlowRun{&done}); err != nil {
		t.Fatal(err)
	}
	list := func(f stamp.FlowRunFilter) []string {
		t.Helper()
		var out []string
		err := s.EachFlowRun(ctx, f, func(r *stamp.FlowRun) error {
			out = append(out, r.Kind+"/"+r.Tenant+"/"+r.State)
			return nil
		})
		if err != nil {
			t.Fatalf("EachFlowRun(%+v): %v", f, err)
		}
		slices.Sort(out)
		return out
	}
	assertEqual(t, "all", list(stamp.FlowRunFilter{}), []string{"create/acme/completed", "create/globex/completed", "upgrade/acme/failed"})
	assertEqual(t, "since", list(stamp.FlowRunFilter{Since: base.Add(time.Hour)}), []string{"create/globex/completed", "upgrade/acme/failed"})
	assertEqual(t, "until", list(stamp.FlowRunFilter{Until: base.Add(time.Hour)}), []string{"create/acme/completed"})
	assertEqual(t, "open", list(stamp.FlowRunFilter{Open: true}), []string(nil))

	var got []stamp.FlowRun
	err = s.EachFlowRun(ctx, stamp.FlowRunFilter{Until: base.Add(2 * time.Hour)}, func(r *stamp.FlowRun) error {
		c := *r
		c.Steps = append([]byte{}, r.Steps...)
		got = append(got, c)
		return nil
	})
	if err != nil || len(got) != 2 {
		t.Fatalf("EachFlowRun = %v, %v", got, err)
	}
	for _, r := range got {
		want := *runs[0]
		if r.Tenant == "globex" {
			want = done
		}
		if !r.Start.Equal(want.Start) {
			t.Errorf("%s start %v, want %v", r.Tenant, r.Start, want.Start)
		}
		r.Start = want.Start
		assertEqual(t, "run read back", r, want)
	}
}
