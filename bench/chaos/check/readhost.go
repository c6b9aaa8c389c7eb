package check

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/driver/local"
)

// HostConfig says where ReadHost looks for one server's tenants.
type HostConfig struct {
	// Data is the server's data dir, absolute: its processes' markers
	// name it.
	Data string
	// UIDMin and UIDMax are the server's --tenant-uids; both 0 when its
	// tenants run as its own user.
	UIDMin, UIDMax int
	// CgroupParent is where the server's driver makes its tenants'
	// cgroups under each hierarchy (cgroup.ParentOf); empty for none.
	CgroupParent string
	// CgroupRoot and NetDir are where the hierarchies are mounted and
	// the network interfaces listed: /sys/fs/cgroup and /sys/class/net
	// when empty.
	CgroupRoot, NetDir string
}

// ReadHost reads what the server of cfg and its tenants hold on this
// host. A process that exits while it is read is left out.
func ReadHost(cfg HostConfig) (Host, error) {
	var h Host
	var err error
	if h.Procs, err = readProcs(cfg); err != nil {
		return h, err
	}
	localDir := filepath.Join(cfg.Data, "local")
	if h.Drivers, err = readDrivers(filepath.Join(localDir, "tenants")); err != nil {
		return h, err
	}
	if h.Ports, err = local.ReadPorts(localDir); err != nil {
		return h, err
	}
	if h.DatabaseDirs, err = dirNames(filepath.Join(cfg.Data, "databases"), true); err != nil {
		return h, err
	}
	if h.Namespaces, err = dirNames(filepath.Join(localDir, "netns"), false); err != nil {
		return h, err
	}
	if h.Cgroups, err = readCgroups(cfg); err != nil {
		return h, err
	}
	if h.Links, err = readLinks(cfg); err != nil {
		return h, err
	}
	return h, nil
}

// readProcs lists the live processes that carry the marker of cfg.Data's
// driver or run as a user of the tenant range.
func readProcs(cfg HostConfig) ([]Proc, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	prefix := []byte("STAMP_INSTANCE=" + filepath.Join(cfg.Data, "local") + "|")
	var procs []Proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, ok := readProc(pid, prefix, cfg.Data)
		if ok && (p.Marker != "" || p.Dir != "" || cfg.UIDMax > 0 && p.UID >= cfg.UIDMin && p.UID <= cfg.UIDMax) {
			procs = append(procs, p)
		}
	}
	return procs, nil
}

// readProc reads pid's user, session, start time, marker and where it
// works or runs from under data; false if it is gone or a zombie.
func readProc(pid int, prefix []byte, data string) (Proc, bool) {
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return Proc{}, false
	}
	// The command name (field 2) may hold spaces and parentheses: fields
	// are counted after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return Proc{}, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return Proc{}, false
	}
	p := Proc{PID: pid}
	p.Session, _ = strconv.Atoi(f[3])
	p.Start, _ = strconv.ParseUint(f[19], 10, 64)
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return Proc{}, false
	}
	for line := range strings.Lines(string(status)) {
		if ids, ok := strings.CutPrefix(line, "Uid:"); ok {
			if fields := strings.Fields(ids); len(fields) > 0 {
				p.UID, _ = strconv.Atoi(fields[0])
			}
			break
		}
	}
	env, err := os.ReadFile(filepath.Join(dir, "environ"))
	if err != nil {
		return Proc{}, false
	}
	for kv := range bytes.SplitSeq(env, []byte{0}) {
		if rest, ok := bytes.CutPrefix(kv, prefix); ok {
			p.Marker = string(rest)
			break
		}
	}
	for _, link := range []string{"cwd", "exe"} {
		if target, err := os.Readlink(filepath.Join(dir, link)); err == nil && strings.HasPrefix(target, data+"/") {
			p.Dir = target
			break
		}
	}
	return p, true
}

// readDrivers reads the state and task records of every tenant directory
// under dir.
func readDrivers(dir string) (map[string]*DriverState, error) {
	names, err := dirNames(dir, true)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*DriverState, len(names))
	for _, name := range names {
		var st DriverState
		found, err := readJSON(filepath.Join(dir, name, "state.json"), &st)
		if err != nil {
			return nil, err
		}
		paths, err := filepath.Glob(filepath.Join(dir, name, "tasks", "*.json"))
		if err != nil {
			return nil, err
		}
		for _, p := range paths {
			var task Task
			if _, err := readJSON(p, &task); err != nil {
				return nil, err
			}
			st.Tasks = append(st.Tasks, task)
		}
		if found || len(st.Tasks) > 0 {
			out[name] = &st
		} else {
			out[name] = nil
		}
	}
	return out, nil
}

// readCgroups lists the groups under cfg.CgroupParent in each hierarchy
// (cgroup v1) and in the unified one (v2) as "<hierarchy>/<name>".
func readCgroups(cfg HostConfig) ([]string, error) {
	if cfg.CgroupParent == "" {
		return nil, nil
	}
	root := cfg.CgroupRoot
	if root == "" {
		root = "/sys/fs/cgroup"
	}
	parents, err := filepath.Glob(filepath.Join(root, "*", cfg.CgroupParent))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, parent := range append([]string{filepath.Join(root, cfg.CgroupParent)}, parents...) {
		names, err := dirNames(parent, true)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(root, parent)
		hierarchy, _, _ := strings.Cut(rel, "/")
		if rel == cfg.CgroupParent {
			hierarchy = "unified"
		}
		for _, n := range names {
			out = append(out, hierarchy+"/"+n)
		}
	}
	return out, nil
}

// readLinks lists the host's interfaces stv<uid> and stp<uid> of a uid in
// the tenant range.
func readLinks(cfg HostConfig) ([]string, error) {
	if cfg.UIDMax == 0 {
		return nil, nil
	}
	dir := cfg.NetDir
	if dir == "" {
		dir = "/sys/class/net"
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, hostLinkPrefix) && !strings.HasPrefix(name, peerLinkPrefix) {
			continue
		}
		if uid, err := strconv.Atoi(name[len(hostLinkPrefix):]); err == nil && uid >= cfg.UIDMin && uid <= cfg.UIDMax {
			out = append(out, name)
		}
	}
	return out, nil
}

// dirNames lists the entries of dir named as a tenant may be (what
// else the driver keeps there, such as a file being written, is not a
// tenant's), sorted; with dirsOnly, only directories. A missing dir has
// none.
func dirNames(dir string, dirsOnly bool) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		if (e.IsDir() || !dirsOnly) && stamp.ValidateName("tenant", e.Name()) == nil {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// readJSON decodes the file at path into v: false, and no error, if it is
// missing.
func readJSON(path string, v any) (bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("decode %s: %w", path, err)
	}
	return true, nil
}
