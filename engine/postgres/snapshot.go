package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stamphq/stamp"
)

// Snapshots are databases of their own on the tenant's server, named by
// SnapshotName, owned by the administrator, closed to everyone else and
// marked with the comment snapshotComment(ObjectName) so Drop finds them.
//
// Snapshot copies online with pg_dump piped into pg_restore: pg_dump reads
// in one repeatable-read transaction, so the copy is consistent while the
// app writes, and it needs no exclusive access. (CREATE DATABASE ...
// TEMPLATE would be a faster copy but refuses a source anyone is connected
// to, so it would cut the old version off exactly when it must keep
// serving.)
//
// Restore recreates the live database from the snapshot with CREATE
// DATABASE ... TEMPLATE, after disconnecting the app (its role is NOLOGIN
// meanwhile, so it cannot come back half-way). A file-level copy of the
// snapshot is exact whatever the failed migration did: new tables, columns,
// schemas, types, extensions and sequences all disappear with the dropped
// database, which loading a dump over the live database would have to undo
// object by object. The app's connections are terminated; it reconnects and
// sees the snapshot.

// snapshotComment is the comment on every snapshot database of the
// database name.
func snapshotComment(name string) string {
	return "stamp snapshot of " + name
}

// maxToolOutput bounds how much of pg_dump's and pg_restore's messages an
// error holds.
const maxToolOutput = 2000

// Snapshot copies db into its snapshot database name (see SnapshotName),
// replacing an earlier one only once the new copy is complete. It needs
// pg_dump and pg_restore (Debian's postgresql-client) no older than the
// server. A missing database is ENOTFOUND; invalid names are EINVALID.
func (e *Engine) Snapshot(ctx context.Context, db stamp.DatabaseSpec, name string) error {
	live, _, _, err := snapshotNames(db, name)
	if err != nil {
		return err
	}
	err = e.makeSnapshot(ctx, db, name, func(ctx context.Context, conn *pgx.Conn, tmp string) error {
		if ok, err := databaseExists(ctx, conn, live); err != nil {
			return err
		} else if !ok {
			return stamp.Errorf(stamp.ENOTFOUND, "database %s of %s does not exist", db.Name, db.Tenant)
		}
		return e.copyDatabase(ctx, live, tmp)
	})
	if err != nil {
		return fmt.Errorf("snapshot database %s of %s as %s: %w", db.Name, db.Tenant, name, err)
	}
	return nil
}

// makeSnapshot makes the snapshot name of db: a new database, closed to
// everyone but the administrator and marked as db's snapshot, which fill
// fills (holding the lock of db's database); it then replaces an earlier
// snapshot of that name. A fill that fails leaves the earlier one.
func (e *Engine) makeSnapshot(ctx context.Context, db stamp.DatabaseSpec, name string, fill func(ctx context.Context, conn *pgx.Conn, tmp string) error) error {
	live, snap, tmp, err := snapshotNames(db, name)
	if err != nil {
		return err
	}
	return e.locked(ctx, live, func(conn *pgx.Conn) error {
		qtmp := pgx.Identifier{tmp}.Sanitize()
		if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+qtmp+` WITH (FORCE)`); err != nil {
			return fmt.Errorf("drop leftover copy: %w", err)
		}
		// pg_dump's output expects a database made from template0.
		if _, err := conn.Exec(ctx, `CREATE DATABASE `+qtmp+` TEMPLATE template0`); err != nil {
			return fmt.Errorf("create copy: %w", err)
		}
		for _, stmt := range []string{
			`REVOKE ALL ON DATABASE ` + qtmp + ` FROM PUBLIC`,
			`COMMENT ON DATABASE ` + qtmp + ` IS '` + snapshotComment(live) + `'`, // names need no escaping
		} {
			if _, err := conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("set up copy: %w", err)
			}
		}
		if err := fill(ctx, conn, tmp); err != nil {
			if _, derr := conn.Exec(context.WithoutCancel(ctx), `DROP DATABASE IF EXISTS `+qtmp+` WITH (FORCE)`); derr != nil {
				return errors.Join(err, fmt.Errorf("drop the unfinished copy: %w", derr))
			}
			return err
		}
		qsnap := pgx.Identifier{snap}.Sanitize()
		if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+qsnap+` WITH (FORCE)`); err != nil {
			return fmt.Errorf("drop earlier snapshot: %w", err)
		}
		if _, err := conn.Exec(ctx, `ALTER DATABASE `+qtmp+` RENAME TO `+qsnap); err != nil {
			return fmt.Errorf("rename copy: %w", err)
		}
		return nil
	})
}

// Restore drops db's database, disconnecting the app, and creates it again
// as a copy of the snapshot, owned by db's role with the privileges Ensure
// gives. The snapshot stays. A missing snapshot is ENOTFOUND; invalid names
// are EINVALID. A Restore that fails half-way may leave the database
// missing; calling it again finishes it.
func (e *Engine) Restore(ctx context.Context, db stamp.DatabaseSpec, name string) error {
	if err := e.replaceLive(ctx, db, name, false); err != nil {
		return fmt.Errorf("restore database %s of %s from snapshot %s: %w", db.Name, db.Tenant, name, err)
	}
	return nil
}

