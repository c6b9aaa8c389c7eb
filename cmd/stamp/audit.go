package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/stamphq/stamp"
)

func newAuditCmd(g *globals) *cobra.Command {
	var f stamp.AuditFilter
	var since time.Duration
	cmd := &cobra.Command{
		Use:   "audit [--tenant NAME] [--token-name NAME] [--since 1h]",
		Short: "Show who did what through the API (admin tokens only)",
		Long: `Every API call that changes something, and every reveal of secrets,
leaves one record: the token (name and role), the route and the path,
the tenant, the client's address, the request id and the outcome,
refused and failed calls included. A call that changed something is
recorded with its change, in the same store transaction, before it
answers (its STATUS is then "-": the change committed); the others once
answered. Records cannot be changed or deleted through the API.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, p, err := g.reader()
			if err != nil {
				return err
			}
			if since > 0 {
				f.Since = time.Now().Add(-since)
			}
			var recs []*stamp.AuditRecord
			for {
				page, err := c.Audit(cmd.Context(), f)
				if err != nil {
					return err
				}
				recs = append(recs, page...)
				if len(page) == 0 || f.Limit > 0 {
					break
				}
				f.AfterSeq = page[len(page)-1].Seq
			}
			return printList(p, recs, []any{"SEQ", "AT", "TOKEN", "ROLE", "ACTION", "RESOURCE", "FROM", "STATUS", "OUTCOME", "ERROR"}, func(r *stamp.AuditRecord) []any {
				status := "-"
				if r.Status != 0 {
					status = strconv.Itoa(r.Status)
				}
				token := orDash(r.TokenName)
				if r.TokenTenant != "" {
					token += fmt.Sprintf(" (tenant %s)", r.TokenTenant)
				}
				return []any{r.Seq, r.At.Local().Format(time.DateTime), token, orDash(string(r.Role)), r.Action, r.Resource, r.Remote, status, r.Outcome, orDash(r.Error)}
			})
		},
	}
	cmd.Flags().StringVar(&f.Tenant, "tenant", "", "only calls on this tenant")
	cmd.Flags().StringVar(&f.Token, "token-name", "", "only calls with this token (its name or ID)")
	cmd.Flags().DurationVar(&since, "since", 0, "only calls in this last while, e.g. 1h")
	cmd.Flags().IntVar(&f.Limit, "limit", 0, "at most this many records (default: all)")
	return cmd
}
