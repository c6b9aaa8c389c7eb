package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/httpapi"
	"github.com/stamphq/stamp/internal/human"
)

func newEventsCmd(g *globals) *cobra.Command {
	var (
		follow bool
		f      stamp.EventFilter
	)
	cmd := &cobra.Command{
		Use:   "events [-f] [--tenant NAME] [--release ID] [--after SEQ]",
		Short: "Show the event log of every tenant and release; -f prints new events as they happen",
		Long: `Show the event log, oldest first: every lifecycle change of every tenant
and release. --tenant and --release narrow it (a deleted tenant's events
stay readable), --after starts after a sequence number.

With -f, events are printed as they happen, one line each, until Ctrl-C:
from now on, or after --after SEQ if given (--after 0: the whole log, then
new events). A dropped connection is resumed where it left off.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.AfterSeq < 0 {
				return fmt.Errorf("--after %d: want a sequence number (0 or more)", f.AfterSeq)
			}
			c, p, err := g.reader()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if !follow {
				all, err := allEvents(ctx, c, f)
				if err != nil {
					return err
				}
				return printList(p, all, eventColumns, eventCells)
			}
			lastID := int64(-1) // from now
			if cmd.Flags().Changed("after") {
				lastID = f.AfterSeq
			}
			if p.format == "table" {
				if err := liveRow(p.w, eventColumns...); err != nil {
					return err
				}
			}
			err = c.FollowEvents(ctx, f, lastID, func(e *stamp.Event) error {
				return printLiveEvent(p, e)
			})
			if ctx.Err() != nil {
				return nil // Ctrl-C ends -f
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&follow, "follow", "f", false, "keep printing new events as they happen")
	fl.StringVar(&f.Tenant, "tenant", "", "only this tenant's events")
	fl.StringVar(&f.Release, "release", "", "only this release's events")
	fl.Int64Var(&f.AfterSeq, "after", 0, "only events after this sequence number")
	return cmd
}

// allEvents reads the events f selects, oldest first, to the end of the
// log, a page at a time.
func allEvents(ctx context.Context, c *httpapi.Client, f stamp.EventFilter) ([]*stamp.Event, error) {
	var all []*stamp.Event
	for {
		events, err := c.Events(ctx, f)
		if err != nil {
			return nil, err
		}
		if len(events) == 0 {
			return all, nil
		}
		all = append(all, events...)
		f.AfterSeq = events[len(events)-1].Seq
	}
}

// timelineColumns head a tenant's timeline, `stamp tenant events`.
var timelineColumns = []any{"SEQ", "TIME", "TYPE", "STEP", "STATUS", "WAIT", "WORK", "MESSAGE"}

// eventColumns head a listing of every tenant's events: the timeline's
// columns with the tenant added.
var eventColumns = slices.Insert(slices.Clone(timelineColumns), 3, any("TENANT"))

// timelineCells are e's cells under timelineColumns; a message is cut to
// its first line.
func timelineCells(e *stamp.Event) []any {
	wait, work := "-", "-"
	if !e.StartedAt.IsZero() {
		wait = human.Duration(e.StartedAt.Sub(e.QueuedAt))
		work = human.Duration(e.FinishedAt.Sub(e.StartedAt))
	}
	msg, _, _ := strings.Cut(e.Message, "\n")
	return []any{e.Seq, e.Time.Format("15:04:05.000"), e.Type, orDash(e.Step), orDash(e.Status), wait, work, msg}
}

// eventCells are e's cells under eventColumns.
func eventCells(e *stamp.Event) []any {
	return slices.Insert(timelineCells(e), 3, any(orDash(e.Tenant)))
}

// liveWidths are the widths of eventColumns but the last when events are
// printed as they come: a table cannot be aligned on rows not yet seen.
var liveWidths = []int{7, 12, 24, 16, 9, 6, 7, 7}

// liveRow writes one row of cells padded to liveWidths.
func liveRow(w io.Writer, cells ...any) error {
	var b strings.Builder
	for i, c := range cells {
		s := fmt.Sprint(c)
		if i < len(liveWidths) {
			fmt.Fprintf(&b, "%-*s  ", liveWidths[i], s)
		} else {
			b.WriteString(s)
		}
	}
	_, err := fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	return err
}

// printLiveEvent prints e as it comes: a row, a line of JSON or a YAML
// document.
func printLiveEvent(p *printer, e *stamp.Event) error {
	switch p.format {
	case "json":
		return json.NewEncoder(p.w).Encode(e)
	case "yaml":
		if _, err := fmt.Fprintln(p.w, "---"); err != nil {
			return err
		}
		return p.print(e, nil)
	}
	return liveRow(p.w, eventCells(e)...)
}
