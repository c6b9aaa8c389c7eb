package main

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stamphq/stamp"
)

// lister returns the names a command's argument can take, from the server.
type lister func(ctx context.Context, g *globals) ([]string, error)

func tenantNames(ctx context.Context, g *globals) ([]string, error) {
	c, err := g.client()
	if err != nil {
		return nil, err
	}
	ts, err := c.ListTenants(ctx)
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	return names, err
}

func bundleRefs(ctx context.Context, g *globals) ([]string, error) {
	c, err := g.client()
	if err != nil {
		return nil, err
	}
	bs, err := c.ListBundles(ctx)
	refs := make([]string, len(bs))
	for i, b := range bs {
		refs[i] = b.Ref()
	}
	return refs, err
}

func releaseIDs(ctx context.Context, g *globals) ([]string, error) {
	c, err := g.client()
	if err != nil {
		return nil, err
	}
	rs, err := c.Releases(ctx)
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return ids, err
}

// incidentIDs lists the open incidents: those an ack or resolve is for.
func incidentIDs(ctx context.Context, g *globals) ([]string, error) {
	c, err := g.client()
	if err != nil {
		return nil, err
	}
	is, err := c.Incidents(ctx, stamp.IncidentFilter{Open: true})
	ids := make([]string, len(is))
	for i, inc := range is {
		ids[i] = inc.ID
	}
	return ids, err
}

// addCompletions has shell completion (`stamp completion`) offer, for the
// first argument of every command that names a tenant, blueprint version,
// release or incident, the names the server holds. It reads the command's
// Use: "get NAME" under tenant, "ID" under release and incident, a
// NAME@VERSION under blueprint or release create.
func addCompletions(root *cobra.Command, g *globals) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		fields := strings.Fields(c.Use)
		if len(fields) < 2 || !c.HasParent() {
			return
		}
		arg, group := fields[1], c.Parent().Name()
		var list lister
		switch {
		case group == "tenant" && arg == "NAME":
			list = tenantNames
		case strings.HasPrefix(arg, "NAME@") || strings.HasPrefix(arg, "NAME[@") || strings.HasPrefix(arg, "BLUEPRINT@"):
			list = bundleRefs
		case group == "release" && arg == "ID":
			list = releaseIDs
		case group == "incident" && arg == "ID":
			list = incidentIDs
		default:
			return
		}
		c.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			if err := applyEnv(cmd.Flags()); err != nil {
				return nil, cobra.ShellCompDirectiveError
			}
			names, err := list(cmd.Context(), g)
			if err != nil {
				cobra.CompDebugln(err.Error(), true)
				return nil, cobra.ShellCompDirectiveError
			}
			var out []cobra.Completion
			for _, n := range names {
				if strings.HasPrefix(n, toComplete) {
					out = append(out, n)
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		}
	}
	walk(root)
}
