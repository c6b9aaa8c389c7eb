package flow

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/stamphq/stamp"
)

// sample is one step of a run: its work and its wait, or only its wait
// (StepQueued).
type sample struct {
	step       string
	work, wait time.Duration
	waitOnly   bool
}

// outcome is a run as the delivery stream reads it: how it ended and,
// if it completed, its lead time and its steps.
type outcome struct {
	state   string // a stamp.Flow* state
	lead    time.Duration
	samples []sample
}

// tallier sums runs up into a Stream.
type tallier struct {
	s          Stream
	work, wait map[string][]time.Duration
	names      map[string]string // step names seen, so decoding one allocates it once
	leads      []time.Duration
	totalWork  time.Duration
}

func newTallier() *tallier {
	return &tallier{work: map[string][]time.Duration{}, wait: map[string][]time.Duration{}, names: map[string]string{}}
}

// count counts a run in its state and reports whether it completed,
// and so whether its lead and steps are to be added.
func (t *tallier) count(state string, lead time.Duration) bool {
	switch state {
	case stamp.FlowCompleted:
		t.s.Completed++
		t.leads = append(t.leads, lead)
		return true
	case stamp.FlowFailed:
		t.s.Failed++
	default: // under way, or superseded before it ended
		t.s.InProgress++
	}
	return false
}

// add adds o.
func (t *tallier) add(o outcome) {
	if t.count(o.state, o.lead) {
		for _, s := range o.samples {
			t.addSample(s)
		}
	}
}

// addRun adds r, read from the index.
func (t *tallier) addRun(r *stamp.FlowRun) error {
	if !t.count(r.State, r.Lead) {
		return nil
	}
	if err := eachStep(r.Steps, t.addStep); err != nil {
		return fmt.Errorf("%s of tenant %s (event %d): %w", r.Kind, r.Tenant, r.BeginSeq, err)
	}
	return nil
}

func (t *tallier) addSample(s sample) { t.addStep([]byte(s.step), s.work, s.wait, s.waitOnly) }

// addStep adds one step of a completed run. Looking its name up does not
// allocate; only a name not seen before is copied.
func (t *tallier) addStep(step []byte, work, wait time.Duration, waitOnly bool) {
	name, ok := t.names[string(step)]
	if !ok {
		name = string(step)
		t.names[name] = name
	}
	t.wait[name] = append(t.wait[name], wait)
	if !waitOnly {
		t.work[name] = append(t.work[name], work)
		t.totalWork += work
	}
}

// stream returns the Stream of the runs added, its steps in the order
// rank gives (then by name).
func (t *tallier) stream(rank func(string) int) Stream {
	s := t.s
	s.Lead = summarize(t.leads)
	if s.Lead.Total > 0 {
		s.Efficiency = float64(t.totalWork) / float64(s.Lead.Total)
	}
	// Every step taken has a wait, StepQueued included.
	names := slices.SortedFunc(maps.Keys(t.wait), func(a, b string) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), strings.Compare(a, b))
	})
	var most time.Duration
	for _, name := range names {
		st := Step{Name: name, Work: summarize(t.work[name]), Wait: summarize(t.wait[name])}
		s.Steps = append(s.Steps, st)
		if d := st.Work.Total + st.Wait.Total; d > most {
			most, s.Bottleneck = d, name
		}
	}
	return s
}

// summarize returns the Durations of ds, which it sorts.
func summarize(ds []time.Duration) Durations {
	if len(ds) == 0 {
		return Durations{}
	}
	slices.Sort(ds)
	var total time.Duration
	for _, d := range ds {
		total += d
	}
	rank := func(p int) time.Duration { return ds[(len(ds)*p+99)/100-1] }
	return Durations{Count: len(ds), Total: total, P50: rank(50), P90: rank(90), Max: ds[len(ds)-1]}
}

// encodeSteps encodes samples for the index: for each, its name's length
// and bytes, a flag byte (1: wait only), and its work and wait in
// nanoseconds, all lengths and numbers as unsigned varints.
func encodeSteps(samples []sample) []byte {
	var b []byte
	for _, s := range samples {
		b = binary.AppendUvarint(b, uint64(len(s.step)))
		b = append(b, s.step...)
		flag := byte(0)
		if s.waitOnly {
			flag = 1
		}
		b = append(b, flag)
		b = binary.AppendUvarint(b, uint64(max(0, s.work)))
		b = binary.AppendUvarint(b, uint64(max(0, s.wait)))
	}
	return b
}

var errBadSteps = errors.New("flow: steps not in the index's format")

// eachStep calls fn with each step encodeSteps encoded in b. The step's
// name is b's own bytes: fn must copy it to keep it.
func eachStep(b []byte, fn func(step []byte, work, wait time.Duration, waitOnly bool)) error {
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n+1 {
			return errBadSteps
		}
		b = b[k:]
		name, waitOnly := b[:n], b[n] == 1
		b = b[n+1:]
		work, k := binary.Uvarint(b)
		if k <= 0 {
			return errBadSteps
		}
		b = b[k:]
		wait, k := binary.Uvarint(b)
		if k <= 0 {
			return errBadSteps
		}
		b = b[k:]
		fn(name, time.Duration(work), time.Duration(wait), waitOnly)
	}
	return nil
}
