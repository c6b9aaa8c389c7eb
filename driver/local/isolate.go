package local

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/driver/local/cgroup"
)

// setUp makes t ready to run processes as uid under limits: its
// directories, given to uid, its cgroup with limits, its network
// namespace (for a tenant with a user of its own), and the record of it
// all in its state. A uid other than 0 needs the driver to run as root.
// t.op must be held.
func (d *Driver) setUp(t *tenant, uid int, limits stamp.Limits, outbound bool) error {
	if uid < 0 {
		return stamp.Errorf(stamp.EINVALID, "uid %d of %s is negative", uid, t.name)
	}
	if uid != 0 && os.Geteuid() != 0 {
		return stamp.Errorf(stamp.EUNAVAILABLE, "tenant %s is to run as uid %d, which needs the driver to run as root", t.name, uid)
	}
	want := setUpKey{uid: uid, limits: limits, outbound: outbound}
	t.mu.Lock()
	done := t.setUp != nil && *t.setUp == want
	t.mu.Unlock()
	if done {
		// Set up already by this Driver, as asked: every step of a pass
		// calls setUp, and each check of what is there costs a few
		// system calls, netlink and cgroup writes. What is changed behind
		// the Driver's back is set right at its next take-up.
		return nil
	}
	if uid != 0 {
		if err := Reachable(d.dir); err != nil {
			return err
		}
	}
	if err := t.makeDirs(uid); err != nil {
		return fmt.Errorf("make directories: %w", err)
	}
	var inForce *stamp.Limits
	var join []string
	if d.cfg.Cgroups != nil {
		in, err := d.cfg.Cgroups.Ensure(t.name, limits)
		if err != nil {
			return err
		}
		inForce = &in
		if join, err = d.cfg.Cgroups.Joinable(t.name, uid); err != nil {
			return err
		}
	}
	addr := ""
	if d.cfg.Network != nil && uid != 0 {
		// The namespace is made before the state names it: a crash in
		// between leaves a namespace Tenants lists, and the next setUp
		// (Ensure is idempotent) or Remove finds it.
		link, err := d.cfg.Network.Ensure(t.name, uid, outbound)
		if err != nil {
			return err
		}
		addr = link.TenantAddr.String()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	st := &t.state
	if st.UID != uid || st.Limits != limits || !equalLimits(st.InForce, inForce) || st.Addr != addr || st.Outbound != outbound {
		st.UID, st.Limits, st.InForce, st.Addr, st.Outbound = uid, limits, inForce, addr, outbound
		if err := t.save(); err != nil {
			return err
		}
	}
	t.setUp, t.join = &want, join
	return nil
}

// setUpKey is what a tenant was set up for.
type setUpKey struct {
	uid      int
	limits   stamp.Limits
	outbound bool
}

func equalLimits(a, b *stamp.Limits) bool {
	return a == b || a != nil && b != nil && *a == *b
}

// confine has spec's process run as t's: as its user, in its cgroup
// before it runs any code of its own, which it joins itself where setUp
// let it (t.join), and the driver puts it in otherwise.
func (d *Driver) confine(t *tenant, spec *spawnSpec) {
	t.mu.Lock()
	defer t.mu.Unlock()
	spec.uid = t.state.UID
	switch {
	case len(t.join) > 0:
		spec.join = t.join
	case d.cfg.Cgroups != nil && d.cfg.Cgroups.Mode() != cgroup.ModeNone:
		spec.enter = func(pid int) error { return d.cfg.Cgroups.Add(t.name, pid) }
	}
	if t.state.Addr != "" {
		spec.start = func(cmd *exec.Cmd) error { return d.cfg.Network.Start(t.name, cmd) }
	}
}

// host is the address t's instances listen on and are reached at: in
// its network namespace, or the host's loopback.
func (t *tenant) host() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.hostLocked()
}

// ownNetwork reports whether t runs in a network namespace of its own.
func (t *tenant) ownNetwork() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state.Addr != ""
}

// hostLocked is host with t.mu held.
func (t *tenant) hostLocked() string {
	if t.state.Addr != "" {
		return t.state.Addr
	}
	return "127.0.0.1"
}

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

// uidOf is the user tenant runs as (see recordedUID), whether this
// Driver holds it or not.
func (d *Driver) uidOf(tenant string) int {
	if t := d.tenantIfKnown(tenant); t != nil {
		return t.recordedUID()
	}
	return d.newTenant(tenant).recordedUID()
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

// oomKills is the count of out-of-memory kills in tenant's cgroup, 0
// without cgroups or on an error (which only loses the cause of an exit).
func (d *Driver) oomKills(tenant string) uint64 {
	if d.cfg.Cgroups == nil {
		return 0
	}
	n, err := d.cfg.Cgroups.OOMKills(tenant)
	if err != nil {
		d.log.Warn("read out-of-memory kills", "tenant", tenant, "err", err)
	}
	return n
}

// mib says a memory limit in force in MiB.
func mib(l *stamp.Limits) string {
	if l == nil || l.Memory == 0 {
		return "none in force"
	}
	return strconv.FormatInt(l.Memory>>20, 10) + " MiB"
}
