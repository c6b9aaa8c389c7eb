package main

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	stamp "github.com/stamphq/stamp"
	pgstore "github.com/stamphq/stamp/store/postgres"
	sqlitestore "github.com/stamphq/stamp/store/sqlite"
)

// storeFlag defines --store, shared by `stamp server` and `stamp router`.
func storeFlag(f *pflag.FlagSet, p *string) {
	f.StringVar(p, "store", "sqlite", `control-plane state: "sqlite" (stamp.db in the data dir), "sqlite:PATH", or a postgres:// URL`)
}

func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// validateStore checks the form of a --store value.
func validateStore(s string) error {
	switch {
	case s == "sqlite", strings.HasPrefix(s, "sqlite:") && len(s) > len("sqlite:"):
		return nil
	case isPostgresURL(s):
		if _, err := url.Parse(s); err != nil {
			return fmt.Errorf("--store %s: not a valid URL", redact(s))
		}
		return nil
	}
	return fmt.Errorf("--store %s: want \"sqlite\", \"sqlite:PATH\" or a postgres:// URL", redact(s))
}

// openStore opens the store a --store value names; data is the data dir.
func openStore(ctx context.Context, s, data string) (stamp.Store, error) {
	if isPostgresURL(s) {
		st, err := pgstore.Open(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		return st, nil
	}
	path := filepath.Join(data, "stamp.db")
	if p, ok := strings.CutPrefix(s, "sqlite:"); ok {
		path = p
	}
	st, err := sqlitestore.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}

// redact hides the password of a URL for messages.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		if err != nil {
			return "(unparsable URL)"
		}
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
