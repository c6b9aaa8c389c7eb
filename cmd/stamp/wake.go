package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/stamphq/stamp"
)

func newTenantWakeCmd(g *globals) *cobra.Command {
	var noWait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "wake NAME",
		Short: "Wake a sleeping tenant (scale to zero) and wait until it serves",
		Long: "Wake starts a sleeping tenant's instances, as its next request would, and\n" +
			"waits until it serves: to spare its first customer the cold start. An\n" +
			"awake tenant is left as it is.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			t, err := c.WakeTenant(ctx, args[0])
			if err != nil {
				return err
			}
			if t.Status.Phase != stamp.PhaseSleeping {
				fmt.Fprintf(g.stdout, "tenant %s is not asleep (phase: %s)\n", t.Name, t.Status.Phase)
				return nil
			}
			fmt.Fprintf(g.stdout, "tenant %s: waking\n", t.Name)
			if noWait {
				return nil
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			return waitReady(ctx, c, t, t.Status.WakeAt, g.stdout, g.stderr)
		},
	}
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the wake is recorded")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait for the tenant to serve")
	return cmd
}
