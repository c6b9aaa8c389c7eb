package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/httpapi"
)

func newTenantSetCmd(g *globals) *cobra.Command {
	var (
		plan    string
		params  []string
		noWait  bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:     "set NAME [--param k=v]... [--plan P]",
		Aliases: []string{"update"},
		Short:   "Change a tenant's parameters or plan and roll its instances blue/green",
		Long: `Set changes a tenant's parameters or plan, checked as at create (unknown
parameters, patterns, required ones, unknown plans), and waits while the
tenant's instances roll over to them without downtime: new instances start
beside the old ones with the new environment and limits, the route switches
once they are healthy, and the old ones drain and stop. Nothing migrates:
the version stays the same. If the new instances never turn healthy, the
old ones never stopped serving, the plan and plain parameters are put back,
and the command exits 1 naming the step. Parameters not named keep their
values. A version whose services say upgrade: recreate is recreated
instead: its old instances stop first, and the router holds requests until
the new ones serve.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			req := httpapi.SetTenantRequest{Plan: plan}
			if req.Params, err = keyValues("--param", params); err != nil {
				return err
			}
			if req.Plan == "" && len(req.Params) == 0 {
				return fmt.Errorf("nothing to change: give --param k=v or --plan P")
			}
			ctx := cmd.Context()
			t, err := c.SetTenant(ctx, args[0], req)
			if err != nil {
				return err
			}
			if serving := t.Status.Phase == stamp.PhaseReady || t.Status.Phase == stamp.PhaseSleeping; serving && t.Status.ObservedGeneration == t.Generation {
				fmt.Fprintf(g.stdout, "tenant %s: nothing changed\n", t.Name)
				return nil
			}
			fmt.Fprintf(g.stdout, "tenant %s: changing (generation %d)\n", t.Name, t.Generation)
			if noWait {
				return nil
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			if t.Status.Version == "" {
				// Never served: it is stamped out with the new spec.
				return waitReady(ctx, c, t, t.UpdatedAt, g.stdout, g.stderr)
			}
			return waitUpgraded(ctx, c, t, g.stdout, g.stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&plan, "plan", "", "the plan to move to")
	f.StringArrayVarP(&params, "param", "p", nil, "parameter as key=value (repeatable)")
	f.BoolVar(&noWait, "no-wait", false, "return once the change is recorded")
	f.DurationVar(&timeout, "timeout", 10*time.Minute, "how long to wait for the change")
	return cmd
}

func newTenantSecretsCmd(g *globals) *cobra.Command {
	var reveal bool
	cmd := &cobra.Command{
		Use:   "secrets NAME [--reveal]",
		Short: "List a tenant's secrets (admin token only); --reveal shows their values and is recorded",
		Long: `Secrets lists a tenant's secrets: the blueprint's generated secrets, its
databases' passwords and its secret parameters, values hidden. --reveal
shows the values; every reveal is recorded as a tenant.secrets-revealed
event naming the token and the secrets (never the values). Only an admin
token may ask.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := g.reader()
			if err != nil {
				return err
			}
			s, err := c.TenantSecrets(cmd.Context(), args[0], reveal)
			if err != nil {
				return err
			}
			return p.print(s, func(w *tabwriter.Writer) {
				row(w, "NAME", "KIND", "VALUE")
				for _, sec := range s.Secrets {
					value := "(hidden; --reveal shows it)"
					if s.Revealed {
						value = sec.Value
					}
					row(w, sec.Name, sec.Kind, value)
				}
			})
		},
	}
	cmd.Flags().BoolVar(&reveal, "reveal", false, "show the values (recorded as an event)")
	return cmd
}
