package httpapi

import (
	"strings"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// TestPipelineEvents records a stage through the API and refuses each
// kind of bad event with a message naming what is wrong, storing
// nothing for it.
func TestPipelineEvents(t *testing.T) {
	env := newTestEnv(t)
	ctx := t.Context()
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	good := PipelineEventRequest{Blueprint: "ledger", Version: "1.1.0", Commit: "9fceb02", Stage: "build", StartedAt: at, FinishedAt: at.Add(2 * time.Minute)}
	e, err := env.client.RecordPipelineEvent(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	if e.Seq == 0 || e.Status != stamp.StatusOK || e.RecordedAt.IsZero() || !e.FinishedAt.Equal(good.FinishedAt) {
		t.Errorf("recorded %+v: want a Seq, status ok, a recording time and the times sent", e)
	}
	for _, c := range []struct {
		name string
		edit func(*PipelineEventRequest)
		want string
	}{
		{"no blueprint", func(r *PipelineEventRequest) { r.Blueprint = "" }, "blueprint name is empty"},
		{"bad stage", func(r *PipelineEventRequest) { r.Stage = "Build" }, `stage name "Build" has uppercase 'B'`},
		{"bad version", func(r *PipelineEventRequest) { r.Version = "v1.1" }, `version "v1.1" is not a semantic version`},
		{"no commit", func(r *PipelineEventRequest) { r.Commit = "" }, "commit is empty"},
		{"spaced commit", func(r *PipelineEventRequest) { r.Commit = "a b" }, `commit "a b" has ' ' at position 2`},
		{"long commit", func(r *PipelineEventRequest) { r.Commit = strings.Repeat("a", 129) }, "commit is 129 characters long; at most 128"},
		{"no times", func(r *PipelineEventRequest) { r.StartedAt = time.Time{} }, "startedAt and finishedAt are both required"},
		{"backwards", func(r *PipelineEventRequest) { r.FinishedAt = at.Add(-time.Second) }, "stage build finished (2026-12-01T09:59:59Z) before it started (2026-12-01T10:00:00Z)"},
		{"bad status", func(r *PipelineEventRequest) { r.Status = "passed" }, `status "passed": want ok or failed`},
	} {
		req := good
		c.edit(&req)
		_, err := env.client.RecordPipelineEvent(ctx, req)
		if stamp.ErrorCode(err) != stamp.EINVALID || !strings.Contains(stamp.ErrorMessage(err), c.want) {
			t.Errorf("%s: %v, want EINVALID saying %q", c.name, err, c.want)
		}
	}
	all, err := env.store.ListPipelineEvents(ctx, stamp.PipelineFilter{})
	if err != nil || len(all) != 1 {
		t.Errorf("stored %d events (%v), want the good one only", len(all), err)
	}
}
