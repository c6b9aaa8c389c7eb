package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/blueprint"
)

// PipelineEventRequest is the body of POST /v1/pipeline-events: one
// stage of a CI pipeline for a commit of a blueprint version, with the
// CI system's times.
type PipelineEventRequest struct {
	Blueprint  string    `json:"blueprint"`
	Version    string    `json:"version"`
	Commit     string    `json:"commit"`
	Stage      string    `json:"stage"`
	Status     string    `json:"status,omitempty"` // ok (the default) or failed
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
}

// handlePipelineEvent records a pipeline event. The blueprint need not
// be pushed yet: CI reports the stages before the push.
func handlePipelineEvent(st stamp.PipelineLog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[PipelineEventRequest](r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		e := &stamp.PipelineEvent{Blueprint: req.Blueprint, Version: req.Version, Commit: req.Commit, Stage: req.Stage,
			Status: req.Status, StartedAt: req.StartedAt, FinishedAt: req.FinishedAt}
		if err := e.Validate(); err != nil {
			writeError(w, r, err)
			return
		}
		if !blueprint.ValidVersion(e.Version) {
			writeError(w, r, stamp.Errorf(stamp.EINVALID, "version %q is not a semantic version such as 1.4.2", e.Version))
			return
		}
		if err := st.AppendPipelineEvent(r.Context(), e); err != nil {
			writeError(w, r, fmt.Errorf("record pipeline event: %w", err))
			return
		}
		encode(w, r, http.StatusCreated, e)
	})
}

// RecordPipelineEvent posts a pipeline event and returns it as stored.
func (c *Client) RecordPipelineEvent(ctx context.Context, req PipelineEventRequest) (*stamp.PipelineEvent, error) {
	out := new(stamp.PipelineEvent)
	if err := c.do(ctx, http.MethodPost, "/v1/pipeline-events", req, out); err != nil {
		return nil, err
	}
	return out, nil
}
