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
	"github.com/stamphq/stamp/internal/human"
)

func newFlowCmd(g *globals) *cobra.Command {
	var since, svg string
	var tenants, blueprints []string
	cmd := &cobra.Command{
		Use:   "flow [--since 30d] [--tenant NAME]... [--blueprint NAME]...",
		Short: "Where the time of creates, upgrades and delivery goes, and the DORA figures",
		Long: "flow reads the event log into the value stream of the creates and the\n" +
			"upgrades that began in the window: for each step the time it worked and\n" +
			"the time it waited (p50, p90, max over the runs that completed), the lead\n" +
			"time from request to serving, the flow efficiency (work over lead), and\n" +
			"the bottleneck, the step that took the most time. The delivery stream\n" +
			"does the same from commit to fleet: the CI stages (stamp pipeline event),\n" +
			"then the release. Last come the four DORA figures of the window, against\n" +
			"the window of the same length before it.",
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
				printStream(tw, "Delivery (commit to fleet)", report.Delivery)
				printDORA(tw, report.DORA)
				for _, n := range report.Notes {
					fmt.Fprintf(tw, "\nnote: %s\n", n)
				}
			})
		},
	}
	cmd.Flags().StringVar(&since, "since", "30d", "the window: runs that began this long ago or later (30d, 12h, 90m)")
	cmd.Flags().StringArrayVar(&tenants, "tenant", nil, "only this tenant's runs; repeatable")
	cmd.Flags().StringArrayVar(&blueprints, "blueprint", nil, "only the runs of tenants of this blueprint; repeatable")
	cmd.Flags().StringVar(&svg, "svg", "", "draw the value stream map into this SVG file instead of printing the table")
	return cmd
}

// printDORA prints the DORA figures, now and in the window before, and
// whether they got better.
func printDORA(tw *tabwriter.Writer, d flow.DORA) {
	fmt.Fprintf(tw, "\nDORA over %s, against the %s before\n", days(d.Days), days(d.Days))
	deploys, lead, failures, restore := d.Trends()
	row(tw, "FIGURE", "NOW", "BEFORE", "TREND")
	f := d.DeployFrequency
	row(tw, "deploys per week", fmt.Sprintf("%.1f (%d)", 7*f.Current, f.Count), fmt.Sprintf("%.1f (%d)", 7*f.Previous, f.PreviousCount), orDash(deploys))
	row(tw, "deploys per day", fmt.Sprintf("%.2f", f.Current), fmt.Sprintf("%.2f", f.Previous), "")
	l := d.LeadTime
	row(tw, "lead time for changes", medianOf(l.Current, l.Count), medianOf(l.Previous, l.PreviousCount), orDash(lead))
	c := d.ChangeFailureRate
	row(tw, "change failure rate", fmt.Sprintf("%.0f%% (%d)", 100*c.Current, c.Count), fmt.Sprintf("%.0f%% (%d)", 100*c.Previous, c.PreviousCount), orDash(failures))
	r := d.TimeToRestore
	row(tw, "time to restore", medianOf(r.Current, r.Count), medianOf(r.Previous, r.PreviousCount), orDash(restore))
	if d.OpenIncidents > 0 {
		fmt.Fprintf(tw, "(%d incident(s) of the window still open)\n", d.OpenIncidents)
	}
}

// medianOf writes a median duration of n things, "-" of none.
func medianOf(d time.Duration, n int) string {
	if n == 0 {
		return "- (0)"
	}
	return fmt.Sprintf("%s (%d)", human.Duration(d), n)
}

// days writes a window's length: "30d", or hours under a day.
func days(d float64) string {
	if d < 1 {
		return fmt.Sprintf("%.0fh", 24*d)
	}
	return fmt.Sprintf("%.0fd", d)
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
		human.Duration(s.Lead.P50), human.Duration(s.Lead.P90), human.Duration(s.Lead.Max), 100*s.Efficiency, s.Bottleneck)
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
		row(tw, name, human.Duration(st.Work.P50), human.Duration(st.Work.P90), human.Duration(st.Work.Max),
			human.Duration(st.Wait.P50), human.Duration(st.Wait.P90), human.Duration(st.Wait.Max), bar(st.Work.P50, st.Wait.P50, most))
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
