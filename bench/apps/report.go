package main

import (
	"fmt"
	"strings"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// report is everything one run prints.
type report struct {
	apps []*appResult
	// loadBefore and loadAfter are /proc/loadavg at the start and end of
	// the measurement: on a shared machine they say how quiet it was.
	loadBefore, loadAfter string
}

// markdown renders the report: per app, the percentiles and their ratios,
// then where the time went on each side.
func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Load average (1, 5, 15 min) before: %s; after: %s.\n\n", r.loadBefore, r.loadAfter)
	b.WriteString("| app | n | stamp p50 | stamp p90 | by hand p50 | by hand p90 | ratio p50 | ratio p90 |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, res := range r.apps {
		s50, s90 := benchkit.Percentile(res.stamp, sample.took, 50), benchkit.Percentile(res.stamp, sample.took, 90)
		f50, f90 := benchkit.Percentile(res.floor, sample.took, 50), benchkit.Percentile(res.floor, sample.took, 90)
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | **%s** | %s |\n", res.app.name, len(res.stamp),
			benchkit.MS(s50), benchkit.MS(s90), benchkit.MS(f50), benchkit.MS(f90), benchkit.Ratio(s50, f50), benchkit.Ratio(s90, f90))
	}
	for _, res := range r.apps {
		fmt.Fprintf(&b, "\n%s, means per sample:\n\n- by hand: %s\n", res.app.name, stepList(res.floor))
		fmt.Fprintf(&b, "- stamp, each step's work from the event log (seed runs beside start and health): %s; from the API call to the first 200, %s\n",
			stepList(res.stamp), benchkit.MS(benchkit.Mean(res.stamp, sample.took)))
		if res.checks != "" {
			fmt.Fprintf(&b, "\n`stamp server --check` of its server:\n\n```\n%s```\n", res.checks)
		}
	}
	return b.String()
}

// stepList renders the mean time of each step of samples, in order.
func stepList(samples []sample) string {
	names, mean := meanSteps(samples)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + " " + benchkit.MS(mean[n])
	}
	return strings.Join(parts, ", ")
}
