package stamp

import (
	"context"
	"time"
)

// PipelineEvent is one stage of a CI pipeline, as the CI system reports
// it: a commit built, tested, reviewed or released as a version of a
// blueprint. Stages are free names; their times are the CI system's
// clock, RecordedAt the server's.
type PipelineEvent struct {
	// Seq orders the events; the store assigns it.
	Seq        int64     `json:"seq"`
	Blueprint  string    `json:"blueprint"`
	Version    string    `json:"version"`
	Commit     string    `json:"commit"`
	Stage      string    `json:"stage"`
	Status     string    `json:"status"` // StatusOK or StatusFailed
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	// RecordedAt is when the server took it (the store sets it if zero).
	RecordedAt time.Time `json:"recordedAt"`
}

// maxCommitLen bounds a commit's name: a SHA-256 in hex is 64.
const maxCommitLen = 128

// Validate checks e as a client sent it (Seq and RecordedAt aside),
// setting an empty Status to StatusOK. Version is checked by the caller,
// which knows what a blueprint version is.
func (e *PipelineEvent) Validate() error {
	if err := ValidateName("blueprint", e.Blueprint); err != nil {
		return err
	}
	if err := ValidateName("stage", e.Stage); err != nil {
		return err
	}
	switch {
	case e.Version == "":
		return Errorf(EINVALID, "version is empty: a pipeline event names the blueprint version it builds")
	case e.Commit == "":
		return Errorf(EINVALID, "commit is empty: a pipeline event names the commit it builds")
	case len(e.Commit) > maxCommitLen:
		return Errorf(EINVALID, "commit is %d characters long; at most %d are allowed", len(e.Commit), maxCommitLen)
	case e.StartedAt.IsZero() || e.FinishedAt.IsZero():
		return Errorf(EINVALID, "stage %s: startedAt and finishedAt are both required", e.Stage)
	case e.FinishedAt.Before(e.StartedAt):
		return Errorf(EINVALID, "stage %s finished (%s) before it started (%s)", e.Stage,
			e.FinishedAt.Format(time.RFC3339Nano), e.StartedAt.Format(time.RFC3339Nano))
	}
	for i := 0; i < len(e.Commit); i++ {
		if c := e.Commit[i]; c <= ' ' || c > '~' {
			return Errorf(EINVALID, "commit %q has %s at position %d; only printable ASCII without spaces is allowed", truncate(e.Commit, 70), describeByte(c), i+1)
		}
	}
	switch e.Status {
	case "":
		e.Status = StatusOK
	case StatusOK, StatusFailed:
	default:
		return Errorf(EINVALID, "status %q: want %s or %s", e.Status, StatusOK, StatusFailed)
	}
	return nil
}

// PipelineFilter selects pipeline events; zero fields select everything.
type PipelineFilter struct {
	// Since selects events that finished at or after it.
	Since time.Time
	// Blueprints selects the events of any of these blueprints.
	Blueprints []string
	AfterSeq   int64 // events after this Seq
	Limit      int   // at most this many, oldest first; 0: the store's default
}

// PipelineLog keeps the pipeline events CI systems report. There is no
// way to change or delete one.
type PipelineLog interface {
	// AppendPipelineEvent appends e, setting Seq (and RecordedAt if
	// zero).
	AppendPipelineEvent(ctx context.Context, e *PipelineEvent) error
	// ListPipelineEvents returns the events f selects, oldest (lowest
	// Seq) first.
	ListPipelineEvents(ctx context.Context, f PipelineFilter) ([]*PipelineEvent, error)
}
