package storetest

import (
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// testPipeline appends pipeline events and lists them by each filter.
func testPipeline(t *testing.T, s stamp.Store) {
	ctx := t.Context()
	base := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	events := []*stamp.PipelineEvent{
		{Blueprint: "ledger", Version: "1.1.0", Commit: "c1", Stage: "build", Status: stamp.StatusOK, StartedAt: base, FinishedAt: base.Add(90 * time.Second)},
		{Blueprint: "billing", Version: "2.0.0", Commit: "c2", Stage: "test", Status: stamp.StatusFailed, StartedAt: base.Add(time.Minute), FinishedAt: base.Add(3 * time.Minute), RecordedAt: base.Add(4 * time.Minute)},
		{Blueprint: "ledger", Version: "1.1.0", Commit: "c1", Stage: "test", Status: stamp.StatusOK, StartedAt: base.Add(2 * time.Minute), FinishedAt: base.Add(5 * time.Minute)},
	}
	before := time.Now()
	for i, e := range events {
		if err := s.AppendPipelineEvent(ctx, e); err != nil {
			t.Fatalf("AppendPipelineEvent %d: %v", i, err)
		}
		if e.Seq == 0 {
			t.Errorf("AppendPipelineEvent %d: no Seq", i)
		}
	}
	if got := events[0].RecordedAt; got.Before(before.Add(-time.Minute)) || got.After(time.Now().Add(time.Minute)) {
		t.Errorf("RecordedAt of an event without one = %v, want about now", got)
	}
	if !events[1].RecordedAt.Equal(base.Add(4 * time.Minute)) {
		t.Errorf("RecordedAt given = %v, want it kept", events[1].RecordedAt)
	}
	list := func(f stamp.PipelineFilter) []string {
		t.Helper()
		got, err := s.ListPipelineEvents(ctx, f)
		if err != nil {
			t.Fatalf("ListPipelineEvents(%+v): %v", f, err)
		}
		out := []string{}
		for _, e := range got {
			out = append(out, e.Commit+"/"+e.Stage)
		}
		return out
	}
	assertEqual(t, "all", list(stamp.PipelineFilter{}), []string{"c1/build", "c2/test", "c1/test"})
	assertEqual(t, "blueprints", list(stamp.PipelineFilter{Blueprints: []string{"ledger"}}), []string{"c1/build", "c1/test"})
	assertEqual(t, "no blueprint", list(stamp.PipelineFilter{Blueprints: []string{}}), []string{})
	assertEqual(t, "finished since", list(stamp.PipelineFilter{Since: base.Add(3 * time.Minute)}), []string{"c2/test", "c1/test"})
	assertEqual(t, "after and limit", list(stamp.PipelineFilter{AfterSeq: events[0].Seq, Limit: 1}), []string{"c2/test"})

	got, err := s.ListPipelineEvents(ctx, stamp.PipelineFilter{Blueprints: []string{"billing"}})
	if err != nil || len(got) != 1 {
		t.Fatalf("ListPipelineEvents(billing) = %v, %v", got, err)
	}
	want := *events[1]
	g := *got[0]
	if !g.StartedAt.Equal(want.StartedAt) || !g.FinishedAt.Equal(want.FinishedAt) || !g.RecordedAt.Equal(want.RecordedAt) {
		t.Errorf("times read back %v %v %v, want %v %v %v", g.StartedAt, g.FinishedAt, g.RecordedAt, want.StartedAt, want.FinishedAt, want.RecordedAt)
	}
	g.StartedAt, g.FinishedAt, g.RecordedAt = want.StartedAt, want.FinishedAt, want.RecordedAt
	assertEqual(t, "read back", g, want)
	if _, err := s.ListPipelineEvents(ctx, stamp.PipelineFilter{Limit: -1}); stamp.ErrorCode(err) != stamp.EINVALID {
		t.Errorf("negative limit: %v, want EINVALID", err)
	}
}
