package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/stamphq/stamp"
)

func newTenantSuspendCmd(g *globals) *cobra.Command {
	return suspendCmd(g, true, "suspend NAME", "Stop a tenant's service, keeping its data and secrets, until it is resumed",
		"Suspend stops the tenant's instances (requests in flight end first) and\n"+
			"its router address answers 503 with a \"suspended\" page, HTML or JSON as\n"+
			"the client asks. Its data, secrets and address stay; nothing but a\n"+
			"resume starts it again, and changes to it (upgrades, plan, parameters)\n"+
			"are refused until then. Releases pass it over.")
}

func newTenantResumeCmd(g *globals) *cobra.Command {
	return suspendCmd(g, false, "resume NAME", "Start a suspended tenant again, as it was, and wait until it serves",
		"Resume starts a suspended tenant's instances again on the version, plan\n"+
			"and data it had, and waits until it serves.")
}

// suspendCmd is `tenant suspend` (suspend) or `tenant resume`.
func suspendCmd(g *globals, suspend bool, use, short, long string) *cobra.Command {
	var noWait, confirmMany bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use: use, Short: short, Long: long,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			since := time.Now()
			t, err := c.SuspendTenant(ctx, args[0], suspend, confirmMany)
			if err != nil {
				return err
			}
			if suspend && t.Status.Phase == stamp.PhaseSuspended && !t.Status.SuspendedAt.IsZero() {
				fmt.Fprintf(g.stdout, "tenant %s is suspended already\n", t.Name)
				return nil
			}
			if !suspend && t.Status.Phase != stamp.PhaseSuspended {
				fmt.Fprintf(g.stdout, "tenant %s is not suspended (phase: %s)\n", t.Name, t.Status.Phase)
				return nil
			}
			fmt.Fprintf(g.stdout, "tenant %s: %s\n", t.Name, map[bool]string{true: "suspending", false: "resuming"}[suspend])
			if noWait {
				return nil
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			if !suspend {
				return waitReady(ctx, c, t, since, g.stdout, g.stderr)
			}
			return followTenant(ctx, c, t, since, "suspended", g.stdout, g.stderr, func(e *stamp.Event, stdout, _ io.Writer) (bool, error) {
				if e.Type != stamp.EventTenantSuspended {
					return false, nil
				}
				fmt.Fprintln(stdout, "suspended: its instances are stopped, its data kept")
				return true, nil
			})
		},
	}
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the request is recorded")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait")
	if suspend {
		cmd.Flags().BoolVar(&confirmMany, "confirm-many", false, "suspend even though many tenants were deleted or suspended in the last 10 minutes (the server's guard against mass suspension)")
	}
	return cmd
}
