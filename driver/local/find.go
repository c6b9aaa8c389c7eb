package local

import (
	"bytes"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/stamphq/stamp/driver/local/cgroup"
)

// How the driver finds a tenant's processes. Each carries its marker
// (markerVar) in its environment, which survives a crash of the control
// plane and a child's escape from its process group (setsid). Reading the
// environment of every process on the host, for every tenant, made
// deleting a fleet quadratic: 1,000 tenants took 285s to delete, each
// remove reading /proc/<pid>/environ of every process several times
// (issue 15). So the environment is read only of the processes that can
// be the tenant's, found in the narrowest place the host offers (see
// candidates), once per call.

// marked is a live process carrying a driver's marker.
type marked struct {
	pid  int
	id   string // "<tenant>/<id>"
	stat procStat
}

// scanMarked lists the live processes on the host whose marker names
// root: every tenant's. Processes it may not read are not its driver's,
// which runs as the same user or as root. Only Tenants needs every
// tenant's.
func scanMarked(root string) []marked {
	return readMarked(allPIDs(), root, "")
}

// readMarked lists those of pids that live and carry a marker naming
// root and, if tenant is not empty, tenant, read from
// /proc/<pid>/environ (the environment they were started with), by pid.
func readMarked(pids []int, root, tenant string) []marked {
	prefix := []byte(markerVar + "=" + root + "|")
	self := os.Getpid()
	var found []marked
	for _, pid := range pids {
		if pid == self {
			continue
		}
		env, err := readEnviron(pid)
		if err != nil {
			continue
		}
		id, ok := lookupEnv(env, prefix)
		if !ok || (tenant != "" && !bytes.HasPrefix(id, []byte(tenant+"/"))) {
			continue
		}
		if st, err := readStat(pid); err == nil && !st.dead() {
			found = append(found, marked{pid: pid, id: string(id), stat: st})
		}
	}
	slices.SortFunc(found, func(a, b marked) int { return a.pid - b.pid })
	return found
}

// lookupEnv returns what follows prefix in the entry of env (entries
// ended by NULs, as /proc/<pid>/environ holds them) that starts with it.
func lookupEnv(env, prefix []byte) ([]byte, bool) {
	for i := 0; ; {
		j := bytes.Index(env[i:], prefix)
		if j < 0 {
			return nil, false
		}
		j += i
		if j == 0 || env[j-1] == 0 {
			value := env[j+len(prefix):]
			if end := bytes.IndexByte(value, 0); end >= 0 {
				value = value[:end]
			}
			return value, true
		}
		i = j + 1 // inside another entry's value
	}
}

// allPIDs lists the processes on the host.
func allPIDs() []int { return hostPIDs(func(string) bool { return true }) }

// hostPIDs lists the processes on the host that keep says to keep, given
// their directory in /proc.
func hostPIDs(keep func(dir string) bool) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && keep("/proc/"+e.Name()) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// userPIDs lists the processes whose real or effective user is uid, read
// from /proc/<pid>/status: unlike the owner of /proc/<pid>, it is right
// for a process whose memory may not be read.
func userPIDs(uid int) []int {
	want := strconv.Itoa(uid)
	return hostPIDs(func(dir string) bool {
		status, err := os.ReadFile(dir + "/status")
		if err != nil {
			return false
		}
		for line := range strings.Lines(string(status)) {
			if ids, ok := strings.CutPrefix(line, "Uid:"); ok {
				f := strings.Fields(ids)
				return len(f) >= 2 && (f[0] == want || f[1] == want)
			}
		}
		return false
	})
}

// inCgroups reports whether tenants' processes are put in cgroups.
func (d *Driver) inCgroups() bool {
	return d.cfg.Cgroups != nil && d.cfg.Cgroups.Mode() != cgroup.ModeNone
}

// candidates lists the processes that may be tenant's, whose user is uid
// (0: the driver's): with cgroups, those in its group, which holds every
// one of them (each is put there before it runs, and its children are
// born there); else, for a tenant with a user of its own, that user's;
// else every process on the host, the only place left to look.
func (d *Driver) candidates(tenant string, uid int) []int {
	if d.inCgroups() {
		pids, err := d.cfg.Cgroups.Procs(tenant)
		if err == nil {
			return pids
		}
		d.log.Warn("list a tenant's processes by its cgroup; looking through the host's", "tenant", tenant, "err", err)
	}
	if uid > 0 {
		return userPIDs(uid)
	}
	return allPIDs()
}

// markedOf lists the live processes carrying the marker of tenant, whose
// user is uid.
func (d *Driver) markedOf(tenant string, uid int) []marked {
	return readMarked(d.candidates(tenant, uid), d.dir, tenant)
}

// killMarked SIGKILLs, with their process groups, the processes of
// tenant (whose user is uid) marked as one of ids ("web-0@2",
// "task:migrate"), waits (bounded) until they are gone and returns their
// pids.
func (d *Driver) killMarked(tenant string, uid int, ids ...string) []int {
	var victims []marked
	for _, m := range d.markedOf(tenant, uid) {
		if slices.Contains(ids, strings.TrimPrefix(m.id, tenant+"/")) {
			victims = append(victims, m)
		}
	}
	return killAll(victims, true)
}

// killStray SIGKILLs, with their process groups, the processes anywhere
// on the host that carry the marker of tenant, which the driver has no
// directory of: what a runtime left that no user or cgroup of it can
// find (started under a server run without them). The look through every
// process is only for such leftovers, never for a tenant's delete.
func (d *Driver) killStray(tenant string) {
	killAll(readMarked(allPIDs(), d.dir, tenant), true)
}

// killTenant SIGKILLs every process of tenant, whose user is uid, and
// waits (bounded) until they are gone: with cgroups, everything in its
// group; with a user of its own, everything of that user; whatever a
// tenant left running, marked or not (a daemon that cleared its
// environment), ends with it. Without either, it kills the processes
// carrying its marker, with their process groups.
func (d *Driver) killTenant(tenant string, uid int) {
	var pids []int
	switch {
	case d.inCgroups():
		var err error
		if pids, err = d.cfg.Cgroups.Procs(tenant); err == nil {
			break
		}
		d.log.Warn("list a tenant's processes by its cgroup; looking through the host's", "tenant", tenant, "err", err)
		fallthrough
	case uid > 0:
		pids = userPIDs(uid)
	default:
		killAll(d.markedOf(tenant, uid), true)
		return
	}
	var victims []marked
	for _, pid := range pids {
		if st, err := readStat(pid); err == nil && !st.dead() && pid != os.Getpid() {
			victims = append(victims, marked{pid: pid, stat: st})
		}
	}
	killAll(victims, false)
}

// killAll SIGKILLs ms, with their process groups if groups, waits
// (bounded) until they are gone and returns their pids.
func killAll(ms []marked, groups bool) []int {
	var pids []int
	for _, m := range ms {
		if groups {
			killGroup(m)
		} else {
			syscall.Kill(m.pid, syscall.SIGKILL)
		}
		pids = append(pids, m.pid)
	}
	for _, m := range ms {
		(&proc{pid: m.pid, start: m.stat.start}).waitFor(killWait)
	}
	return pids
}

// killGroup SIGKILLs m and its process group, never the driver's own.
func killGroup(m marked) {
	if m.stat.pgrp > 0 && m.stat.pgrp != syscall.Getpgrp() {
		syscall.Kill(-m.stat.pgrp, syscall.SIGKILL)
	}
	syscall.Kill(m.pid, syscall.SIGKILL)
}
