package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/blueprint"
	"github.com/stamphq/stamp/httpapi"
)

func newTenantUpgradeCmd(g *globals) *cobra.Command {
	var (
		to      string
		noWait  bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "upgrade NAME --to VERSION",
		Short: "Move a tenant to another version (newer or older) blue/green, and wait until it serves it or was rolled back",
		Long: `Upgrade moves a tenant to another version of its blueprint without downtime:
its databases are snapshotted, the new version's migrate hook runs, the new
instances start beside the old ones, and the route switches once they are
healthy. If any step fails, the old version never stops serving, the
snapshot is restored if the migration ran, and the command exits 1 naming
the step. Going back to the version the last upgrade came from restores
that upgrade's snapshot instead of migrating.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			t, err := c.UpgradeTenant(ctx, args[0], to)
			if err != nil {
				return err
			}
			if t.Status.Version == to && !t.Upgrading() {
				fmt.Fprintf(g.stdout, "tenant %s already runs %s\n", t.Name, to)
				return nil
			}
			verb := "upgrading"
			if downgrading(t) {
				verb = "downgrading"
			}
			fmt.Fprintf(g.stdout, "tenant %s: %s from %s to %s (generation %d)\n", t.Name, verb, orDash(t.Status.Version), to, t.Generation)
			if noWait {
				return nil
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			return waitUpgraded(ctx, c, t, g.stdout, g.stderr)
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "version to move to")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the upgrade is recorded")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long to wait for the upgrade")
	cmd.MarkFlagRequired("to")
	return cmd
}

// waitUpgraded prints the steps of t's upgrade as they finish, until it
// serves the new version (nil) or was rolled back or failed (an exit
// error after saying why).
func waitUpgraded(ctx context.Context, c *httpapi.Client, t *stamp.Tenant, stdout, stderr io.Writer) error {
	return followTenant(ctx, c, t, t.UpdatedAt, "upgraded", stdout, stderr, func(e *stamp.Event, stdout, stderr io.Writer) (bool, error) {
		switch e.Type {
		case stamp.EventTenantUpgraded:
			if downgrading(t) {
				fmt.Fprintln(stdout, e.Message) // "downgraded from X to Y"
			} else {
				fmt.Fprintf(stdout, "upgraded: %s\n", e.Message)
			}
			return true, nil
		case stamp.EventTenantRolledBack:
			fmt.Fprintf(stderr, "tenant %s: %s\n", t.Name, e.Message)
			return true, &exitError{code: 1}
		}
		return false, nil
	})
}

// downgrading reports whether t, as the upgrade request returned it, is
// moving to an older version than the one it serves.
func downgrading(t *stamp.Tenant) bool {
	return t.Status.Version != "" && blueprint.CompareVersions(t.Spec.Version, t.Status.Version) < 0
}

func newTenantPinCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "pin NAME VERSION",
		Short: "Keep a tenant on VERSION: releases of other versions leave it out",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			t, err := c.PinTenant(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "tenant %s: pinned to %s\n", t.Name, t.Spec.Pin)
			return nil
		},
	}
}

func newTenantUnpinCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "unpin NAME",
		Short: "Let releases move a pinned tenant again",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			t, err := c.PinTenant(cmd.Context(), args[0], "")
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "tenant %s: unpinned\n", t.Name)
			return nil
		},
	}
}
