package benchkit

import (
	"context"
	"fmt"
	"path/filepath"
)

// Ledgers are stamp and two real releases of the example app, to push as
// ledger@1.0.0 and ledger@2.0.0 and release one over the other.
type Ledgers struct {
	Stamp string // the stamp binary
	// Blueprints are the directories to push: 1.0.0, then 2.0.0.
	Blueprints []string
}

// BuildLedgers builds stamp and releases 1 and 2 of the ledger (go build
// -ldflags "-X main.release=N") into dir/bin, and writes under dir the
// directory of each version to push: examples/ledger-v1's and
// examples/ledger's stamp.yaml without its build line, next to its
// prebuilt binary (as the end-to-end tests do).
func BuildLedgers(ctx context.Context, root, dir string) (*Ledgers, error) {
	l := &Ledgers{Stamp: filepath.Join(dir, "bin", "stamp")}
	builds := [][]string{{"-o", l.Stamp, "./cmd/stamp"}}
	versions := []struct{ yaml, bin string }{
		{"examples/ledger-v1/stamp.yaml", filepath.Join(dir, "bin", "ledger-1")},
		{"examples/ledger/stamp.yaml", filepath.Join(dir, "bin", "ledger-2")},
	}
	for i, v := range versions {
		builds = append(builds, []string{"-ldflags", fmt.Sprintf("-X main.release=%d", i+1), "-o", v.bin, "./examples/ledger"})
	}
	for _, args := range builds {
		if err := GoBuild(ctx, root, args...); err != nil {
			return nil, err
		}
	}
	for i, v := range versions {
		bp, err := BlueprintDir(filepath.Join(root, v.yaml), v.bin, filepath.Join(dir, fmt.Sprintf("blueprint-%d", i+1)))
		if err != nil {
			return nil, err
		}
		l.Blueprints = append(l.Blueprints, bp)
	}
	return l, nil
}
