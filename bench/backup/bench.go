package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// target is one engine's tenant database, filled, with the floor's tools
// for it.
type target interface {
	label() string
	dumper() stamp.Dumper
	// spec names the database, with its password where the engine has one.
	spec() stamp.DatabaseSpec
	// floorExt ends the name of the floor's backup file.
	floorExt() string
	// onDisk is the size of the live database on disk.
	onDisk(ctx context.Context) (int64, error)
	// floorBackup writes the floor's backup of the live database to file.
	floorBackup(ctx context.Context, file string) error
	// prepareRestore readies, untimed, what floorRestore restores into.
	prepareRestore(ctx context.Context) error
	// floorRestore restores the floor's backup in file.
	floorRestore(ctx context.Context, file string) error
	// floorRows counts the rows floorRestore restored.
	floorRows(ctx context.Context) (rowCounts, error)
	// liveRows counts the rows of the live database.
	liveRows(ctx context.Context) (rowCounts, error)
	// components times parts of the engine's path apart, once a round,
	// after the round's restores; scratch is a directory to write in,
	// floorFile the round's backup by the floor.
	components(ctx context.Context, scratch, floorFile string) (map[string]time.Duration, error)
	// close drops what the target made.
	close(ctx context.Context) error
}

// engineResult is what one engine's rounds measured, or why they were
// skipped.
type engineResult struct {
	label   string
	skipped string // why the engine was not measured; "" if it was
	floor   string // the floor's tool and version
	batches int
	data    dataStats
	onDisk  int64 // the live database, once filled
	refDump int64 // a dump by the engine, uncompressed

	floorBackup, floorRestore []time.Duration
	floorSize                 []int64
	backups                   []stampBackup
	restores                  []stampRestore
	components                []map[string]time.Duration

	loadBefore, loadAfter string
}

// bench holds what one run made.
type bench struct {
	cfg    config
	log    io.Writer
	tmp    string
	tenant string
}

// newBench makes the run's temporary directory and picks its tenant
// name, unique on a shared cluster.
func newBench(cfg config, log io.Writer) (*bench, error) {
	tmp, err := benchkit.TempDir("stamp-bench-backup-")
	if err != nil {
		return nil, err
	}
	suffix := make([]byte, 3)
	rand.Read(suffix)
	return &bench{cfg: cfg, log: log, tmp: tmp, tenant: "bench-" + hex.EncodeToString(suffix)}, nil
}

// cleanup removes the temporary directory.
func (b *bench) cleanup() error { return benchkit.RemoveAll(b.tmp) }

// progress writes one line of progress to the run's log.
func (b *bench) progress(format string, args ...any) { benchkit.Progress(b.log, format, args...) }

// measureSQLite fills a SQLite tenant database and runs the rounds on it.
// batches, if above 0, is how many batches of rows to write; it returns
// the batches written.
func (b *bench) measureSQLite(ctx context.Context, batches int) (res *engineResult, n int, err error) {
	res = &engineResult{label: "SQLite"}
	if _, err := findSQLiteCLI(); err != nil {
		res.skipped = err.Error()
		return res, 0, nil
	}
	res.floor = toolVersion(ctx, "sqlite3", "--version")
	b.progress("SQLite: make and fill the tenant's database (~%d MB)", b.cfg.sizeMB)
	gen := newGenerator(b.cfg.seed)
	t, n, err := newSQLiteTarget(ctx, filepath.Join(b.tmp, "sqlite"), b.tenant, gen, batches, b.cfg.sizeMB<<20)
	if err != nil {
		return nil, 0, err
	}
	defer func() { err = errors.Join(err, t.close(ctx)) }()
	res.batches, res.data = n, gen.stats
	err = b.rounds(ctx, t, res)
	return res, n, err
}

// measurePostgres fills a PostgreSQL tenant database on the cluster at
// adminURL and runs the rounds on it; batches as measureSQLite.
func (b *bench) measurePostgres(ctx context.Context, adminURL string, batches int) (res *engineResult, err error) {
	res = &engineResult{label: "PostgreSQL"}
	if adminURL == "" {
		res.skipped = "no PostgreSQL cluster given: start one with `d=$(mktemp -d); chmod 0711 $d; url=$(scripts/postgres start $d/pg)`, " +
			"pass `-postgres \"$url\"` (or export STAMP_TEST_POSTGRES=\"$url\"), and stop it after with `scripts/postgres stop $d/pg`"
		return res, nil
	}
	bin, err := clientBinDir()
	if err != nil {
		return nil, err
	}
	res.floor = toolVersion(ctx, filepath.Join(bin, "pg_dump"), "--version") + ", server " + serverVersion(ctx, adminURL)
	what := fmt.Sprintf("~%d MB", b.cfg.sizeMB)
	if batches > 0 {
		what = fmt.Sprintf("the same %d batches of rows as SQLite's", batches)
	}
	b.progress("PostgreSQL: make and fill the tenant's database (%s)", what)
	gen := newGenerator(b.cfg.seed)
	t, n, err := newPostgresTarget(ctx, adminURL, b.tenant, gen, batches, b.cfg.sizeMB<<20)
	if t != nil {
		defer func() { err = errors.Join(err, t.close(ctx)) }()
	}
	if err != nil {
		return nil, err
	}
	res.batches, res.data = n, gen.stats
	err = b.rounds(ctx, t, res)
	return res, err
}

