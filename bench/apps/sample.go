package main

import (
	"time"
)

// sample is one measured creation: from just before the first action
// (start) to the first 200 of the app's health check (end), with the
// time of each step.
type sample struct {
	n          int64 // the sample's number in its app's run
	start, end time.Time
	steps      []step
}

// step is how long one step of a sample took.
type step struct {
	name string
	took time.Duration
}

func (s sample) took() time.Duration { return s.end.Sub(s.start) }

// step runs do as the step called name, recording how long it took, and
// sets the sample's end when it finishes.
func (s *sample) step(name string, do func() error) error {
	start := time.Now()
	err := do()
	s.end = time.Now()
	s.steps = append(s.steps, step{name: name, took: s.end.Sub(start)})
	return err
}

// meanSteps returns the names of the steps of samples, in the order of
// the first sample, and the mean time of each.
func meanSteps(samples []sample) (names []string, mean map[string]time.Duration) {
	mean = map[string]time.Duration{}
	if len(samples) == 0 {
		return nil, mean
	}
	for _, st := range samples[0].steps {
		names = append(names, st.name)
	}
	for _, s := range samples {
		for _, st := range s.steps {
			mean[st.name] += st.took
		}
	}
	for name := range mean {
		mean[name] /= time.Duration(len(samples))
	}
	return names, mean
}