// replaceLive drops db's database, disconnecting the app (its role
// cannot log in meanwhile), and puts the snapshot name in its place: a
// copy of it, or, with move, the snapshot itself, renamed (no copy, and
// the snapshot is gone). The database then has the owner and privileges
// Ensure gives. Cut short, the database may be missing; calling it again
// finishes it (a move's snapshot stays until the rename).
func (e *Engine) replaceLive(ctx context.Context, db stamp.DatabaseSpec, name string, move bool) error {
	live, snap, _, err := snapshotNames(db, name)
	if err != nil {
		return err
	}
	return e.locked(ctx, live, func(conn *pgx.Conn) error {
		if ok, err := databaseExists(ctx, conn, snap); err != nil {
			return err
		} else if !ok {
			return stamp.Errorf(stamp.ENOTFOUND, "database %s of %s has no snapshot %s", db.Name, db.Tenant, name)
		}
		q, qsnap := pgx.Identifier{live}.Sanitize(), pgx.Identifier{snap}.Sanitize()
		if _, err := conn.Exec(ctx, `ALTER ROLE `+q+` NOLOGIN`); err != nil {
			return fmt.Errorf("disable login: %w", err)
		}
		restored := false
		defer func() {
			if !restored {
				// Best effort: the app must be able to log in again.
				conn.Exec(context.WithoutCancel(ctx), `ALTER ROLE `+q+` LOGIN`)
			}
		}()
		if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+q+` WITH (FORCE)`); err != nil {
			return fmt.Errorf("drop database: %w", err)
		}
		stmts := []string{`CREATE DATABASE ` + q + ` TEMPLATE ` + qsnap + ` OWNER ` + q}
		if move {
			// No longer a snapshot: a later drop of db's snapshots,
			// found by this comment, must not take it.
			stmts = []string{`ALTER DATABASE ` + qsnap + ` RENAME TO ` + q, `COMMENT ON DATABASE ` + q + ` IS NULL`}
		}
		for _, stmt := range stmts {
			if _, err := conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("put the snapshot in place: %w", err)
			}
		}
		if err := ensureDatabase(ctx, conn, live); err != nil {
			return err
		}
		if err := e.handOverSchema(ctx, live, live); err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, `ALTER ROLE `+q+` LOGIN`); err != nil {
			return fmt.Errorf("enable login: %w", err)
		}
		restored = true
		return nil
	})
}

// DropSnapshot deletes the snapshot's database. A missing snapshot is not
// an error; invalid names are EINVALID.
func (e *Engine) DropSnapshot(ctx context.Context, db stamp.DatabaseSpec, name string) error {
	live, snap, tmp, err := snapshotNames(db, name)
	if err != nil {
		return err
	}
	err = e.locked(ctx, live, func(conn *pgx.Conn) error {
		return dropDatabases(ctx, conn, snap, tmp)
	})
	if err != nil {
		return fmt.Errorf("drop snapshot %s of database %s of %s: %w", name, db.Name, db.Tenant, err)
	}
	return nil
}

// dropSnapshots deletes every snapshot database of the database name.
func dropSnapshots(ctx context.Context, conn *pgx.Conn, name string) error {
	rows, err := conn.Query(ctx, `SELECT datname FROM pg_database
		WHERE shobj_description(oid, 'pg_database') = $1`, snapshotComment(name))
	if err != nil {
		return fmt.Errorf("list snapshots: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("list snapshots: %w", err)
	}
	return dropDatabases(ctx, conn, names...)
}

// dropDatabases drops the databases names, missing ones included.
func dropDatabases(ctx context.Context, conn *pgx.Conn, names ...string) error {
	for _, n := range names {
		if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{n}.Sanitize()+` WITH (FORCE)`); err != nil {
			return fmt.Errorf("drop snapshot database %s: %w", n, err)
		}
	}
	return nil
}

// snapshotNames validates the names and returns the names of db's
// database, of its snapshot name and of the copy that becomes it.
func snapshotNames(db stamp.DatabaseSpec, name string) (live, snap, tmp string, err error) {
	live, err = objectName(db)
	if err != nil {
		return "", "", "", err
	}
	if err := stamp.ValidateName("snapshot", name); err != nil {
		return "", "", "", err
	}
	return live, SnapshotName(db.Tenant, db.Name, name), tempSnapshotName(db.Tenant, db.Name, name), nil
}

// databaseExists reports whether the server has the database name.
func databaseExists(ctx context.Context, conn *pgx.Conn, name string) (bool, error) {
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&ok); err != nil {
		return false, fmt.Errorf("look up database %s: %w", name, err)
	}
	return ok, nil
}

