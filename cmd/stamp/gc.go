package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stamphq/stamp"
)

func newGCCmd(g *globals) *cobra.Command {
	var dryRun, force bool
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Remove what no tenant owns any more: processes, ports, directories, databases",
		Long: "gc finds what the driver and the database engines hold that belongs to no\n" +
			"tenant the store knows (a deletion cut short, a store put back to an\n" +
			"older copy) and removes it, printing each thing removed. Routes follow\n" +
			"the store and need no collecting. More orphans of one kind than a\n" +
			"tenth of what is held (and 3) look like the wrong store, or one that\n" +
			"lost its tenants: gc then removes nothing and says so, unless --force.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, p, err := g.reader()
			if err != nil {
				return err
			}
			report, err := c.CollectGarbage(cmd.Context(), dryRun, force)
			if err != nil {
				return err
			}
			if p.table() && len(report.Removed) == 0 {
				fmt.Fprintln(g.stdout, "nothing to collect: everything held belongs to a tenant")
				return nil
			}
			verb := "removed"
			if dryRun {
				verb = "would remove"
			}
			return printList(p, report.Removed, []any{"KIND", "NAME", "ENGINE", "STATE"}, func(i stamp.GCItem) []any {
				return []any{i.Kind, i.Name, orDash(i.Engine), verb}
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "report what would be removed, removing nothing")
	cmd.Flags().BoolVar(&force, "force", false, "remove even more orphans than a tenth of what is held")
	return cmd
}
