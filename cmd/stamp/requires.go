package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/blueprint"
	"github.com/stamphq/stamp/bundle"
	"github.com/stamphq/stamp/driver/local"
)

// printRequirements prints, for `stamp server --check`, the PATH tenants
// get and, for each command a pushed blueprint version requires, whether
// this host provides it, and which versions require it.
func printRequirements(ctx context.Context, w io.Writer, cfg serverConfig, data string, isolated bool) error {
	fmt.Fprintf(w, "path: tenants get PATH=%s\n", local.TenantPATH(os.Getenv("PATH"), isolated))
	if !isPostgresURL(cfg.Store) && !strings.HasPrefix(cfg.Store, "sqlite:") {
		if _, err := os.Stat(filepath.Join(data, "stamp.db")); errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintln(w, "requires: no blueprint pushed yet")
			return nil
		}
	}
	st, err := openStore(ctx, cfg.Store, data)
	if err != nil {
		return err
	}
	defer st.Close()
	byReq, err := pushedRequirements(ctx, st)
	if err != nil {
		return err
	}
	if len(byReq) == 0 {
		fmt.Fprintln(w, "requires: no pushed blueprint requires a command")
		return nil
	}
	reqs := slices.SortedFunc(maps.Keys(byReq), func(a, b stamp.Requirement) int { return strings.Compare(a.String(), b.String()) })
	for i, res := range local.CheckRequirements(ctx, reqs, isolated) {
		fmt.Fprintf(w, "requires: %s (%s)\n", res, strings.Join(byReq[reqs[i]], ", "))
	}
	return nil
}

// pushedRequirements maps each requirement of a pushed blueprint version
// to the versions (name@version) that have it.
func pushedRequirements(ctx context.Context, st stamp.BundleStore) (map[stamp.Requirement][]string, error) {
	bundles, err := st.ListBundles(ctx)
	if err != nil {
		return nil, fmt.Errorf("list blueprints: %w", err)
	}
	out := map[stamp.Requirement][]string{}
	for _, b := range bundles {
		content, err := st.BundleContent(ctx, b.Digest)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", b.Ref(), err)
		}
		data, err := bundle.ReadFile(content, blueprint.FileName)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", b.Ref(), err)
		}
		bp, err := blueprint.Parse(blueprint.FileName, data)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", b.Ref(), err)
		}
		for _, r := range bp.Requires {
			out[r] = append(out[r], b.Ref())
		}
	}
	return out, nil
}