// rounds takes a reference dump, then runs the rounds: each a floor
// backup and a Stamp backup, a floor restore and a Stamp restore (the
// floor first in even rounds, Stamp first in odd ones, so the shared
// machine's noise falls on both alike), then the components.
func (b *bench) rounds(ctx context.Context, t target, res *engineResult) error {
	want := rowCounts{res.data.customers, res.data.invoices}
	if got, err := t.liveRows(ctx); err != nil {
		return fmt.Errorf("%s: %w", t.label(), err)
	} else if got != want {
		return fmt.Errorf("%s: the filled database holds %+v rows, want %+v", t.label(), got, want)
	}
	var err error
	if res.onDisk, err = t.onDisk(ctx); err != nil {
		return fmt.Errorf("%s: size on disk: %w", t.label(), err)
	}
	dir := filepath.Join(b.tmp, strings.ToLower(t.label()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ref := filepath.Join(dir, "ref.dump")
	if err := dumpTo(ctx, t, ref); err != nil {
		return fmt.Errorf("%s: reference dump: %w", t.label(), err)
	}
	fi, err := os.Stat(ref)
	if err != nil {
		return err
	}
	res.refDump = fi.Size()
	b.progress("%s: %d customers, %d invoices, %s on disk, dump %s; %d rounds", t.label(), want.customers, want.invoices, mib(res.onDisk), mib(res.refDump), b.cfg.rounds)
	res.loadBefore = benchkit.LoadAverage()
	for r := range b.cfg.rounds {
		if err := b.round(ctx, t, res, r, dir, ref, want); err != nil {
			return fmt.Errorf("%s, round %d: %w", t.label(), r+1, err)
		}
	}
	res.loadAfter = benchkit.LoadAverage()
	return nil
}

// round runs round r (from 0) in dir.
func (b *bench) round(ctx context.Context, t target, res *engineResult, r int, dir, ref string, want rowCounts) error {
	rdir := filepath.Join(dir, fmt.Sprintf("round-%d", r+1))
	if err := os.Mkdir(rdir, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(rdir)
	// Fresh each round, on the filesystem of the floor's file.
	store, err := openStore(ctx, filepath.Join(rdir, "store"), filepath.Join(rdir, "work"))
	if err != nil {
		return err
	}
	defer store.Close()
	floorFile := filepath.Join(rdir, "floor."+t.floorExt())

	var sb stampBackup
	floorBackup := func() error {
		start := time.Now()
		if err := t.floorBackup(ctx, floorFile); err != nil {
			return fmt.Errorf("the floor's backup: %w", err)
		}
		res.floorBackup = append(res.floorBackup, time.Since(start))
		fi, err := os.Stat(floorFile)
		if err != nil {
			return err
		}
		res.floorSize = append(res.floorSize, fi.Size())
		return nil
	}
	stampBackup := func() error {
		var err error
		if sb, err = takeBackup(ctx, store, t.dumper(), t.spec()); err != nil {
			return err
		}
		res.backups = append(res.backups, sb)
		return nil
	}
	floorRestore := func() error {
		if err := t.prepareRestore(ctx); err != nil {
			return fmt.Errorf("prepare the floor's restore: %w", err)
		}
		start := time.Now()
		if err := t.floorRestore(ctx, floorFile); err != nil {
			return fmt.Errorf("the floor's restore: %w", err)
		}
		res.floorRestore = append(res.floorRestore, time.Since(start))
		if got, err := t.floorRows(ctx); err != nil {
			return err
		} else if got != want {
			return fmt.Errorf("the floor restored %+v rows, want %+v", got, want)
		}
		return nil
	}
	stampRestore := func() error {
		sr, err := restoreBackup(ctx, store, t.dumper(), t.spec(), sb.id)
		if err != nil {
			return err
		}
		res.restores = append(res.restores, sr)
		if got, err := t.liveRows(ctx); err != nil {
			return err
		} else if got != want {
			return fmt.Errorf("stamp restored %+v rows, want %+v", got, want)
		}
		return nil
	}
	steps := []func() error{floorBackup, stampBackup, floorRestore, stampRestore}
	if r%2 == 1 {
		steps = []func() error{stampBackup, floorBackup, stampRestore, floorRestore}
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	comps, err := genericComponents(ctx, t.dumper(), t.spec(), ref, rdir)
	if err != nil {
		return fmt.Errorf("components: %w", err)
	}
	own, err := t.components(ctx, rdir, floorFile)
	if err != nil {
		return fmt.Errorf("components: %w", err)
	}
	for k, v := range own {
		comps[k] = v
	}
	res.components = append(res.components, comps)
	i := len(res.restores) - 1
	b.progress("%s round %d/%d: backup floor %s, Stamp %s; restore floor %s, Stamp %s", t.label(), r+1, b.cfg.rounds,
		benchkit.MS(res.floorBackup[i]), benchkit.MS(res.backups[i].took), benchkit.MS(res.floorRestore[i]), benchkit.MS(res.restores[i].took))
	return nil
}

// dumpTo writes the engine's dump of t's database to the new file path.
func dumpTo(ctx context.Context, t target, path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := t.dumper().Dump(ctx, t.spec(), f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// toolVersion returns the first line a tool prints of its version, or
// "unknown".
func toolVersion(ctx context.Context, tool string, args ...string) string {
	out, err := exec.CommandContext(ctx, tool, args...).Output()
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if f := strings.Fields(line); filepath.Base(tool) == "sqlite3" && len(f) > 2 {
		return "sqlite3 " + strings.Join(f[:2], " ") // the version and date, not the source id
	}
	return line
}

// serverVersion returns the cluster's server_version, or "unknown".
func serverVersion(ctx context.Context, adminURL string) string {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "unknown"
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var v string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "unknown"
	}
	return v
}
