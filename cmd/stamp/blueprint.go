package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/blueprint"
	"github.com/stamphq/stamp/bundle"
	"github.com/stamphq/stamp/internal/human"
)

func newBlueprintCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "blueprint",
		Aliases: []string{"blueprints", "bp"},
		Short:   "Lint, push and inspect blueprints",
	}
	cmd.AddCommand(
		newBlueprintInitCmd(g),
		newBlueprintYankCmd(g, true),
		newBlueprintYankCmd(g, false),
		&cobra.Command{
			Use:   "lint DIR",
			Short: "Check a blueprint directory's stamp.yaml",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				bp, err := blueprint.Load(args[0])
				if err != nil {
					fmt.Fprintln(g.stderr, err)
					return &exitError{code: 1}
				}
				fmt.Fprintf(g.stdout, "%s@%s: ok\n", bp.Name, bp.Version)
				return nil
			},
		},
		newBlueprintPushCmd(g),
		&cobra.Command{
			Use:   "list",
			Short: "List pushed blueprint versions",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				c, p, err := g.reader()
				if err != nil {
					return err
				}
				bundles, err := c.ListBundles(cmd.Context())
				if err != nil {
					return err
				}
				return printList(p, bundles, []any{"NAME", "VERSION", "DIGEST", "SIZE", "AGE", "YANKED"}, func(b *stamp.Bundle) []any {
					yanked := "-"
					if b.Yanked {
						yanked = "yanked " + human.Age(b.YankedAt) + " ago"
					}
					return []any{b.Name, b.Version, shortDigest(b.Digest), size(b.Size), human.Age(b.CreatedAt), yanked}
				})
			},
		},
		&cobra.Command{
			Use:   "show NAME[@VERSION]",
			Short: "Show a blueprint version (the latest not yanked if none is given) and the tenants on it",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, p, err := g.reader()
				if err != nil {
					return err
				}
				name, version := splitRef(args[0])
				b, err := c.GetBundle(cmd.Context(), name, version)
				if err != nil {
					return err
				}
				return p.print(b, func(w *tabwriter.Writer) {
					fmt.Fprintf(w, "# %s@%s  %s  %s\n", b.Name, b.Version, b.Digest, size(b.Size))
					if b.Yanked {
						fmt.Fprintf(w, "# yanked %s ago%s: no new tenant, upgrade or release takes it (undo: stamp blueprint unyank %s@%s)\n",
							human.Age(b.YankedAt), because(b.YankReason), b.Name, b.Version)
					}
					fmt.Fprintf(w, "# %d tenant(s) on it%s\n", len(b.Tenants), listed(b.Tenants))
					fmt.Fprint(w, b.Blueprint)
				})
			},
		},
	)
	return cmd
}

// newBlueprintPushCmd is `stamp blueprint push DIR [--build-timeout D]`.
func newBlueprintPushCmd(g *globals) *cobra.Command {
	var buildTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "push DIR",
		Short: "Build a blueprint directory, pack it into a bundle and upload it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if buildTimeout <= 0 {
				return stamp.Errorf(stamp.EINVALID, "--build-timeout must be positive, not %s", buildTimeout)
			}
			return pushBlueprint(cmd.Context(), g, args[0], buildTimeout)
		},
	}
	cmd.Flags().DurationVar(&buildTimeout, "build-timeout", defaultBuildTimeout,
		"how long the blueprint's build may run before it is killed with its process group")
	return cmd
}

// pushBlueprint lints dir, runs its build command (for at most
// buildTimeout), packs it and uploads it.
func pushBlueprint(ctx context.Context, g *globals, dir string, buildTimeout time.Duration) error {
	bp, err := blueprint.Load(dir)
	if err != nil {
		fmt.Fprintln(g.stderr, err)
		return &exitError{code: 1}
	}
	c, err := g.client()
	if err != nil {
		return err
	}
	var built time.Duration
	if len(bp.Build) > 0 {
		// A version is built once: its bundle is immutable, so building
		// it again could only be refused or make the same bundle.
		switch pushed, err := c.GetBundle(ctx, bp.Name, bp.Version); {
		case err == nil && !sameBlueprint(dir, pushed.Blueprint):
			return stamp.Errorf(stamp.ECONFLICT, "%s is already pushed (%s) with another %s; a pushed version is immutable: push the change as a new version",
				bp.Ref(), shortDigest(pushed.Digest), blueprint.FileName)
		case err == nil:
			fmt.Fprintf(g.stdout, "%s is already pushed (%s); a pushed version is immutable, so its build does not run again (push changes as a new version)\n",
				bp.Ref(), shortDigest(pushed.Digest))
			return nil
		case stamp.ErrorCode(err) != stamp.ENOTFOUND:
			return err
		}
		// On a terminal, a build quiet for minutes (modules downloading)
		// still shows it runs; piped, its output alone is written.
		status := newStatusLine(g.stderr)
		status.set("building " + bp.Ref())
		built, err = runBuild(ctx, status, dir, bp, buildTimeout)
		status.stopDrawing()
		if err != nil {
			fmt.Fprintln(g.stderr, err)
			return &exitError{code: 1}
		}
		fmt.Fprintf(g.stderr, "built %s in %s (output kept in %s)\n", bp.Ref(), built.Round(time.Millisecond), buildLog(dir))
	}
	content, err := bundle.Pack(dir)
	if err != nil {
		return fmt.Errorf("pack %s: %w", dir, err)
	}
	p, created, err := c.PushBuiltBundle(ctx, content, built)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(g.stdout, "pushed %s@%s (%s, %s)\n", p.Name, p.Version, shortDigest(p.Digest), size(p.Size))
	} else {
		fmt.Fprintf(g.stdout, "%s@%s is already pushed with the same content (%s)\n", p.Name, p.Version, shortDigest(p.Digest))
	}
	if p.Missing != "" {
		fmt.Fprintf(g.stderr, "warning: %s; tenants of %s@%s are refused until it does (stamp server --check lists what every pushed version requires)\n",
			p.Missing, p.Name, p.Version)
	}
	for _, note := range p.Notes {
		fmt.Fprintf(g.stderr, "note: %s\n", note)
	}
	return nil
}

// sameBlueprint reports whether dir's stamp.yaml is pushed, the text of
// a pushed version's.
func sameBlueprint(dir, pushed string) bool {
	local, err := os.ReadFile(filepath.Join(dir, blueprint.FileName))
	return err == nil && string(local) == pushed
}

// splitRef splits "name@version"; version is empty if absent.
func splitRef(ref string) (name, version string) {
	for i := len(ref) - 1; i >= 0; i-- {
		if ref[i] == '@' {
			return ref[:i], ref[i+1:]
		}
	}
	return ref, ""
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

// size formats n bytes for people.
func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
