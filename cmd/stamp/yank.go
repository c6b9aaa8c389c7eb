package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stamphq/stamp/httpapi"
	"github.com/stamphq/stamp/internal/human"
)

// newBlueprintYankCmd returns `blueprint yank` (yank true) or `blueprint
// unyank`.
func newBlueprintYankCmd(g *globals, yank bool) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "unyank NAME@VERSION",
		Short: "Take a yank back: the version takes new tenants, upgrades and releases again",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, version := splitRef(args[0])
			if name == "" || version == "" {
				return fmt.Errorf("%q: name the version, as NAME@VERSION", args[0])
			}
			c, p, err := g.reader()
			if err != nil {
				return err
			}
			var res *httpapi.YankResult
			if yank {
				res, err = c.YankBundle(cmd.Context(), name, version, reason)
			} else {
				res, err = c.UnyankBundle(cmd.Context(), name, version)
			}
			if err != nil {
				return err
			}
			return p.print(res, func(w *tabwriter.Writer) {
				ref := res.Bundle.Ref()
				switch {
				case yank && res.Changed:
					fmt.Fprintf(w, "yanked %s%s: no new tenant, upgrade or release takes it (undo: stamp blueprint unyank %s)\n", ref, because(res.Bundle.YankReason), ref)
				case yank:
					fmt.Fprintf(w, "%s was yanked already, %s ago\n", ref, human.Age(res.Bundle.YankedAt))
				case res.Changed:
					fmt.Fprintf(w, "unyanked %s: it takes new tenants, upgrades and releases again\n", ref)
				default:
					fmt.Fprintf(w, "%s is not yanked\n", ref)
				}
				if yank {
					fmt.Fprintf(w, "%d tenant(s) still on it%s\n", len(res.Tenants), listed(res.Tenants))
				}
			})
		},
	}
	if yank {
		cmd.Use = "yank NAME@VERSION"
		cmd.Short = "Withdraw a version: no new tenant, upgrade or release takes it; tenants on it run on"
		cmd.Long = `Yank withdraws a blueprint version, for example one found to corrupt data:
creates, upgrades and releases to it are refused, and "the latest version"
(a create without a version, blueprint show NAME) passes over it. Tenants
already on it keep running; the command lists them so they can be moved
with tenant upgrade or a release. A release of the version under way
pauses. blueprint unyank takes the yank back.`
		cmd.Flags().StringVar(&reason, "reason", "", "why, shown to whoever meets the yank")
	}
	return cmd
}

// listed returns ": a, b, c" for names, or "" for none.
func listed(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return ": " + strings.Join(names, ", ")
}

// because returns " (reason)", or "" for no reason.
func because(reason string) string {
	if reason == "" {
		return ""
	}
	return " (" + reason + ")"
}
