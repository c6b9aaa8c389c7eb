package local

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/stamphq/stamp"
)

// setUp makes t ready to run processes as uid under limits: its
// directories, given to uid, and the record of both in its state. A uid
// other than 0 needs the driver to run as root. t.op must be held.
func (d *Driver) setUp(t *tenant, uid int, limits stamp.Limits) error {
	if uid < 0 {
		return stamp.Errorf(stamp.EINVALID, "uid %d of %s is negative", uid, t.name)
	}
	if uid != 0 && os.Geteuid() != 0 {
		return stamp.Errorf(stamp.EUNAVAILABLE, "tenant %s is to run as uid %d, which needs the driver to run as root", t.name, uid)
	}
	if uid != 0 {
		if err := Reachable(d.dir); err != nil {
			return err
		}
	}
	if err := t.makeDirs(uid); err != nil {
		return fmt.Errorf("make directories: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state.UID == uid && t.state.Limits == limits {
		return nil
	}
	t.state.UID, t.state.Limits = uid, limits
	return t.save()
}

// confine has spec's process run as t's: as its user.
func (t *tenant) confine(spec *spawnSpec) {
	t.mu.Lock()
	defer t.mu.Unlock()
	spec.uid = t.state.UID
}

// host is the address t's instances listen on and are reached at.
func (t *tenant) host() string { return "127.0.0.1" }

// recordedUID is the user t runs as, from its state file if the Driver
// has not taken t up: Remove works on tenants it does not hold.
func (t *tenant) recordedUID() int {
	if t.isLoaded() {
		t.mu.Lock()
		defer t.mu.Unlock()
		return t.state.UID
	}
	var st tenantState
	if _, err := readJSON(t.statePath(), &st); err != nil {
		return 0
	}
	return st.UID
}

// Reachable checks that users other than the driver's may pass through
// dir and each directory above it, as the processes of tenants with users
// of their own must to reach their bundle and their directories.
func Reachable(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return stamp.Errorf(stamp.EUNAVAILABLE, "tenants cannot run as users of their own: %s (mode %04o) does not let other users pass through; give it o+x (chmod o+x %s)", d, fi.Mode().Perm(), d)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}
