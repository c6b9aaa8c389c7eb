package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stamphq/stamp"
)

// outputLines is how many of a task's last lines TaskResult.Output holds.
const outputLines = 20

// taskNames are safe as file names: "migrate-1.2.0", "seed".
var taskNames = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// taskScript runs the task's command and records its exit code in the
// file named by $1, so that the code survives a crash of the control plane
// that waits for it. The file is read only once the shell has exited, so a
// plain write suffices (a rename would cost one more process per task).
// The driver made the file beforehand, holding blanks (see makeExitFile);
// "1<>" writes the code over them without truncating, so recording it
// needs no free space: a hook that filled the disk still has its code
// kept. The shell exits with the code too, for a driver that could not
// read it (see finishTask).
const taskScript = `f=$1; shift; "$@"; c=$?; echo $c 1<>"$f"; exit $c`

// exitBlanks is what a task's exit file holds until its shell writes the
// code over it: room for any code, and no code itself.
var exitBlanks = []byte("       \n")

var errTaskTimeout = errors.New("task timed out")

// RunTask runs task for tenant and waits for it. The task's record in
// tasks/<name>.json makes it run once: a finished record is returned as
// is; a run still going (pid and start time match) is waited for; a run
// whose process is gone is finished from the exit code it left, or reported
// with ExitCode -1 if it left none. A task past its Timeout (zero: none) is
// killed with its process group and reported with ExitCode -1. If ctx
// ends, the tenant is released or the Driver closes first, the task keeps
// running and a later call, on this Driver or the tenant's next owner,
// picks it up. A disk too full to record the run is an error wrapping
// syscall.ENOSPC, never a verdict on the task: the exit code is kept
// (see taskScript) and a later call, once there is space, finishes the
// record without running the task again. RunTask takes the tenant up if
// the Driver has not.
func (d *Driver) RunTask(ctx context.Context, tenant string, task *stamp.Task) (*stamp.TaskResult, error) {
	if err := validateTask(tenant, task); err != nil {
		return nil, err
	}
	t, err := d.lockTenant(ctx, tenant, true)
	if err != nil {
		return nil, err
	}
	rec, p, err := d.findOrStartTask(ctx, t, task)
	t.op.Unlock()
	if err != nil {
		return nil, fmt.Errorf("run task %s of %s: %w", task.Name, tenant, err)
	}
	if !rec.Finished.IsZero() {
		return rec.result(), nil
	}
	timedOut, err := d.waitTask(ctx, t, rec, p)
	if err != nil {
		return nil, fmt.Errorf("run task %s of %s: %w", task.Name, tenant, err)
	}
	if err := t.relock(); err != nil {
		return nil, fmt.Errorf("run task %s of %s: %w", task.Name, tenant, err)
	}
	defer t.op.Unlock()
	rec, err = t.finishTask(task.Name, timedOut, p.exitCode())
	if err != nil {
		return nil, fmt.Errorf("run task %s of %s: %w", task.Name, tenant, err)
	}
	return rec.result(), nil
}

var _ stamp.TaskStarter = (*Driver)(nil)

// StartTask starts task for tenant as RunTask does and returns once its
// process runs and is recorded, without waiting for it to end: the
// RunTask of it that follows finds the record and waits for that run. A
// task that runs or has run is left as it is. Apply holds the tenant
// while it starts its instances (a cgroup to enter, a namespace, a state
// file to write: tens of milliseconds), and a task started after it
// waits all that time.
func (d *Driver) StartTask(ctx context.Context, tenant string, task *stamp.Task) error {
	if err := validateTask(tenant, task); err != nil {
		return err
	}
	t, err := d.lockTenant(ctx, tenant, true)
	if err != nil {
		return err
	}
	defer t.op.Unlock()
	if _, _, err := d.findOrStartTask(ctx, t, task); err != nil {
		return fmt.Errorf("start task %s of %s: %w", task.Name, tenant, err)
	}
	return nil
}

// validateTask checks task's name, which names its files, and command.
func validateTask(tenant string, task *stamp.Task) error {
	if task == nil || !taskNames.MatchString(task.Name) {
		name := ""
		if task != nil {
			name = task.Name
		}
		return stamp.Errorf(stamp.EINVALID, "task name %q must be 1 to 128 of [A-Za-z0-9._-], not starting with '.', '_' or '-'", name)
	}
	if len(task.Command) == 0 {
		return stamp.Errorf(stamp.EINVALID, "task %s of %s has no command", task.Name, tenant)
	}
	return nil
}

