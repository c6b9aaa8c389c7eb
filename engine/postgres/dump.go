package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/stamphq/stamp"
)

var _ stamp.Dumper = (*Engine)(nil)

// loadSnapshot is the snapshot a Load fills before it restores it.
const loadSnapshot = "load"

// DumpFormat is "pgdump": dumps are pg_dump's custom format, which
// pg_restore reads.
func (e *Engine) DumpFormat() string { return "pgdump" }

// Dump writes db in pg_dump's custom format to w, uncompressed (an
// archive compresses it whole), as the administrator. pg_dump reads in
// one repeatable-read transaction, so the dump is consistent while the
// app writes. Ownership and privileges are left out: a Load gives every
// object to the database's own role. A missing database is ENOTFOUND.
func (e *Engine) Dump(ctx context.Context, db stamp.DatabaseSpec, w io.Writer) error {
	live, err := objectName(db)
	if err != nil {
		return err
	}
	if err := e.dump(ctx, live, w); err != nil {
		return fmt.Errorf("dump database %s of %s: %w", db.Name, db.Tenant, err)
	}
	return nil
}

func (e *Engine) dump(ctx context.Context, live string, w io.Writer) error {
	conn, err := e.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	ok, err := databaseExists(ctx, conn.Conn(), live)
	conn.Release()
	if err != nil {
		return err
	}
	if !ok {
		return stamp.Errorf(stamp.ENOTFOUND, "database %s does not exist", live)
	}
	_, err = e.runTool(ctx, "pg_dump", e.clientEnv(live), nil, w,
		"--format=custom", "--compress=0", "--no-owner", "--no-privileges", "--no-password")
	return err
}

// runTool runs one of PostgreSQL's client tools with env, stdin and
// stdout, killed past the Engine's copy timeout, and returns the end of
// its messages with its error.
func (e *Engine) runTool(ctx context.Context, tool string, env []string, stdin io.Reader, stdout io.Writer, args ...string) (string, error) {
	bin, err := e.clientBin()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, e.copyTimeout, errCopyTimeout)
	defer cancel()
	var msgs bytes.Buffer
	cmd := toolCommand(ctx, filepath.Join(bin, tool), args...)
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = env, stdin, stdout, &msgs
	if err := cmd.Run(); err != nil {
		out := lastOutput(&msgs)
		if context.Cause(ctx) == errCopyTimeout {
			return out, fmt.Errorf("%s did not finish within %s (the snapshot timeout) and was killed", tool, e.copyTimeout)
		}
		return out, fmt.Errorf("%s: %v: %s", tool, err, out)
	}
	return "", nil
}

// Load makes db's contents those of the dump in file (pg_dump's custom
// format): pg_restore loads it into a new snapshot database, which then
// takes the place of db's (disconnecting the
// app), renamed rather than copied. pg_restore runs as db's own role,
// which so owns every object loaded, and a dump can do no more than the
// tenant's app could: the dump of another tenant (a clone) or a file
// from outside (an export brought back) is no way to the administrator's
// rights. A dump pg_restore refuses is EINVALID and leaves db as it was.
func (e *Engine) Load(ctx context.Context, db stamp.DatabaseSpec, file string) error {
	if err := checkPassword(db); err != nil {
		return err
	}
	role, err := objectName(db)
	if err != nil {
		return err
	}
	err = e.makeSnapshot(ctx, db, loadSnapshot, func(ctx context.Context, conn *pgx.Conn, tmp string) error {
		q := pgx.Identifier{tmp}.Sanitize()
		if _, err := conn.Exec(ctx, `ALTER DATABASE `+q+` OWNER TO `+pgx.Identifier{role}.Sanitize()); err != nil {
			return fmt.Errorf("give the copy to role %s: %w", role, err)
		}
		if err := e.handOverSchema(ctx, tmp, role); err != nil {
			return err
		}
		return e.restoreDump(ctx, tmp, role, db.Password, file)
	})
	if err == nil {
		err = e.replaceLive(ctx, db, loadSnapshot, true)
	}
	if err != nil {
		return fmt.Errorf("load database %s of %s: %w", db.Name, db.Tenant, err)
	}
	return nil
}

// errBadDump marks pg_restore's refusal of its input.
var errBadDump = errors.New("not a dump pg_restore can load")

// restoreDump loads the custom-format dump in file into database to
// with pg_restore, as role, by several jobs at once (tables and indexes
// side by side). Jobs cannot share one transaction, but the database is
// one no one uses yet, which a failure drops whole.
func (e *Engine) restoreDump(ctx context.Context, to, role, password, file string) error {
	out, err := e.runTool(ctx, "pg_restore", e.clientEnvAs(to, role, password), nil, nil,
		"--exit-on-error", "--no-password", "--no-owner", "--no-privileges", "--dbname="+to,
		fmt.Sprintf("--jobs=%d", restoreJobs()), file)
	if err != nil && (strings.Contains(out, "input file does not appear to be a valid archive") || strings.Contains(out, "did not find magic string")) {
		return stamp.Errorf(stamp.EINVALID, "%v: %s", errBadDump, out)
	}
	return err
}

// restoreJobs is how many jobs restore a dump file at once: one per CPU,
// at most 4.
func restoreJobs() int { return min(4, max(1, runtime.NumCPU())) }

// clientBin returns the directory of pg_dump and pg_restore.
func (e *Engine) clientBin() (string, error) {
	if e.clientDir != "" {
		return e.clientDir, nil
	}
	return clientBinDir()
}
