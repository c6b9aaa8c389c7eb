package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/internal/human"
)

func newIncidentCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "incident",
		Aliases: []string{"incidents", "i"},
		Short:   "See, acknowledge and resolve the incidents the monitor opened",
	}
	cmd.AddCommand(newIncidentListCmd(g), newIncidentShowCmd(g),
		newIncidentActionCmd(g, "ack", "Acknowledge an incident: someone is on it"),
		newIncidentActionCmd(g, "resolve", "Close an incident by hand"),
		newIncidentMTTRCmd(g))
	return cmd
}

func newIncidentListCmd(g *globals) *cobra.Command {
	var f stamp.IncidentFilter
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List incidents, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, p, err := g.reader()
			if err != nil {
				return err
			}
			list, err := c.Incidents(cmd.Context(), f)
			if err != nil {
				return err
			}
			now := time.Now()
			header := []any{"ID", "TENANT", "SERVICE", "CAUSE", "STATE", "OPENED", "DURATION", "MESSAGE"}
			return printList(p, list, header, func(i *stamp.Incident) []any {
				msg := firstLine(i.Summary(), 80)
				if p.wide() {
					msg = strings.Join(strings.Split(strings.TrimSpace(i.Summary()), "\n"), " | ")
				}
				return []any{i.ID, i.Tenant, orDash(i.Service), i.Cause, i.State, i.OpenedAt.Local().Format(time.DateTime),
					human.Duration(i.Duration(now)), msg}
			})
		},
	}
	cmd.Flags().BoolVar(&f.Open, "open", false, "only open (or acknowledged) incidents")
	cmd.Flags().StringVar(&f.Tenant, "tenant", "", "only this tenant's incidents")
	cmd.Flags().IntVar(&f.Limit, "limit", 100, "at most this many")
	return cmd
}

func newIncidentShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show an incident with its timeline and the last lines its service printed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := g.reader()
			if err != nil {
				return err
			}
			i, err := c.Incident(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return p.print(i, func(w *tabwriter.Writer) {
				row(w, "id:", i.ID)
				row(w, "tenant:", i.Tenant)
				row(w, "service:", orDash(i.Service))
				row(w, "cause:", i.Cause)
				row(w, "state:", i.State)
				row(w, "message:", i.Message)
				row(w, "opened:", i.OpenedAt.Local().Format(time.RFC3339))
				if !i.AckedAt.IsZero() {
					row(w, "acknowledged:", i.AckedAt.Local().Format(time.RFC3339)+" by "+i.AckedBy)
				}
				if !i.ResolvedAt.IsZero() {
					resolved := i.ResolvedAt.Local().Format(time.RFC3339) + " by " + i.ResolvedBy
					if i.Resolution != "" {
						resolved += " (" + i.Resolution + ")"
					}
					row(w, "resolved:", resolved)
				}
				row(w, "duration:", human.Duration(i.Duration(time.Now())))
				for _, e := range i.Timeline {
					row(w, "timeline:", e.Time.Local().Format("15:04:05.000")+"  "+e.Message)
				}
				if i.LastLogs != "" {
					row(w, "last output:", strings.ReplaceAll(i.LastLogs, "\n", "\n\t"))
				}
			})
		},
	}
}

func newIncidentActionCmd(g *globals, action, short string) *cobra.Command {
	return &cobra.Command{
		Use:   action + " ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			i, err := c.IncidentAction(cmd.Context(), args[0], action)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "incident %s: %s\n", i.ID, i.State)
			return nil
		},
	}
}

func newIncidentMTTRCmd(g *globals) *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "mttr",
		Short: "Mean time to recovery, fleet-wide and per tenant (the last 1000 incidents)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, p, err := g.reader()
			if err != nil {
				return err
			}
			s, err := c.RecoveryStats(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			return p.print(s, func(w *tabwriter.Writer) {
				row(w, "TENANT", "RESOLVED", "OPEN", "MTTR")
				row(w, "(all)", fmt.Sprint(s.Resolved), fmt.Sprint(s.Open), human.Duration(time.Duration(s.MTTR)))
				for _, name := range slices.Sorted(maps.Keys(s.Tenants)) {
					tr := s.Tenants[name]
					row(w, name, fmt.Sprint(tr.Resolved), fmt.Sprint(tr.Open), human.Duration(time.Duration(tr.MTTR)))
				}
			})
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "only this tenant")
	return cmd
}

// firstLine returns s's first line, cut to n characters.
func firstLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > n {
		s = s[:n-3] + "..."
	}
	return s
}
