package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/httpapi"
)

func newTokenCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "token",
		Aliases: []string{"tokens"},
		Short:   "Make, list and revoke API tokens (admin tokens only)",
	}
	cmd.AddCommand(newTokenCreateCmd(g), newTokenListCmd(g), newTokenRevokeCmd(g))
	return cmd
}

func newTokenCreateCmd(g *globals) *cobra.Command {
	var req httpapi.CreateTokenRequest
	var role string
	cmd := &cobra.Command{
		Use:   "create NAME --role admin|operator|viewer [--tenant NAME] [--expires 30d]",
		Short: "Make an API token and print its secret, once",
		Long: `Roles: admin may do everything; operator may create, change and delete
tenants, push blueprints, run releases and handle incidents, but not
manage tokens, keys or webhooks nor see secrets; viewer may read all but
secrets. A token with --tenant sees and acts on that tenant only (with
its role): other tenants do not exist for it.

The secret is printed here and never again: the server keeps only its
hash. Revoked or expired, a token fails at once on every server.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			req.Name, req.Role = args[0], stamp.Role(role)
			made, err := c.CreateToken(cmd.Context(), req)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "token %s: %s\nsecret: %s\n", made.Token.ID, describeToken(made.Token), made.Secret)
			fmt.Fprintln(g.stderr, "keep the secret now: it is not shown again")
			return nil
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "admin, operator or viewer")
	cmd.Flags().StringVar(&req.Tenant, "tenant", "", "confine the token to this tenant")
	cmd.Flags().StringVar(&req.Expires, "expires", "", "how long the token works, e.g. 30d, 12h (default: until revoked)")
	cmd.MarkFlagRequired("role")
	return cmd
}

func newTokenListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List API tokens, revoked and expired ones included",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, p, err := g.reader()
			if err != nil {
				return err
			}
			toks, err := c.Tokens(cmd.Context())
			if err != nil {
				return err
			}
			now := time.Now()
			return printList(p, toks, []any{"ID", "NAME", "ROLE", "TENANT", "CREATED", "EXPIRES", "STATE"}, func(t *stamp.Token) []any {
				state := "active"
				if err := t.Valid(now); err != nil {
					state = "revoked"
					if t.RevokedAt.IsZero() {
						state = "expired"
					}
				}
				expires := "-"
				if !t.ExpiresAt.IsZero() {
					expires = t.ExpiresAt.Local().Format(time.DateTime)
				}
				return []any{t.ID, t.Name, t.Role, orDash(t.Tenant), t.CreatedAt.Local().Format(time.DateTime), expires, state}
			})
		},
	}
}

func newTokenRevokeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke NAME|ID",
		Short: "Revoke an API token: it fails from now on, on every server",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			tok, err := c.RevokeToken(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "token %s revoked: %s\n", tok.ID, describeToken(tok))
			return nil
		},
	}
}

// describeToken says what a token may do, for the CLI.
func describeToken(t *stamp.Token) string {
	s := t.String()
	if !t.ExpiresAt.IsZero() {
		s += ", expires " + t.ExpiresAt.Local().Format(time.DateTime)
	}
	return s
}
