package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"regexp"
)

// The same patterns as the admin_email and currency parameters in stamp.yaml.
var (
	emailPattern    = regexp.MustCompile(`^[^@\s]+@[^@\s]+$`)
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
)

// seedCmd is `ledger seed`: it writes the tenant's settings and nothing else,
// so a freshly created tenant starts with no customers and no invoices.
// Running it again overwrites the settings with the new values.
func seedCmd(ctx context.Context, rel int, args []string, getenv func(string) string, stderr io.Writer) error {
	flags := flag.NewFlagSet("seed", flag.ContinueOnError)
	flags.SetOutput(stderr)
	admin := flags.String("admin", "admin@example.com", "email address of the tenant's administrator")
	currency := flags.String("currency", "EUR", "ISO 4217 code of the tenant's currency")
	if err := flags.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("seed: unexpected arguments %q", flags.Args())
	}
	if !emailPattern.MatchString(*admin) {
		return fmt.Errorf("seed: --admin %q is not an email address", *admin)
	}
	if !currencyPattern.MatchString(*currency) {
		return fmt.Errorf("seed: --currency %q is not a three-letter code such as EUR", *currency)
	}

	db, d, err := openDB(getenv("DATABASE_URL"))
	if err != nil {
		return err
	}
	defer db.Close()
	if err := checkMigrated(ctx, db, d, rel); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	settings := map[string]string{"admin_email": *admin, "currency": *currency}
	if err := writeSettings(ctx, db, settings); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	slog.New(slog.NewTextHandler(stderr, nil)).Info("seeded settings", "admin_email", *admin, "currency", *currency)
	return nil
}

// writeSettings stores every key and value of settings in one transaction.
func writeSettings(ctx context.Context, db *sql.DB, settings map[string]string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("write settings: %w", err)
	}
	defer tx.Rollback() // a no-op after Commit
	for k, v := range settings {
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, k, v); err != nil {
			return fmt.Errorf("write setting %s: %w", k, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("write settings: %w", err)
	}
	return nil
}
