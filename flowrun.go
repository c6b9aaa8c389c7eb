package stamp

import (
	"context"
	"time"
)

// Flow run states (FlowRun.State).
const (
	FlowInProgress = "in-progress"
	FlowCompleted  = "completed"
	FlowFailed     = "failed"
	// FlowSuperseded is a run its tenant began another of the same kind
	// before it ended (a change made while an upgrade was under way).
	FlowSuperseded = "superseded"
)

// FlowRun is one create or upgrade of a tenant as the flow index (see
// package flow) keeps it, so that a value stream report reads a row a
// run rather than the whole event log.
type FlowRun struct {
	Kind   string // "create" or "upgrade"
	Tenant string
	// BeginSeq is the Seq of the event that began the run: with Kind,
	// the run's key.
	BeginSeq int64
	Start    time.Time
	State    string
	Lead     time.Duration // request to end, once completed
	// Steps is the run's steps' times, encoded by package flow; the
	// store keeps it as it is.
	Steps []byte
}

// FlowRunFilter selects flow runs: those that began in [Since, Until)
// (zero Until: no end), or with Open those in progress, whenever they
// began.
type FlowRunFilter struct {
	Since, Until time.Time
	Open         bool
}

// FlowIndex keeps the flow index: a row per run, and the Seq of the last
// event read into it.
type FlowIndex interface {
	// FlowIndexed returns the Seq of the last event read into the index,
	// 0 for none.
	FlowIndexed(ctx context.Context) (int64, error)
	// SaveFlowRuns writes runs, each replacing the run of its Kind and
	// BeginSeq, and moves the index from event from to event to, in one
	// transaction. If the index is no longer at from (another server
	// moved it), it writes nothing and returns ECONFLICT.
	SaveFlowRuns(ctx context.Context, from, to int64, runs []*FlowRun) error
	// EachFlowRun calls fn with each run f selects, in no set order,
	// until fn returns an error, which it returns. The run is fn's only
	// for the call.
	EachFlowRun(ctx context.Context, f FlowRunFilter, fn func(*FlowRun) error) error
}
