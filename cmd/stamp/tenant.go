package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/httpapi"
	"github.com/stamphq/stamp/internal/human"
)

func newTenantCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "tenant",
		Aliases: []string{"tenants", "t"},
		Short:   "Create, inspect and delete tenants",
	}
	cmd.AddCommand(newTenantCreateCmd(g), newTenantListCmd(g), newTenantGetCmd(g),
		newTenantRetryCmd(g), newTenantWakeCmd(g), newTenantSuspendCmd(g), newTenantResumeCmd(g), newTenantUpgradeCmd(g), newTenantPinCmd(g), newTenantUnpinCmd(g),
		newTenantDeleteCmd(g), newTenantLogsCmd(g), newTenantEventsCmd(g), newTenantSetCmd(g), newTenantSecretsCmd(g),
		newTenantUndeleteCmd(g), newTenantBackupCmd(g), newTenantBackupsCmd(g), newTenantRestoreCmd(g), newTenantCloneCmd(g), newTenantImportCmd(g), newTenantExportCmd(g))
	return cmd
}

func newTenantCreateCmd(g *globals) *cobra.Command {
	var (
		ref     string
		plan    string
		params  []string
		labels  []string
		channel string
		noWait  bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "create NAME --blueprint B[@V]",
		Short: "Stamp out a tenant and wait until it serves",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			req := httpapi.CreateTenantRequest{Name: args[0], Plan: plan, Channel: channel}
			req.Blueprint, req.Version = splitRef(ref)
			if req.Params, err = keyValues("--param", params); err != nil {
				return err
			}
			if req.Labels, err = keyValues("--label", labels); err != nil {
				return err
			}
			ctx := cmd.Context()
			t, err := c.CreateTenant(ctx, req)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "tenant %s: %s@%s, plan %s\n", t.Name, t.Spec.Blueprint, t.Spec.Version, t.Spec.Plan)
			if noWait {
				return nil
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			return waitReady(ctx, c, t, t.CreatedAt, g.stdout, g.stderr)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&ref, "blueprint", "b", "", "blueprint name, optionally @version (default: the latest)")
	f.StringVar(&plan, "plan", "", "plan (default: the blueprint's default plan)")
	f.StringArrayVarP(&params, "param", "p", nil, "parameter as key=value (repeatable)")
	f.StringArrayVarP(&labels, "label", "l", nil, "label as key=value (repeatable)")
	f.StringVar(&channel, "channel", "", "release channel the tenant follows: stable or beta (default stable)")
	f.BoolVar(&noWait, "no-wait", false, "return once the tenant is recorded")
	f.DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait for the tenant to be ready")
	cmd.MarkFlagRequired("blueprint")
	return cmd
}

// waitReady prints the tenant's steps as they finish until it is ready
// (nil) or failed (an exit error after printing the failed step). Events
// from before since (an earlier tenant of the name, an earlier attempt)
// are passed over.
func waitReady(ctx context.Context, c *httpapi.Client, t *stamp.Tenant, since time.Time, stdout, stderr io.Writer) error {
	return followTenant(ctx, c, t, since, "ready", stdout, stderr, func(e *stamp.Event, stdout, _ io.Writer) (bool, error) {
		if e.Type != stamp.EventTenantReady {
			return false, nil
		}
		fmt.Fprintf(stdout, "ready: %s\n", orDash(e.Message))
		return true, nil
	})
}

// followTenant prints t's steps as they finish, from since on, under a
// status line, until handle, which sees every other event, says it is
// done, or t failed or is being deleted (an exit error after saying so).
// Should ctx end first, its error says t is not yet what (ready,
// upgraded). handle writes to stdout and stderr as it gets them, beside
// the status line.
func followTenant(ctx context.Context, c *httpapi.Client, t *stamp.Tenant, since time.Time, what string, stdout, stderr io.Writer,
	handle func(e *stamp.Event, stdout, stderr io.Writer) (done bool, err error)) error {
	sl := newStatusLine(stdout)
	defer sl.stopDrawing()
	stdout, stderr = sl, sl.beside(stderr)
	sl.set("waiting for the first step")
	err := followEvents(ctx, c, t.Name, since, func(e *stamp.Event) (bool, error) {
		switch e.Type {
		case stamp.EventStep, stamp.EventRetry:
			printStep(e, stdout, stderr)
			sl.set(e.Step + " done, waiting for the next step")
			return false, nil
		case stamp.EventTenantFailed:
			fmt.Fprintf(stderr, "tenant %s failed at step %s: %s\n", t.Name, e.Step, e.Message)
			return true, &exitError{code: 1}
		case stamp.EventTenantDeleting, stamp.EventTenantDeleted:
			fmt.Fprintf(stderr, "tenant %s is being deleted\n", t.Name)
			return true, &exitError{code: 1}
		}
		return handle(e, stdout, stderr)
	})
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("tenant %s is not %s after waiting: %w (it goes on in the background; see `stamp tenant get %s`)", t.Name, what, ctx.Err(), t.Name)
	}
	return err
}

