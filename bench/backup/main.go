// Command backup measures a tenant's backup and restore through Stamp
// against doing the same by hand with the engine's own tools: the floor.
//
// Usage, from the module root:
//
//	go run ./bench/backup [-rounds 7] [-size-mb 100] [-engines sqlite,postgres] [-postgres URL] [-seed 1] [-timeout 30m] [-out FILE]
//
// For each engine it makes a tenant database through the engine (Ensure)
// and fills it, as the app would, with a billing app's rows (customers
// and invoices: words drawn with a Zipf law from a fixed vocabulary,
// mixed with random tokens, from a seeded generator) until it holds
// -size-mb on disk; PostgreSQL gets the same rows as SQLite. Then
// -rounds rounds, each of:
//
//  1. backup, floor: SQLite `sqlite3 LIVE ".backup FILE"`; PostgreSQL
//     `pg_dump --format=custom --file=FILE` as the tenant's role, its
//     default compression;
//  2. backup, Stamp: what Reconciler.Backup does without the reconciler:
//     a manifest, a part running the engine's Dump, and backup.Store.Take
//     into a file:// store made fresh for the round beside the floor's
//     file (spool with SHA-256, then tar, zstd, age, the store's write),
//     with no data directory part;
//  3. restore, floor: SQLite `sqlite3 LIVE ".restore FILE"`; PostgreSQL
//     `pg_restore --single-transaction` into a new empty database owned by
//     the tenant's role (made untimed);
//  4. restore, Stamp: what loadBackup and loadArchive do: Store.Unpack,
//     then the engine's Load into the live database;
//
// the floor going first in odd rounds and Stamp in even ones, each
// restore checked by counting the rows it brought back. Then, once a
// round, parts of Stamp's path timed apart (the Dump into io.Discard,
// SHA-256, zstd and age over a dump, and the engine's own steps), to say
// where its time goes. It prints a markdown report per engine: p50 of
// each, the ratios Stamp / floor against the product's target (1.3x),
// the sizes, the breakdown, and the machine and its load.
//
// PostgreSQL runs on the cluster -postgres names, or else
// STAMP_TEST_POSTGRES, as the tests do; without either that part is
// skipped, saying how to start one (scripts/postgres). pg_dump and
// pg_restore are the engine's: the newest /usr/lib/postgresql/*/bin. The
// SQLite floor needs the sqlite3 CLI (Debian: apt-get install -y
// sqlite3); without it that part is skipped, saying so.
//
// On every exit path, Ctrl-C included, the tenant's databases (with the
// engine's Drop) and the floor's are dropped and the temporary directory
// removed. -timeout bounds the whole run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// main runs the bench; see the package doc.
func main() { benchkit.Main("backup", run) }

// engines the bench knows, in the order it runs them.
var knownEngines = []string{"sqlite", "postgres"}

// config is what the flags set.
type config struct {
	args     []string // as given, for the report's command line
	rounds   int
	sizeMB   int64
	engines  []string
	postgres string // the cluster's superuser URL; "" skips PostgreSQL
	seed     uint64
	timeout  time.Duration // bounds the whole run
	out      string        // also write the report here
}

// parseFlags reads the flags; getenv reads STAMP_TEST_POSTGRES.
func parseFlags(args []string, stderr io.Writer, getenv func(string) string) (config, error) {
	c := config{args: args}
	var engines string
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.rounds, "rounds", 7, "rounds per engine, each one backup and one restore of the floor and of Stamp")
	fs.Int64Var(&c.sizeMB, "size-mb", 100, "fill the tenant's database to this many MiB on disk")
	fs.StringVar(&engines, "engines", strings.Join(knownEngines, ","), "engines to measure, comma-separated: sqlite, postgres")
	fs.StringVar(&c.postgres, "postgres", "", "superuser URL of a PostgreSQL cluster (scripts/postgres start DIR prints one); default $STAMP_TEST_POSTGRES")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the generated rows")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Minute, "bound on the whole run; past it the run stops and cleans up")
	fs.StringVar(&c.out, "out", "", "also write the markdown report to this file")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.postgres == "" {
		c.postgres = getenv("STAMP_TEST_POSTGRES")
	}
	var problems []string
	for e := range strings.SplitSeq(engines, ",") {
		e = strings.TrimSpace(e)
		switch {
		case !slices.Contains(knownEngines, e):
			problems = append(problems, fmt.Sprintf("-engines: %q is not sqlite or postgres", e))
		case slices.Contains(c.engines, e):
			problems = append(problems, fmt.Sprintf("-engines: %q twice", e))
		default:
			c.engines = append(c.engines, e)
		}
	}
	if c.rounds < 1 || c.rounds > 100 {
		problems = append(problems, fmt.Sprintf("-rounds %d: want 1 to 100", c.rounds))
	}
	if c.sizeMB < 1 || c.sizeMB > 10000 {
		problems = append(problems, fmt.Sprintf("-size-mb %d: want 1 to 10000", c.sizeMB))
	}
	if c.timeout <= 0 {
		problems = append(problems, fmt.Sprintf("-timeout %s: want a positive duration", c.timeout))
	}
	if len(problems) > 0 {
		return c, errors.New(strings.Join(problems, "\n"))
	}
	return c, nil
}

// run measures each engine and writes the report.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	cfg, err := parseFlags(args, stderr, os.Getenv)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	b, err := newBench(cfg, stderr)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := b.cleanup(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	root, err := benchkit.ModuleRoot(ctx)
	if err != nil {
		return err
	}
	rep := &report{cfg: cfg, commit: benchkit.Commit(ctx, root), nproc: runtime.NumCPU(), cpuModel: benchkit.CPUModel(),
		goVersion: runtime.Version(), loadBefore: benchkit.LoadAverage()}
	rep.memTotal, _ = benchkit.MemTotalKiB()
	batches := 0 // PostgreSQL gets SQLite's rows, when SQLite ran
	for _, e := range cfg.engines {
		var res *engineResult
		switch e {
		case "sqlite":
			res, batches, err = b.measureSQLite(ctx, batches)
		case "postgres":
			res, err = b.measurePostgres(ctx, cfg.postgres, batches)
		}
		if err != nil {
			return err
		}
		if res.skipped != "" {
			b.progress("%s skipped: %s", res.label, res.skipped)
		}
		rep.engines = append(rep.engines, res)
	}
	rep.loadAfter = benchkit.LoadAverage()
	if err := benchkit.WriteReport(stdout, cfg.out, rep.markdown()); err != nil {
		return err
	}
	if !slices.ContainsFunc(rep.engines, func(r *engineResult) bool { return r.skipped == "" }) {
		return errors.New("no engine was measured (see why above)")
	}
	return nil
}