// toolKillWait bounds how long a killed tool's messages are still read:
// a process that left its process group can keep the pipe open.
const toolKillWait = 5 * time.Second

// errCopyTimeout is the cause of a copy's context past its deadline.
var errCopyTimeout = errors.New("snapshot copy timed out")

// copyDatabase copies every object and row of the database from into the
// empty database to, as the administrator, with pg_dump piped into
// pg_restore. The password reaches them in their environment, never on a
// command line. Each tool runs in a process group of its own; past the
// Engine's copy timeout, or when ctx ends, both groups are killed, so a
// stalled pipe cannot hold the database's lock for ever.
func (e *Engine) copyDatabase(ctx context.Context, from, to string) error {
	bin := e.clientDir
	if bin == "" {
		var err error
		if bin, err = clientBinDir(); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeoutCause(ctx, e.copyTimeout, errCopyTimeout)
	defer cancel()
	var dumpErr, restoreErr bytes.Buffer
	dump := toolCommand(ctx, filepath.Join(bin, "pg_dump"), "--format=custom", "--no-password")
	dump.Env = e.clientEnv(from)
	dump.Stderr = &dumpErr
	restore := toolCommand(ctx, filepath.Join(bin, "pg_restore"), "--exit-on-error", "--no-password", "--single-transaction", "--dbname="+to)
	restore.Env = e.clientEnv(to)
	restore.Stderr = &restoreErr
	pipe, err := dump.StdoutPipe()
	if err != nil {
		return fmt.Errorf("pg_dump: %w", err)
	}
	restore.Stdin = pipe
	if err := dump.Start(); err != nil {
		return fmt.Errorf("pg_dump: %w", err)
	}
	if err := restore.Start(); err != nil {
		dump.Cancel()
		dump.Wait()
		return fmt.Errorf("pg_restore: %w", err)
	}
	// Only pg_restore reads the pipe: if it ends early, pg_dump must see
	// a broken pipe, not block on a reader this process still holds.
	pipe.Close()
	rerr := restore.Wait()
	derr := dump.Wait()
	// When both fail, one failed because the other did: say both.
	var msgs []string
	if context.Cause(ctx) == errCopyTimeout {
		msgs = append(msgs, fmt.Sprintf("pg_dump | pg_restore did not finish within %s (the snapshot timeout): both were killed with their process groups", e.copyTimeout))
	}
	if derr != nil {
		msgs = append(msgs, fmt.Sprintf("pg_dump: %v: %s", derr, lastOutput(&dumpErr)))
	}
	if rerr != nil {
		msgs = append(msgs, fmt.Sprintf("pg_restore: %v: %s", rerr, lastOutput(&restoreErr)))
	}
	if len(msgs) > 0 {
		return errors.New(strings.Join(msgs, "; "))
	}
	return nil
}

// toolCommand returns the command name args in a process group of its
// own, which ctx's end kills whole.
func toolCommand(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = toolKillWait
	return cmd
}

// clientEnv returns the environment that points libpq's tools at database
// name as the administrator: the process's own, without any PG variable.
func (e *Engine) clientEnv(name string) []string {
	return e.clientEnvAs(name, e.admin.User, e.admin.Password)
}

// clientEnvAs is clientEnv for another role than the administrator.
func (e *Engine) clientEnvAs(name, user, password string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "PG") })
	return append(env,
		"PGHOST="+e.admin.Host,
		"PGPORT="+strconv.Itoa(int(e.admin.Port)),
		"PGUSER="+user,
		"PGPASSWORD="+password,
		"PGDATABASE="+name,
		"PGSSLMODE="+e.sslmode,
		"PGCONNECT_TIMEOUT="+strconv.Itoa(int(connectTimeout.Seconds())),
		"PGAPPNAME=stamp snapshot",
	)
}

// clientBinDir returns the directory of pg_dump and pg_restore: the newest
// of Debian's /usr/lib/postgresql/<version>/bin that has both, else the one
// of pg_dump on PATH. A newer pg_dump reads older servers, not the reverse.
func clientBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		return versionOf(b) - versionOf(a)
	})
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "pg_dump")) && isExecutable(filepath.Join(d, "pg_restore")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("pg_dump"); err == nil && isExecutable(filepath.Join(filepath.Dir(p), "pg_restore")) {
		return filepath.Dir(p), nil
	}
	return "", errors.New("pg_dump and pg_restore not found: install PostgreSQL's client tools (Debian: postgresql-client)")
}

// versionOf returns the major version in a /usr/lib/postgresql/<version>/bin
// path, or 0.
func versionOf(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

// isExecutable reports whether path is a regular file someone may run.
func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// lastOutput returns the end of a tool's messages, on one line.
func lastOutput(b *bytes.Buffer) string {
	s := strings.Join(strings.Fields(b.String()), " ")
	if len(s) > maxToolOutput {
		s = "..." + s[len(s)-maxToolOutput:]
	}
	return s
}