// printStep prints a finished step (to stdout) or a step that will be
// retried (to stderr), one line each.
func printStep(e *stamp.Event, stdout, stderr io.Writer) {
	if e.Type == stamp.EventRetry {
		fmt.Fprintf(stderr, "  %-9s retrying: %s\n", e.Step, e.Message)
		return
	}
	status := "ok"
	if e.Status != stamp.StatusOK {
		status = "FAILED"
	}
	fmt.Fprintf(stdout, "  %-9s %s  %s\n", e.Step, status, human.Duration(e.FinishedAt.Sub(e.StartedAt)))
}

// followEvents hands handle every event of tenant written at or after
// since, oldest first, polling for new ones, until handle reports done or
// an error, or ctx ends (then it returns ctx's error).
func followEvents(ctx context.Context, c *httpapi.Client, tenant string, since time.Time, handle func(*stamp.Event) (done bool, err error)) error {
	var after int64
	for {
		events, err := c.Events(ctx, stamp.EventFilter{Tenant: tenant, AfterSeq: after})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		for _, e := range events {
			after = e.Seq
			if e.Time.Before(since) {
				continue
			}
			if done, err := handle(e); done || err != nil {
				return err
			}
		}
		if len(events) > 0 {
			continue // there may be more
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func newTenantRetryCmd(g *globals) *cobra.Command {
	var noWait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "retry NAME",
		Short: "Try a failed tenant again (its hooks run anew) and wait until it serves",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			t, err := c.RetryTenant(ctx, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "tenant %s: trying again (generation %d)\n", t.Name, t.Generation)
			if noWait {
				return nil
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			return waitReady(ctx, c, t, t.UpdatedAt, g.stdout, g.stderr)
		},
	}
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the retry is recorded")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait for the tenant to be ready")
	return cmd
}

// keyValues parses repeated key=value flags.
func keyValues(flag string, pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want key=value", flag, p)
		}
		m[k] = v
	}
	return m, nil
}

func newTenantGetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Show one tenant",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := g.reader()
			if err != nil {
				return err
			}
			t, err := c.GetTenant(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return p.print(t, func(w *tabwriter.Writer) {
				row(w, "name:", t.Name)
				row(w, "blueprint:", t.Spec.Blueprint+"@"+t.Spec.Version)
				row(w, "serving:", orDash(t.Status.Version))
				row(w, "plan:", t.Spec.Plan)
				row(w, "channel:", t.Spec.FollowsChannel())
				if t.Spec.Pin != "" {
					row(w, "pinned to:", t.Spec.Pin)
				}
				for _, k := range slices.Sorted(maps.Keys(t.Spec.Labels)) {
					row(w, "label:", k+"="+t.Spec.Labels[k])
				}
				row(w, "phase:", t.Status.Phase)
				if h := t.Health; h != nil {
					var parts []string
					for _, name := range slices.Sorted(maps.Keys(h.Services)) {
						parts = append(parts, name+" "+h.Services[name])
					}
					row(w, "health:", h.State+" ("+strings.Join(parts, ", ")+")")
				}
				if u := t.Status.Upgrade; u != nil {
					state := cmp.Or(u.Result, "under way")
					if u.FailedStep != "" {
						state += fmt.Sprintf(" (failed at %s: %s)", u.FailedStep, u.Message)
					}
					row(w, "upgrade:", fmt.Sprintf("%s -> %s, %s", u.From, u.To, state))
				}
				if t.Status.FailedStep != "" {
					row(w, "failed step:", t.Status.FailedStep)
				}
				if t.Status.Message != "" {
					row(w, "message:", strings.ReplaceAll(t.Status.Message, "\n", "\n\t"))
				}
				row(w, "url:", orDash(t.Status.URL))
				row(w, "user:", uidText(t.Status.UID))
				row(w, "limits in force:", limitsText(t.Status.Limits))
				row(w, "generation:", fmt.Sprintf("%d (observed %d)", t.Generation, t.Status.ObservedGeneration))
				for _, k := range slices.Sorted(maps.Keys(t.Spec.Params)) {
					row(w, "param:", k+"="+t.Spec.Params[k])
				}
				row(w, "created:", t.CreatedAt.Format(time.RFC3339))
			})
		},
	}
}

