package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/httpapi"
	"github.com/stamphq/stamp/internal/human"
	"github.com/stamphq/stamp/rollout"
)

func newReleaseCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "release",
		Aliases: []string{"releases", "r"},
		Short:   "Roll a blueprint version out over the fleet in gated waves",
	}
	cmd.AddCommand(newReleaseCreateCmd(g), newReleaseListCmd(g), newReleaseStatusCmd(g),
		newReleaseControlCmd(g, "pause", "Stop starting upgrades; those under way finish"),
		newReleaseControlCmd(g, "resume", "Go on with a paused release"),
		newReleaseControlCmd(g, "abort", "End a release; upgrades under way finish, the rest are skipped"),
		newReleaseSkipCmd(g), newReleaseRetryCmd(g))
	return cmd
}

func newReleaseCreateCmd(g *globals) *cobra.Command {
	var (
		waves       string
		selector    []string
		channel     string
		maxParallel int
		soak        time.Duration
		maxErrors   float64
		onFailure   string
		downgrade   bool
		wait        bool
	)
	cmd := &cobra.Command{
		Use:   "create BLUEPRINT@VERSION",
		Short: "Start a release of a blueprint version",
		Long: `Create a release: the tenants of the blueprint (limited by --select and
--channel) that are not on VERSION yet and not pinned to another one are
split into waves and upgraded blue/green, wave after wave. A wave passes its
gate once every tenant of it is upgraded and stays serving for --soak with a
router 5xx rate at most --max-error-rate; a failed tenant or gate rolls back
every tenant the release upgraded (--on-failure rollback) or pauses it.

Waves (--waves, comma-separated): N tenants, N% of the release's tenants
(cumulative), key=value[&key=value] (a label selector) or name[+name...].

A release never moves a tenant back: tenants on a newer version than
VERSION are listed as skipped, saying so, unless --allow-downgrade.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			req := httpapi.CreateReleaseRequest{Channel: channel, MaxParallel: maxParallel, OnFailure: onFailure,
				Soak: ptr(stamp.Duration(soak)), MaxErrorRate: &maxErrors, AllowDowngrade: downgrade}
			req.Blueprint, req.Version = splitRef(args[0])
			if req.Version == "" {
				return fmt.Errorf("%q: name the version to release, as BLUEPRINT@VERSION", args[0])
			}
			for _, s := range strings.Split(waves, ",") {
				w, err := rollout.ParseWave(strings.TrimSpace(s))
				if err != nil {
					return fmt.Errorf("--waves: %s", stamp.ErrorMessage(err))
				}
				req.Waves = append(req.Waves, w)
			}
			if req.Selector, err = keyValues("--select", selector); err != nil {
				return err
			}
			rel, err := c.CreateRelease(cmd.Context(), req)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "release %s: %s@%s\n", rel.ID, rel.Spec.Blueprint, rel.Spec.Version)
			if !wait {
				printRelease(g.stdout, rel)
				return nil
			}
			return watchRelease(cmd.Context(), c, rel.ID, g.stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&waves, "waves", "100%", "waves, comma-separated: N, N%, key=value or name+name")
	f.StringArrayVar(&selector, "select", nil, "only tenants with this label, as key=value (repeatable)")
	f.StringVar(&channel, "channel", "", "only tenants following this channel (stable or beta)")
	f.IntVar(&maxParallel, "max-parallel", 8, "tenants upgrading at once")
	f.DurationVar(&soak, "soak", 30*time.Second, "how long a wave must stay healthy before the next starts")
	f.Float64Var(&maxErrors, "max-error-rate", 0.01, "highest share of 5xx answers a wave may get while it soaks")
	f.StringVar(&onFailure, "on-failure", stamp.OnFailureRollback, "what a failed gate does: rollback or pause")
	f.BoolVar(&downgrade, "allow-downgrade", false, "also move tenants on a newer version back to this one")
	f.BoolVarP(&wait, "wait", "w", false, "watch the release until it ends")
	return cmd
}

func newReleaseListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List releases",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, p, err := g.reader()
			if err != nil {
				return err
			}
			all, err := c.Releases(cmd.Context())
			if err != nil {
				return err
			}
			return printList(p, all, []any{"ID", "RELEASE", "STATE", "WAVE", "TENANTS", "AGE"}, func(r *stamp.Release) []any {
				done, total := progress(r, -1)
				return []any{r.ID, r.Spec.Blueprint + "@" + r.Spec.Version, r.Status.State,
					fmt.Sprintf("%d/%d", min(r.Status.Wave+1, len(r.Spec.Waves)), len(r.Spec.Waves)),
					fmt.Sprintf("%d/%d", done, total), human.Age(r.CreatedAt)}
			})
		},
	}
}

func newReleaseStatusCmd(g *globals) *cobra.Command {
	var watch bool
	cmd := &cobra.Command{
		Use:   "status ID",
		Short: "Show a release: each wave's progress and each tenant's state",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := g.reader()
			if err != nil {
				return err
			}
			if watch {
				return watchRelease(cmd.Context(), c, args[0], g.stdout)
			}
			rel, err := c.Release(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.output != "table" {
				return p.print(rel, nil)
			}
			printRelease(g.stdout, rel)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "follow the release until it ends: progress bars on a terminal, lines otherwise")
	return cmd
}

// watchRelease follows release id until it ends. On a terminal it redraws
// a progress bar per wave; otherwise it prints a line per change. It exits
// 1 when the release ends other than succeeded.
func watchRelease(ctx context.Context, c *httpapi.Client, id string, out io.Writer) error {
	tty := isTerminal(out)
	var last string
	drawn := 0
	for {
		rel, err := c.Release(ctx, id)
		if err != nil {
			return err
		}
		if tty {
			var b strings.Builder
			writeBars(&b, rel)
			if drawn > 0 {
				fmt.Fprintf(out, "\033[%dA\033[J", drawn) // up over the last drawing, clear it
			}
			fmt.Fprint(out, b.String())
			drawn = strings.Count(b.String(), "\n")
		} else if line := summary(rel); line != last {
			fmt.Fprintln(out, line)
			last = line
		}
		if rel.Finished() {
			if !tty {
				printRelease(out, rel)
			}
			if rel.Status.State != stamp.ReleaseSucceeded {
				return &exitError{code: 1}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// progress counts the tenants of wave w (every wave when w < 0) that are
// done (upgraded, skipped, failed, rolled back) and in all.
func progress(r *stamp.Release, w int) (done, total int) {
	for _, rt := range r.Status.Tenants {
		if w >= 0 && rt.Wave != w || rt.Wave < 0 && w < 0 {
			continue
		}
		total++
		switch rt.State {
		case stamp.ReleaseTenantPending, stamp.ReleaseTenantUpgrading, stamp.ReleaseTenantRollingBack:
		default:
			done++
		}
	}
	return done, total
}

// summary is one line on where release r is.
func summary(r *stamp.Release) string {
	counts := map[string]int{}
	for _, rt := range r.Status.Tenants {
		counts[rt.State]++
	}
	var parts []string
	for _, s := range []string{stamp.ReleaseTenantPending, stamp.ReleaseTenantUpgrading, stamp.ReleaseTenantUpgraded,
		stamp.ReleaseTenantFailed, stamp.ReleaseTenantSkipped, stamp.ReleaseTenantRollingBack, stamp.ReleaseTenantRolledBack} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	wave := min(r.Status.Wave+1, len(r.Spec.Waves))
	return fmt.Sprintf("%s %s: wave %d/%d, %s", r.ID, r.Status.State, wave, len(r.Spec.Waves), strings.Join(parts, ", "))
}

// writeBars draws a progress bar per wave.
func writeBars(b *strings.Builder, r *stamp.Release) {
	downgrades := ""
	if r.Spec.AllowDowngrade {
		downgrades = " (downgrades allowed)"
	}
	fmt.Fprintf(b, "%s %s@%s%s: %s\n", r.ID, r.Spec.Blueprint, r.Spec.Version, downgrades, r.Status.State)
	const width = 30
	for w, wave := range r.Spec.Waves {
		done, total := progress(r, w)
		filled := 0
		if total > 0 {
			filled = done * width / total
		}
		fmt.Fprintf(b, "  wave %d %-8s [%s%s] %d/%d\n", w+1, rollout.FormatWave(wave),
			strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, total)
	}
	if r.Status.Message != "" {
		fmt.Fprintf(b, "  %s\n", r.Status.Message)
	}
}

// printRelease prints the release and every tenant's state.
func printRelease(out io.Writer, r *stamp.Release) {
	var b strings.Builder
	writeBars(&b, r)
	fmt.Fprint(out, b.String())
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	row(w, "TENANT", "WAVE", "FROM", "STATE", "MESSAGE")
	for _, rt := range r.Status.Tenants {
		wave := "-"
		if rt.Wave >= 0 {
			wave = fmt.Sprint(rt.Wave + 1)
		}
		row(w, rt.Name, wave, orDash(rt.From), rt.State, orDash(rt.Message))
	}
	w.Flush()
}

func newReleaseControlCmd(g *globals, action, short string) *cobra.Command {
	return &cobra.Command{
		Use:   action + " ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			rel, err := c.ControlRelease(cmd.Context(), args[0], action)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "release %s: %s requested\n", rel.ID, action)
			return nil
		},
	}
}

func newReleaseSkipCmd(g *globals) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "skip ID TENANT",
		Short: "Leave a pending or failed tenant out of a release",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if _, err := c.SkipReleaseTenant(cmd.Context(), args[0], args[1], reason); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "release %s: tenant %s skipped\n", args[0], args[1])
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the release's status")
	return cmd
}

func newReleaseRetryCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "retry ID TENANT",
		Short: "Put a failed or skipped tenant of a release back in line",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if _, err := c.RetryReleaseTenant(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "release %s: tenant %s requeued\n", args[0], args[1])
			return nil
		},
	}
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }
