package check

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
)

// writeFile writes content to path under dir, making its directories.
func writeFile(t *testing.T, dir, path, content string) {
	t.Helper()
	p := filepath.Join(dir, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestReadHost(t *testing.T) {
	dir := t.TempDir()
	data, cgroups, net := filepath.Join(dir, "data"), filepath.Join(dir, "cgroup"), filepath.Join(dir, "net")
	writeFile(t, data, "local/tenants/a/state.json", `{"runtime": {"revision": "2.0.0", "tenant": "a"}, "uid": 7000001, "instances": [
		{"id": "web-0@2.0.0", "service": "web", "revision": "2.0.0", "port": 20001, "hash": "x", "pid": 100, "startTime": 5000}]}`)
	writeFile(t, data, "local/tenants/a/tasks/seed.json", `{"name": "seed", "pid": 95, "startTime": 4500, "exitCode": 0}`)
	writeFile(t, data, "local/tenants/a/tasks/seed.log", "seeded")
	writeFile(t, data, "local/tenants/gone/logs/web-0@1.0.0.log", "")
	writeFile(t, data, "local/tenants/.state.json.tmp-1", "")
	writeFile(t, data, "local/ports.journal", "stamp ports journal 1\n+20001 a/web-0@2.0.0\n+20002 a/web-1@2.0.0\n-20002\n")
	writeFile(t, data, "local/netns/a", "")
	writeFile(t, data, "databases/a/main.db", "")
	writeFile(t, cgroups, "memory/stamp/0a1b2c3d/a/memory.limit_in_bytes", "")
	writeFile(t, cgroups, "memory/stamp/0a1b2c3d/cgroup.procs", "")
	writeFile(t, cgroups, "pids/stamp/0a1b2c3d/gone/pids.max", "")
	writeFile(t, cgroups, "pids/stamp/ffffffff/other/pids.max", "")
	for _, link := range []string{"eth0", "lo", "stv7000001", "stp7000002", "stv200000", "stv7001000"} {
		writeFile(t, net, link+"/ifindex", "")
	}

	// A real process carrying the marker of the data dir's driver.
	cmd := exec.Command("sleep", "60")
	cmd.Env = []string{"STAMP_INSTANCE=" + filepath.Join(data, "local") + "|a/web-0@2.0.0"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})

	// An unmarked one working in a tenant's directory.
	work := filepath.Join(data, "local", "tenants", "a", "data")
	if err := os.MkdirAll(work, 0o700); err != nil {
		t.Fatal(err)
	}
	unmarked := exec.Command("sleep", "60")
	unmarked.Dir = work
	if err := unmarked.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		unmarked.Process.Kill()
		unmarked.Wait()
	})

	cfg := HostConfig{Data: data, UIDMin: 7000000, UIDMax: 7000999, CgroupParent: "stamp/0a1b2c3d", CgroupRoot: cgroups, NetDir: net}
	var h Host
	var err error
	// The child's environment is its own only once it has run exec.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if h, err = ReadHost(cfg); err != nil || len(h.Procs) == 2 && h.Procs[0].Marker+h.Procs[1].Marker != "" {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	procs := map[int]Proc{}
	for _, p := range h.Procs {
		procs[p.PID] = p
	}
	if p := procs[cmd.Process.Pid]; len(procs) != 2 || p.Marker != "a/web-0@2.0.0" || p.UID != os.Getuid() || p.Start == 0 || p.Dir != "" {
		t.Errorf("Procs: got %+v, want pid %d with marker a/web-0@2.0.0, uid %d, a start time and no dir under the data dir, and one more",
			h.Procs, cmd.Process.Pid, os.Getuid())
	}
	if p := procs[unmarked.Process.Pid]; p.Marker != "" || p.Dir != work {
		t.Errorf("Procs: got %+v, want pid %d without a marker, working in %s", h.Procs, unmarked.Process.Pid, work)
	}
	a := h.Drivers["a"]
	if a == nil || a.UID != 7000001 || a.Runtime == nil || a.Runtime.Revision != "2.0.0" ||
		!reflect.DeepEqual(a.Instances, []Instance{{ID: "web-0@2.0.0", Revision: "2.0.0", Port: 20001, PID: 100, StartTime: 5000}}) ||
		!reflect.DeepEqual(a.Tasks, []Task{{Name: "seed", PID: 95, StartTime: 4500}}) {
		t.Errorf("Drivers[a]: got %+v", a)
	}
	if st, ok := h.Drivers["gone"]; !ok || st != nil || len(h.Drivers) != 2 {
		t.Errorf("Drivers: got %v, want a and gone (without a state)", h.Drivers)
	}
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"Ports", h.Ports, map[int]string{20001: "a/web-0@2.0.0"}},
		{"DatabaseDirs", h.DatabaseDirs, []string{"a"}},
		{"Namespaces", h.Namespaces, []string{"a"}},
		{"Cgroups", slices.Sorted(slices.Values(h.Cgroups)), []string{"memory/a", "pids/gone"}},
		{"Links", h.Links, []string{"stp7000002", "stv7000001"}},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
		}
	}
}