func newTenantDeleteCmd(g *globals) *cobra.Command {
	var noWait bool
	var timeout time.Duration
	var exportTo string
	var recipients []string
	var purge, confirmMany bool
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a tenant: its processes, ports, databases, files and route",
		Long: "Delete stops the tenant and keeps it for the server's grace period\n" +
			"(--delete-grace, 72h by default), in which `stamp tenant undelete` brings\n" +
			"it back as it was; then, or at once with --purge, everything of it is\n" +
			"removed, its backups too. With --export, its archive is written to a\n" +
			"file first (see `stamp tenant export`), and nothing is deleted unless\n" +
			"that succeeded.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if exportTo != "" {
				b, err := export(ctx, c, args[0], exportTo, recipients)
				if err != nil {
					return fmt.Errorf("%w; tenant %s is not deleted", err, args[0])
				}
				fmt.Fprintf(g.stdout, "exported %s to %s: backup %s, %s\n", args[0], exportTo, b.ID, size(b.Size))
			}
			t, err := c.DeleteTenant(ctx, args[0], httpapi.DeleteOptions{Purge: purge, ConfirmMany: confirmMany})
			if err != nil {
				return err
			}
			soft := t.Spec.Desired == stamp.DesiredSoftDeleted
			if noWait {
				fmt.Fprintf(g.stdout, "tenant %s is being deleted\n", args[0])
				return nil
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			// Done once the tenant.deleted event is written: everything
			// is released and the server's router has dropped the route;
			// or, kept for its grace period, once its instances stopped.
			err = followEvents(ctx, c, args[0], t.UpdatedAt, func(e *stamp.Event) (bool, error) {
				return e.Type == stamp.EventTenantDeleted || (soft && e.Type == stamp.EventTenantSoftDeleted), nil
			})
			if err != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("tenant %s is still being deleted after %s", args[0], timeout)
				}
				return err
			}
			if soft {
				fmt.Fprintf(g.stdout, "tenant %s deleted: stopped and kept until %s; `stamp tenant undelete %s` brings it back, --purge deletes it now\n",
					args[0], t.Spec.PurgeAt.Local().Format(time.DateTime), args[0])
				return nil
			}
			fmt.Fprintf(g.stdout, "tenant %s deleted\n", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&confirmMany, "confirm-many", false, "delete even though many tenants were deleted or suspended in the last 10 minutes (the server's guard against mass deletion)")
	cmd.Flags().BoolVar(&purge, "purge", false, "delete everything now, skipping the server's grace period (--delete-grace) in which an undelete brings the tenant back")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once deletion is recorded")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "how long to wait for the deletion")
	cmd.Flags().StringVar(&exportTo, "export", "", "write the tenant's archive to this file before deleting it")
	cmd.Flags().StringArrayVar(&recipients, "recipient", nil, "with --export: an age public key (age1...) that can open the archive too")
	return cmd
}

func newTenantLogsCmd(g *globals) *cobra.Command {
	var follow bool
	var tail int
	var service string
	cmd := &cobra.Command{
		Use:   "logs NAME",
		Short: "Print a tenant service's output",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if tail < 0 {
				return fmt.Errorf("--tail %d: want 0 (all the output kept) or more lines", tail)
			}
			r, err := c.Logs(cmd.Context(), args[0], service, stamp.LogOptions{Tail: tail, Follow: follow})
			if err != nil {
				return err
			}
			defer r.Close()
			_, err = io.Copy(g.stdout, r)
			if cmd.Context().Err() != nil {
				return nil // Ctrl-C ends -f
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new output")
	cmd.Flags().IntVarP(&tail, "tail", "n", 0, "print only the last N lines of each instance, read from the end (0: all the output kept)")
	cmd.Flags().StringVarP(&service, "service", "s", "web", "service")
	return cmd
}

func newTenantEventsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "events NAME",
		Short: "Show a tenant's timeline: every step with its wait and work time",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := g.reader()
			if err != nil {
				return err
			}
			all, err := allEvents(cmd.Context(), c, stamp.EventFilter{Tenant: args[0]})
			if err != nil {
				return err
			}
			return printList(p, all, timelineColumns, timelineCells)
		},
	}
}

// uidText describes the Unix user a tenant runs as.
func uidText(uid int) string {
	if uid == 0 {
		return "the server's (no user of its own)"
	}
	return strconv.Itoa(uid)
}

// limitsText describes the limits in force for a tenant's processes: a
// plan's limit the host does not enforce shows as none.
func limitsText(l *stamp.Limits) string {
	if l == nil {
		return "none"
	}
	memory, cpu, pids := "none", "none", "none"
	if l.Memory > 0 {
		memory = fmt.Sprintf("%d MiB", l.Memory>>20)
	}
	if l.CPU > 0 {
		cpu = strconv.FormatFloat(l.CPU, 'f', -1, 64) + " cores"
	}
	if l.PIDs > 0 {
		pids = strconv.FormatInt(l.PIDs, 10)
	}
	return fmt.Sprintf("memory %s, cpu %s, pids %s", memory, cpu, pids)
}

func newTenantUndeleteCmd(g *globals) *cobra.Command {
	var noWait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "undelete NAME",
		Short: "Bring back a deleted tenant before it is purged, as it was",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			since := time.Now()
			t, err := c.UndeleteTenant(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "tenant %s: undeleted, starting\n", t.Name)
			return waitServing(cmd.Context(), c, t, since, noWait, timeout, g)
		},
	}
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the request is recorded")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait")
	return cmd
}
