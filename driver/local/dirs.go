package local

import (
	"fmt"
	"os"
	"path/filepath"
)

// A tenant's directory, tenants/<name>, is the driver's (mode 0711: its
// processes may pass through to what is theirs, not list it):
//
//	state.json, logs/, tasks/, snapshots/   the driver's own (0700, 0600)
//	data/    the tenant's: ${tenant.dir}, HOME and the working directory
//	         of its processes; copied aside by an upgrade (snapshots/)
//	tmp/     the tenant's: TMPDIR
//	exits/   the tenant's: where a task's shell writes its exit code
//
// The tenant's own directories belong to its user (Runtime.UID), mode
// 0700, so no other tenant can read or write them.
const (
	dataDir  = "data"
	tmpDir   = "tmp"
	exitsDir = "exits"
)

func (t *tenant) dataDir() string { return filepath.Join(t.dir, dataDir) }
func (t *tenant) tmpDir() string  { return filepath.Join(t.dir, tmpDir) }
func (t *tenant) exitPath(task string) string {
	return filepath.Join(t.dir, exitsDir, task+".exit")
}

// makeDirs creates the tenant's directories, giving its own ones to uid
// (0: the driver's user). Modes are set explicitly: the umask must not
// decide who may read a tenant's files.
func (t *tenant) makeDirs(uid int) error {
	if err := mkdirMode(t.dir, 0o711, 0); err != nil {
		return err
	}
	for _, sub := range []string{"logs", "tasks", "snapshots"} {
		if err := mkdirMode(filepath.Join(t.dir, sub), 0o700, 0); err != nil {
			return err
		}
	}
	for _, sub := range []string{dataDir, tmpDir, exitsDir} {
		if err := mkdirMode(filepath.Join(t.dir, sub), 0o700, uid); err != nil {
			return err
		}
	}
	return nil
}

// mkdirMode makes dir if missing and gives it mode and, when uid is not 0,
// to uid and its group of the same number. Its parent must exist.
func mkdirMode(dir string, mode os.FileMode, uid int) error {
	if err := os.Mkdir(dir, mode); err != nil && !os.IsExist(err) {
		return err
	}
	if err := os.Chmod(dir, mode); err != nil {
		return err
	}
	if uid != 0 {
		if err := os.Lchown(dir, uid, uid); err != nil {
			return fmt.Errorf("give %s to uid %d: %w", dir, uid, err)
		}
	}
	return nil
}
