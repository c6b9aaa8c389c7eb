package main

import (
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// part is one row of a breakdown, as a mean over the creates: a step, or
// the time before or after the steps.
type part struct {
	label      string
	step       bool // a step, with a wait of its own
	ran        bool // a step some create ran
	wait, work time.Duration
	done       time.Duration // when it ended, from the POST
}

// breakdown is where some creates' time went, on average: the same parts
// in the same order for any creates.
type breakdown struct {
	creates int
	mean    time.Duration // of the creates' times
	parts   []part
}

// breakdownOf averages the parts of cs. A step's mean is over the creates
// that ran it.
func breakdownOf(cs []create) breakdown {
	bd := breakdown{creates: len(cs), mean: benchkit.Mean(cs, took)}
	before := benchkit.Mean(cs, func(c create) time.Duration { return c.parts.before })
	bd.parts = append(bd.parts, part{label: "POST to the first step queued", work: before, done: before})
	for _, step := range stepOrder {
		var ran []stepTime
		for _, c := range cs {
			if st, ok := c.parts.steps[step]; ok {
				ran = append(ran, st)
			}
		}
		bd.parts = append(bd.parts, part{label: "step " + step, step: true, ran: len(ran) > 0,
			wait: benchkit.Mean(ran, func(s stepTime) time.Duration { return s.wait }),
			work: benchkit.Mean(ran, func(s stepTime) time.Duration { return s.work }),
			done: benchkit.Mean(ran, func(s stepTime) time.Duration { return s.done })})
	}
	bd.parts = append(bd.parts, part{label: "route done to the first 200",
		work: benchkit.Mean(cs, func(c create) time.Duration { return c.parts.after }), done: bd.mean})
	return bd
}

// cells renders the wait, the work and the end of p: a part that is no
// step has no wait, and a step no create ran nothing.
func (p part) cells() (wait, work, done string) {
	switch {
	case !p.step:
		return "", benchkit.MS(p.work), benchkit.MS(p.done)
	case !p.ran:
		return "-", "-", "-"
	}
	return benchkit.MS(p.wait), benchkit.MS(p.work), benchkit.MS(p.done)
}

// largestStep returns the step of the breakdown with the most work, and
// false if it has no creates.
func (bd breakdown) largestStep() (p part, ok bool) {
	for _, q := range bd.parts {
		if q.step && q.ran && (!ok || q.work > p.work) {
			p, ok = q, true
		}
	}
	return p, ok
}
