// Ledger is the example SaaS app that Stamp stamps out per customer: a small
// invoicing service with customers, invoices and a settings table, kept in
// the database that $DATABASE_URL names: a SQLite file or a PostgreSQL
// database. One source builds every release of it (see release.go).
//
// Usage:
//
//	ledger migrate                                  apply pending schema migrations
//	ledger seed [--admin EMAIL] [--currency CODE]   write the tenant's settings
//	ledger serve                                    serve HTTP on $HOST:$PORT
//
// Stamp runs it from stamp.yaml; see README.md to run it by hand.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage:
  ledger migrate                                  apply pending schema migrations
  ledger seed [--admin EMAIL] [--currency CODE]   write the tenant's settings
  ledger serve                                    serve HTTP on $HOST:$PORT

environment:
  DATABASE_URL  sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DB
  HOST, PORT    listen address of serve (HOST defaults to 127.0.0.1)
  TENANT        tenant name shown on the home page (else STAMP_TENANT)
  CURRENCY      invoice currency when the settings have none
  SESSION_KEY   per-tenant secret (accepted, never logged)
  STAMP_BIND_TOKEN  bearer token of POST /stamp/bind (none: binds refused)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop) // a second signal while draining kills at once
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ledger: %v\n", err)
		os.Exit(1)
	}
}

// run dispatches one ledger command as the release this binary was built
// as. It returns when the command is done or, for serve, when ctx ends and
// in-flight requests have drained.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	rel, err := parseRelease(release)
	if err != nil {
		return err
	}
	return runRelease(ctx, rel, args, getenv, stdout, stderr)
}

// runRelease is run as release rel, so tests can run any release in-process.
func runRelease(ctx context.Context, rel int, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("no command given")
	}
	switch cmd, args := args[0], args[1:]; cmd {
	case "migrate":
		return migrateCmd(ctx, rel, args, getenv, stderr)
	case "seed":
		return seedCmd(ctx, rel, args, getenv, stderr)
	case "serve":
		return serveCmd(ctx, rel, args, getenv, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		fmt.Fprintf(stdout, "\nthis binary is release %d of ledger\n", rel)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}
