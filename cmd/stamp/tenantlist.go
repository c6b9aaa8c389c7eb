package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/httpapi"
	"github.com/stamphq/stamp/internal/human"
)

func newTenantListCmd(g *globals) *cobra.Command {
	var (
		limit  int
		after  string
		pooled bool
		filter stamp.TenantFilter
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tenants",
		Long: `List tenants in name order. Every tenant is listed, read from the server
a page at a time; with --limit or --after, only one page is, followed (on
stderr, or as "next" in -o json and yaml, where the page is an object
{"tenants": [...], "next": CURSOR}) by the cursor of the next page, ""
after the last. --phase, --version, --plan, --label and --name list only
the tenants they all select. With --pooled, the warm pool's stamps are
listed instead: made ahead for creates of their plan to claim, serving no
one.`,
		Example: `  stamp tenant list
  stamp tenant list --phase failed --label region=eu
  stamp tenant list --limit 100                # the first 100, and the command for the next 100
  stamp tenant list --limit 100 --after CURSOR
  stamp tenant list --pooled                   # the warm pool's stamps`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			onePage := cmd.Flags().Changed("limit") || cmd.Flags().Changed("after")
			if cmd.Flags().Changed("limit") && (limit < 1 || limit > httpapi.MaxTenantPage) {
				return fmt.Errorf("--limit %d: want 1 to %d", limit, httpapi.MaxTenantPage)
			}
			c, p, err := g.reader()
			if err != nil {
				return err
			}
			if pooled {
				if onePage {
					return fmt.Errorf("--pooled lists every stamp of the pool at once: drop --limit and --after")
				}
				if !filter.Empty() {
					return fmt.Errorf("--pooled lists every stamp of the pool: drop the filter")
				}
				return listPooled(cmd, c, p)
			}
			// A tenant on a withdrawn version is flagged, so that the
			// operator sees whom a yank concerns.
			bundles, err := c.ListBundles(cmd.Context())
			if err != nil {
				return err
			}
			yanked := map[string]bool{}
			for _, b := range bundles {
				yanked[b.Ref()] = b.Yanked
			}
			header := []any{"NAME", "BLUEPRINT", "PLAN", "PHASE", "URL", "AGE"}
			cells := func(t *stamp.Tenant) []any {
				ref := t.Spec.Blueprint + "@" + t.Spec.Version
				if yanked[ref] {
					ref += " (yanked)"
				}
				return []any{t.Name, ref, t.Spec.Plan, t.Status.Phase, orDash(t.Status.URL), human.Age(t.CreatedAt)}
			}
			if !onePage {
				return streamList(p, c.TenantPages(cmd.Context(), httpapi.TenantQuery{Limit: httpapi.MaxTenantPage, Filter: filter}), header, cells)
			}
			page, err := c.ListTenantsPage(cmd.Context(), httpapi.TenantQuery{After: after, Limit: limit, Filter: filter})
			if err != nil {
				return err
			}
			err = p.print(page, func(w *tabwriter.Writer) {
				row(w, header...)
				for _, t := range page.Tenants {
					row(w, cells(t)...)
				}
			})
			if err != nil || page.Next == "" || !p.table() {
				return err
			}
			_, err = fmt.Fprintln(g.stderr, "next page:", nextPageCommand(limit, page.Next, filter))
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&limit, "limit", 0, fmt.Sprintf("list one page of at most this many tenants (1 to %d), then the cursor of the next", httpapi.MaxTenantPage))
	f.BoolVar(&pooled, "pooled", false, "list the warm pool's stamps instead of the tenants")
	f.StringVar(&after, "after", "", fmt.Sprintf("list one page (of --limit, or %d) after this cursor, from the page before", httpapi.DefaultTenantPage))
	f.StringVar(&filter.Phase, "phase", "", "list only the tenants in this phase")
	f.StringVar(&filter.Version, "version", "", "list only the tenants running this version (or being made at it)")
	f.StringVar(&filter.Plan, "plan", "", "list only the tenants on this plan")
	f.StringVar(&filter.Label, "label", "", "list only the tenants with this label: key, or key=value")
	f.StringVar(&filter.Name, "name", "", "list only the tenants whose name holds this")
	return cmd
}

// nextPageCommand is the command that lists the page after cursor, with
// the same limit and filter.
func nextPageCommand(limit int, cursor string, f stamp.TenantFilter) string {
	cmd := []string{"stamp tenant list"}
	if limit > 0 {
		cmd = append(cmd, "--limit "+strconv.Itoa(limit))
	}
	for _, flag := range []struct{ name, value string }{
		{"phase", f.Phase}, {"version", f.Version}, {"plan", f.Plan}, {"label", f.Label}, {"name", f.Name},
	} {
		if flag.value != "" {
			cmd = append(cmd, "--"+flag.name+" "+shellQuote(flag.value))
		}
	}
	return strings.Join(append(cmd, "--after "+cursor), " ")
}

// listPooled prints the warm pool's stamps.
func listPooled(cmd *cobra.Command, c *httpapi.Client, p *printer) error {
	stamps, err := c.ListPooled(cmd.Context())
	if err != nil {
		return err
	}
	return p.print(stamps, func(w *tabwriter.Writer) {
		row(w, "NAME", "BLUEPRINT", "PLAN", "PHASE", "AGE")
		for _, t := range stamps {
			row(w, t.Name, t.Spec.Blueprint+"@"+t.Spec.Version, t.Spec.Plan, t.Status.Phase, human.Age(t.CreatedAt))
		}
	})
}

// shellQuote quotes s for a POSIX shell when it holds more than letters,
// digits and . _ / = : -.
func shellQuote(s string) string {
	plain := s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._/=:-", r))
	}) < 0
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
