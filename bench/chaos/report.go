package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/stamphq/stamp"
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
	return fmt.Sprintf("round %d/%d: %s; %s; at rest %s; %s; %s",
		res.n, rounds, what, ended, res.seen, counts(res.findings), res.took.Round(time.Second))
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
	return fmt.Sprintf("summary: %d rounds, %d kills (%d after the release had ended; expected duration %s), %s; %s, seed %d",
		len(results), kills, afterEnd, expect.Round(100*time.Millisecond), counts(findings), took.Round(time.Second), seed)
}

// counts counts findings by kind.
func counts(findings []check.Finding) string {
	return fmt.Sprintf("%d inconsistent, %d unsettled, %d orphans, %d failed restarts", check.Count(findings, check.KindInconsistent),
		check.Count(findings, check.KindUnsettled), check.Count(findings, check.KindOrphan), check.Count(findings, check.KindRestart))
}

// describeRelease says where r stands: its wave and its tenants' states.
func describeRelease(r *stamp.Release) string {
	counts := map[string]int{}
	for _, rt := range r.Status.Tenants {
		counts[rt.State]++
	}
	parts := []string{fmt.Sprintf("%s, wave %d/%d", r.Status.State, r.Status.Wave+1, len(r.Spec.Waves))}
	for _, s := range []string{stamp.ReleaseTenantPending, stamp.ReleaseTenantUpgrading, stamp.ReleaseTenantUpgraded,
		stamp.ReleaseTenantFailed, stamp.ReleaseTenantSkipped, stamp.ReleaseTenantRollingBack, stamp.ReleaseTenantRolledBack} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	return strings.Join(parts, ", ")
}

// describeHost counts what h holds.
func describeHost(h check.Host) string {
	return fmt.Sprintf("%d processes, %d tenant directories, %d ports, %d databases, %d cgroups, %d namespaces, %d interfaces",
		len(h.Procs), len(h.Drivers), len(h.Ports), len(h.DatabaseDirs), len(h.Cgroups), len(h.Namespaces), len(h.Links))
}

// orEnded returns s, or says the release had ended.
func orEnded(s string) string {
	if s == "" {
		return "after the release had ended"
	}
	return s
}
