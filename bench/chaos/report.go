package main

import (
	"fmt"
	"time"

	"github.com/stamphq/stamp/bench/chaos/check"
)

// line is the round's line of the report.
func (res *roundResult) line(rounds int) string {
	what := "calm (no kill)"
	if res.killAt >= 0 {
		what = fmt.Sprintf("kill at %s (%s), ready again in %s", res.killAt.Round(time.Millisecond), orEnded(res.atKill), res.restart.Round(time.Millisecond))
	}
	ended := "release " + res.state
	if res.release > 0 {
		ended += " in " + res.release.Round(100*time.Millisecond).String()
	}
	return fmt.Sprintf("round %d/%d: %s; %s; at rest %s; %d inconsistent, %d unsettled, %d orphans; %s",
		res.n, rounds, what, ended, res.seen, check.Count(res.findings, check.KindInconsistent), check.Count(res.findings, check.KindUnsettled),
		check.Count(res.findings, check.KindOrphan), res.took.Round(time.Second))
}

// summaryLine adds up the rounds: how many, how many killed (and how many
// of the kills came after the release had ended), the findings of each
// kind and the time the run took.
func summaryLine(results []*roundResult, expect, took time.Duration, seed uint64) string {
	var kills, afterEnd int
	var findings []check.Finding
	for _, res := range results {
		if res.killAt >= 0 {
			kills++
			if res.atKill == "" {
				afterEnd++
			}
		}
		findings = append(findings, res.findings...)
	}
	return fmt.Sprintf("summary: %d rounds, %d kills (%d after the release had ended; expected duration %s), %d inconsistent, %d unsettled, %d orphans; %s, seed %d",
		len(results), kills, afterEnd, expect.Round(100*time.Millisecond), check.Count(findings, check.KindInconsistent),
		check.Count(findings, check.KindUnsettled), check.Count(findings, check.KindOrphan), took.Round(time.Second), seed)
}
