package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stamphq/stamp/flow"
)

func newFlowCmd(g *globals) *cobra.Command {
	var since, svg string
	var tenants, blueprints []string
	cmd := &cobra.Command{
		Use:   "flow [--since 30d] [--tenant NAME]... [--blueprint NAME]...",
		Short: "Where the time of tenant creates and upgrades goes: work and wait per step, lead time",
		Long: "flow reads the event log into the value stream of the creates and the\n" +
			"upgrades that began in the window: for each step the time it worked and\n" +
			"the time it waited (p50, p90, max over the runs that completed), the lead\n" +
			"time from request to serving, the flow efficiency (work over lead), and\n" +
			"the bottleneck, the step that took the most time.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, p, err := g.reader()
			if err != nil {
				return err
			}
			report, err := c.Flow(cmd.Context(), since, tenants, blueprints)
			if err != nil {
				return err
			}
			if svg != "" {
				return writeSVG(svg, report)
			}
			return p.print(report, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "from %s to %s\n", report.Since.Local().Format(time.DateTime), report.Until.Local().Format(time.DateTime))
				printStream(tw, "Creates", report.Create)
				printStream(tw, "Upgrades", report.Upgrade)
			})
		},
	}
	cmd.Flags().StringVar(&since, "since", "30d", "the window: runs that began this long ago or later (30d, 12h, 90m)")
	cmd.Flags().StringArrayVar(&tenants, "tenant", nil, "only this tenant's runs; repeatable")
	cmd.Flags().StringArrayVar(&blueprints, "blueprint", nil, "only the runs of tenants of this blueprint; repeatable")
	cmd.Flags().StringVar(&svg, "svg", "", "draw the value stream map into this SVG file instead of printing the table")
	return cmd
}

// barWidth is the width of the longest bar of a stream's table.
const barWidth = 30

// printStream prints one stream: a line of figures, then a row per step
// with its p50 work (#) and wait (.) drawn to one scale.
func printStream(tw *tabwriter.Writer, title string, s flow.Stream) {
	fmt.Fprintf(tw, "\n%s: %d completed, %d in progress, %d failed", title, s.Completed, s.InProgress, s.Failed)
	if s.Completed == 0 {
		fmt.Fprintln(tw)
		return
	}
	fmt.Fprintf(tw, "; lead time p50 %s, p90 %s, max %s; flow efficiency %.0f%%; bottleneck %s\n",
		duration(s.Lead.P50), duration(s.Lead.P90), duration(s.Lead.Max), 100*s.Efficiency, s.Bottleneck)
	var most time.Duration
	for _, st := range s.Steps {
		most = max(most, st.Work.P50+st.Wait.P50)
	}
	row(tw, "STEP", "WORK p50", "p90", "max", "WAIT p50", "p90", "max", "")
	for _, st := range s.Steps {
		name := st.Name
		if name == s.Bottleneck {
			name += " *"
		}
		row(tw, name, duration(st.Work.P50), duration(st.Work.P90), duration(st.Work.Max),
			duration(st.Wait.P50), duration(st.Wait.P90), duration(st.Wait.Max), bar(st.Work.P50, st.Wait.P50, most))
	}
}

// bar draws work as '#' and wait as '.', scaled so that most fills
// barWidth.
func bar(work, wait, most time.Duration) string {
	if most <= 0 {
		return ""
	}
	cells := func(d time.Duration) int { return int((d*barWidth + most/2) / most) }
	return strings.Repeat("#", cells(work)) + strings.Repeat(".", cells(wait))
}

// writeSVG draws report's map into the file at path, whole or not at all.
func writeSVG(path string, report *flow.Report) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".part-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	err = flow.SVG(f, report)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write the map to %s: %w", path, err)
	}
	return nil
}
