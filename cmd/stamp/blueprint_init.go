package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/stamphq/stamp/blueprint"
	"github.com/stamphq/stamp/blueprint/scaffold"
)

func newBlueprintInitCmd(g *globals) *cobra.Command {
	var from, name string
	var force bool
	cmd := &cobra.Command{
		Use:   "init [DIR]",
		Short: "Write a commented stamp.yaml for an app, from hints in its directory",
		Long: `Write DIR/stamp.yaml (DIR defaults to the current directory) for the app
in --from (default DIR). Hints come from the app's go.mod, package.json,
requirements.txt or pyproject.toml, Procfile and Dockerfile (CMD, EXPOSE);
what cannot be read off the files is left as comments to fill in. The file
lints as written. An existing stamp.yaml is kept unless --force.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			if from == "" {
				from = dir
			}
			return initBlueprint(g, dir, from, name, force)
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the app's directory, read for hints (default DIR)")
	cmd.Flags().StringVar(&name, "name", "", "the blueprint's name (default from the app)")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite an existing stamp.yaml")
	return cmd
}

// initBlueprint writes dir/stamp.yaml from the hints found in from.
func initBlueprint(g *globals, dir, from, name string, force bool) error {
	absFrom, err := filepath.Abs(from)
	if err != nil {
		return fmt.Errorf("blueprint init: %w", err)
	}
	if fi, err := os.Stat(absFrom); err != nil || !fi.IsDir() {
		return fmt.Errorf("blueprint init: the app directory %s is not a directory", from)
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("blueprint init: %w", err)
	}
	app, err := filepath.Rel(absDir, absFrom)
	if err != nil {
		return fmt.Errorf("blueprint init: %w", err)
	}
	back, err := filepath.Rel(absFrom, absDir)
	if err != nil {
		return fmt.Errorf("blueprint init: %w", err)
	}
	h := scaffold.Detect(os.DirFS(absFrom), scaffold.Where{App: filepath.ToSlash(app), Blueprint: filepath.ToSlash(back), AppName: filepath.Base(absFrom)})
	if name != "" {
		h.Name = name
	}
	out := scaffold.Write(h)
	if _, err := blueprint.Parse(blueprint.FileName, out); err != nil {
		return fmt.Errorf("blueprint init: the written blueprint does not lint (is --name a DNS label?): %w", err)
	}
	if err := os.MkdirAll(absDir, 0o755); err != nil {
		return fmt.Errorf("blueprint init: %w", err)
	}
	path := filepath.Join(dir, blueprint.FileName)
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("blueprint init: %s already exists; edit it, or pass --force to write a new one over it", path)
	}
	if err != nil {
		return fmt.Errorf("blueprint init: %w", err)
	}
	if _, err := f.Write(out); err != nil {
		f.Close()
		return fmt.Errorf("blueprint init: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("blueprint init: write %s: %w", path, err)
	}
	fmt.Fprintf(g.stdout, "wrote %s for %s", path, h.Name)
	if h.Stack != "" {
		fmt.Fprintf(g.stdout, " (a %s app)", h.Stack)
	}
	fmt.Fprintln(g.stdout, "; fill in what its comments ask, then: stamp blueprint lint", dir)
	return nil
}