// findOrStartTask returns the record of task with its process, starting
// it if there is no record. t.op must be held.
func (d *Driver) findOrStartTask(ctx context.Context, t *tenant, task *stamp.Task) (*taskRecord, *proc, error) {
	rec := &taskRecord{}
	found, err := readJSON(t.taskPath(task.Name, ".json"), rec)
	if err != nil {
		return nil, nil, err
	}
	if found {
		t.mu.Lock()
		p := t.tasks[task.Name]
		t.mu.Unlock()
		if p == nil || p.pid != rec.PID {
			p = &proc{pid: rec.PID, start: rec.StartTime, startedAt: rec.Started}
		}
		return rec, p, nil
	}

	if rec, p, err := d.recoverTask(t, task); rec != nil || err != nil {
		return rec, p, err
	}
	bdir, err := d.bundleDir(ctx, task.Bundle)
	if err != nil {
		return nil, nil, err
	}
	t.mu.Lock()
	limits, outbound := t.state.Limits, t.state.Outbound
	t.mu.Unlock()
	if err := d.setUp(t, task.UID, limits, outbound); err != nil {
		return nil, nil, err
	}
	vars := t.vars(t.host(), 0)
	path, isolated := t.path()
	argv, err := resolve(expandAll(task.Command, vars), bdir, path, isolated)
	if err != nil {
		return nil, nil, err
	}
	exitPath := t.exitPath(task.Name)
	t.mu.Lock()
	uid := t.state.UID
	t.mu.Unlock()
	if err := makeExitFile(exitPath, uid); err != nil {
		return nil, nil, err
	}
	if err := t.unsweep(); err != nil {
		return nil, nil, err
	}
	// The intent file tells a later call, after a crash between starting
	// the process and recording it, to look for that process first.
	intent := t.taskPath(task.Name, ".starting")
	if err := os.WriteFile(intent, nil, 0o644); err != nil {
		return nil, nil, err
	}
	spec := spawnSpec{
		argv:     append([]string{"/bin/sh", "-c", taskScript, "sh", exitPath}, argv...),
		env:      envList(d.environ(t, "task:"+task.Name, task.Env, vars, bdir, path, false)),
		dir:      t.dataDir(),
		log:      t.taskPath(task.Name, ".log"),
		truncate: true,
	}
	d.confine(t, &spec)
	p, err := spawn(spec)
	if err != nil {
		return nil, nil, err
	}
	rec = &taskRecord{Name: task.Name, PID: p.pid, StartTime: p.start, Started: p.startedAt, Timeout: task.Timeout}
	if task.Timeout > 0 {
		rec.Deadline = p.startedAt.Add(task.Timeout)
	}
	if err := writeJSON(t.taskPath(task.Name, ".json"), rec); err != nil {
		// Unrecorded, the task would run again on the next call.
		p.signal(syscall.SIGKILL)
		return nil, nil, err
	}
	if err := removeAll(intent); err != nil {
		return nil, nil, err
	}
	t.mu.Lock()
	t.tasks[task.Name] = p
	t.mu.Unlock()
	return rec, p, nil
}

// recoverTask finds a run of task that started but was never recorded
// (the control plane died in between): its process, still running, is
// adopted; if it already ended, the exit code it left finishes the record.
// It returns a nil record when there is no such run. t.op must be held.
func (d *Driver) recoverTask(t *tenant, task *stamp.Task) (*taskRecord, *proc, error) {
	intent := t.taskPath(task.Name, ".starting")
	if _, err := os.Stat(intent); err != nil {
		return nil, nil, nil
	}
	id := t.name + "/task:" + task.Name
	for _, m := range d.markedOf(t.name, t.recordedUID()) {
		if m.id != id {
			continue
		}
		p := adopt(m.pid, m.stat.start, time.Now())
		rec := &taskRecord{Name: task.Name, PID: p.pid, StartTime: p.start, Started: p.startedAt, Timeout: task.Timeout}
		if task.Timeout > 0 {
			rec.Deadline = p.startedAt.Add(task.Timeout)
		}
		if err := writeJSON(t.taskPath(task.Name, ".json"), rec); err != nil {
			return nil, nil, err
		}
		t.mu.Lock()
		t.tasks[task.Name] = p
		t.mu.Unlock()
		d.log.Warn("adopted a task run that was never recorded", "tenant", t.name, "task", task.Name, "pid", p.pid)
		return rec, p, removeAll(intent)
	}
	if _, err := readExitCode(t.exitPath(task.Name)); err == nil {
		if err := writeJSON(t.taskPath(task.Name, ".json"), &taskRecord{Name: task.Name, Started: time.Now()}); err != nil {
			return nil, nil, err
		}
		rec, err := t.finishTask(task.Name, false, -1)
		if err != nil {
			return nil, nil, err
		}
		return rec, nil, removeAll(intent)
	}
	return nil, nil, nil // it never started: start it
}

// waitTask waits until the task's process p exits (false) or its deadline
// passes, killing its process group (true); either way it then kills
// whatever the task left running. It gives up, leaving the task running, when
// ctx ends or the Driver drops t (Release, Close, Remove).
func (d *Driver) waitTask(ctx context.Context, t *tenant, rec *taskRecord, p *proc) (bool, error) {
	base, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-t.gone:
			cancel(t.dropCause())
		case <-base.Done():
		}
	}()
	wctx := base
	if !rec.Deadline.IsZero() {
		var stop context.CancelFunc
		wctx, stop = context.WithDeadlineCause(base, rec.Deadline, errTaskTimeout)
		defer stop()
	}
	if _, exited := p.wait(wctx); exited {
		d.killLeftovers(t, rec.Name)
		return false, nil
	}
	if cause := context.Cause(wctx); cause != errTaskTimeout {
		return false, cause
	}
	p.signal(syscall.SIGKILL)
	p.waitFor(killWait)
	d.killLeftovers(t, rec.Name)
	return true, nil
}

// killLeftovers kills what the ended task name of t left running: the
// children it forked, in its process group or out of it (they carry its
// marker), which could hold its output open and would escape
// supervision.
func (d *Driver) killLeftovers(t *tenant, name string) {
	if pids := d.killMarked(t.name, t.recordedUID(), "task:"+name); len(pids) > 0 {
		d.log.Warn("killed what an ended task left running", "tenant", t.name, "task", name, "pids", pids)
	}
}

// finishTask completes the record of task name, whose process has ended
// with exit code shell if the driver saw it end (-1: it did not, or a
// signal ended it). The code the shell wrote comes first: it is what
// survives a restart of the control plane. A record that cannot be
// written (a full disk) is an error, and the exit file stays for the
// next call to finish it from. t.op must be held.
func (t *tenant) finishTask(name string, timedOut bool, shell int) (*taskRecord, error) {
	rec := &taskRecord{}
	found, err := readJSON(t.taskPath(name, ".json"), rec)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, stamp.Errorf(stamp.ECONFLICT, "tenant %s was removed while task %s ran", t.name, name)
	}
	if !rec.Finished.IsZero() {
		return rec, nil // another caller finished it
	}
	tail, err := tailLines(t.taskPath(name, ".log"), outputLines)
	if err != nil {
		return nil, err
	}
	exitPath := t.exitPath(name)
	code, err := readExitCode(exitPath)
	switch {
	case err == nil:
		rec.ExitCode, rec.Output = code, tail
	case timedOut:
		rec.ExitCode, rec.Output = -1, joinLines(tail, fmt.Sprintf("timed out after %s", rec.Timeout))
	case shell >= 0:
		// The shell could not write its code, on a full disk of a file
		// system where writing over a file takes new space.
		rec.ExitCode, rec.Output = shell, tail
	default:
		rec.ExitCode, rec.Output = -1, joinLines(tail, "the task ended without recording an exit code (killed, or the host restarted)")
	}
	rec.Finished = time.Now()
	if err := writeJSON(t.taskPath(name, ".json"), rec); err != nil {
		return nil, fmt.Errorf("record that it exited with code %d: %w", rec.ExitCode, err)
	}
	if err := removeAll(exitPath); err != nil {
		return nil, err
	}
	t.mu.Lock()
	delete(t.tasks, name)
	t.mu.Unlock()
	return rec, nil
}

// taskRecords returns every task record of t; unreadable ones are skipped.
func (t *tenant) taskRecords() []*taskRecord {
	paths, _ := filepath.Glob(filepath.Join(t.dir, "tasks", "*.json"))
	var recs []*taskRecord
	for _, p := range paths {
		rec := &taskRecord{}
		if found, err := readJSON(p, rec); found && err == nil {
			recs = append(recs, rec)
		}
	}
	return recs
}

func (t *tenant) taskPath(name, ext string) string {
	return filepath.Join(t.dir, "tasks", name+ext)
}

// startingTask reports whether task name has an intent file: it was
// started and may not be recorded yet.
func (t *tenant) startingTask(name string) bool {
	if !taskNames.MatchString(name) {
		return false
	}
	_, err := os.Stat(t.taskPath(name, ".starting"))
	return err == nil
}

func (rec *taskRecord) result() *stamp.TaskResult {
	return &stamp.TaskResult{ExitCode: rec.ExitCode, Output: rec.Output}
}

// makeExitFile makes the file at path that a task's shell writes its
// exit code into (see taskScript), holding exitBlanks, for uid (0: the
// driver's user) to write. It fails, before the task starts, on a disk
// too full for those few bytes. The directory is the tenant's: the file
// is made anew, never through a link the tenant put there.
func makeExitFile(path string, uid int) error {
	if err := removeAll(path); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(exitBlanks)
	if err == nil && uid != 0 {
		err = f.Chown(uid, uid)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// readExitCode reads the exit code a task's shell wrote. The file is in a
// directory of the tenant's, so the tenant could put a link there: it is
// opened without following one, and only its first bytes are read.
func readExitCode(path string) (int, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 16)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(buf[:n])))
}

// tailLines returns the last n lines of the file at path, reading at most
// its last 64 KiB; a missing file has none.
func tailLines(path string, n int) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	const window = 64 << 10
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	off := max(fi.Size()-window, 0)
	data, err := io.ReadAll(io.NewSectionReader(f, off, window))
	if err != nil {
		return "", err
	}
	if off > 0 {
		// Drop the line the window cut.
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n"), nil
}

func joinLines(a, b string) string {
	if a == "" {
		return b
	}
	return a + "\n" + b
}
