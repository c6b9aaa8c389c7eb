package local

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/driver/local/cgroup"
	"github.com/stamphq/stamp/driver/local/netns"
)

// nextUID hands each test tenant a user of its own, in a block of this
// test process's: test binaries of other packages run beside this one on
// the host and must never share a tenant's uid.
var nextUID atomic.Int64

func testUID() int {
	return 3_000_000 + (os.Getpid()%10_000)*100 + int(nextUID.Add(1))
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("running tenants as users of their own needs root")
	}
}

// reachableDir is newDir made passable by other users, as a data dir of a
// server that isolates tenants is (t.TempDir makes 0700 directories).
func reachableDir(t *testing.T) string {
	t.Helper()
	dir := newDir(t)
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// ask has a tenant's instance at endpoint try what path says (see the
// test app's /read, /write, /connect) and returns its answer.
func ask(t *testing.T, endpoint, path string, args url.Values) string {
	t.Helper()
	body, err := fetch(endpoint, path+"?"+args.Encode())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return strings.TrimSpace(body)
}

// TestTenantsRunAsTheirOwnUsers runs two tenants as users of their own and
// has one try to reach into the other and into the bundle they share.
func TestTenantsRunAsTheirOwnUsers(t *testing.T) {
	requireRoot(t)
	dir := reachableDir(t)
	d := open(t, dir)
	uids := map[string]int{"acme": testUID(), "globex": testUID()}
	eps := map[string]string{}
	for name, uid := range uids {
		rt := runtime(name, web(1, "serve"))
		rt.UID = uid
		apply(t, d, rt)
		eps[name] = running(t, d, name, "web", 1)[0].Endpoint
		waitHealthy(t, eps[name])
	}
	acme, globex := eps["acme"], eps["globex"]
	acmeData := filepath.Join(dir, "tenants", "acme", "data")
	globexDir := filepath.Join(dir, "tenants", "globex")
	globexPID := running(t, d, "globex", "web", 1)[0].PID

	if got, want := ask(t, acme, "/id", nil), "uid="+strconv.Itoa(uids["acme"])+" gid="+strconv.Itoa(uids["acme"])+" groups=[] wd="+acmeData; got != want {
		t.Errorf("acme's process: got %q, want %q", got, want)
	}
	if got := ask(t, globex, "/write", url.Values{"path": {"secret.txt"}, "data": {"globex only"}}); got != "ok" {
		t.Fatalf("globex writing into its working directory: %s", got)
	}
	if got := ask(t, acme, "/write", url.Values{"path": {"mine.txt"}, "data": {"acme"}}); got != "ok" {
		t.Fatalf("acme writing into its working directory: %s", got)
	}
	fi, err := os.Stat(filepath.Join(acmeData, "mine.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; int(uid) != uids["acme"] {
		t.Errorf("acme's file belongs to uid %d, want %d", uid, uids["acme"])
	}

	bundleFile := filepath.Join(dir, "bundles", strings.TrimPrefix(app.ref.Digest, "sha256:"), "bin", "app")
	for _, tt := range []struct{ what, path, action string }{
		{"read globex's data", filepath.Join(globexDir, "data", "secret.txt"), "/read"},
		{"list globex's directory", filepath.Join(globexDir, "data"), "/read"},
		{"read globex's driver state", filepath.Join(globexDir, "state.json"), "/read"},
		{"read globex's environment", "/proc/" + strconv.Itoa(globexPID) + "/environ", "/read"},
		{"write into globex's data", filepath.Join(globexDir, "data", "x"), "/write"},
		{"write into the bundle", filepath.Join(filepath.Dir(bundleFile), "x"), "/write"},
		{"overwrite the bundle's binary", bundleFile, "/write"},
	} {
		got := ask(t, acme, tt.action, url.Values{"path": {tt.path}, "data": {"x"}})
		if !strings.Contains(got, "permission denied") {
			t.Errorf("acme trying to %s: got %q, want permission denied", tt.what, got)
		}
	}

	if err := d.Remove(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	if procs := userPIDs(uids["acme"]); len(procs) > 0 {
		t.Errorf("processes of acme's uid after Remove: %v", procs)
	}
	if _, err := os.Stat(filepath.Join(dir, "tenants", "acme")); !os.IsNotExist(err) {
		t.Errorf("acme's directory after Remove: %v", err)
	}
	if got := ask(t, globex, "/read", url.Values{"path": {"secret.txt"}}); got != "ok globex only" {
		t.Errorf("globex's data after acme's removal: %q", got)
	}
}

// TestTaskRunsAsTheTenant runs a hook as the tenant's user, in its data
// directory, and checks that the exit code it leaves is read back.
func TestTaskRunsAsTheTenant(t *testing.T) {
	requireRoot(t)
	dir := reachableDir(t)
	d := open(t, dir)
	uid := testUID()
	res, err := d.RunTask(context.Background(), "acme", &stamp.Task{
		Name: "seed", Bundle: app.ref, UID: uid,
		Command: command("append", stamp.InstanceVar(stamp.VarTenantDir)+"/seeded"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("task: exit code %d: %s", res.ExitCode, res.Output)
	}
	fi, err := os.Stat(filepath.Join(dir, "tenants", "acme", "data", "seeded"))
	if err != nil {
		t.Fatal(err)
	}
	if got := int(fi.Sys().(*syscall.Stat_t).Uid); got != uid {
		t.Errorf("the task's file belongs to uid %d, want %d", got, uid)
	}
}

// TestUnreachableDirIsRefused checks that a driver whose directory other
// users cannot pass through refuses to run a tenant as its own user,
// saying which directory to open, instead of starting processes that
// cannot reach their bundle.
func TestUnreachableDirIsRefused(t *testing.T) {
	requireRoot(t)
	dir := newDir(t) // 0700
	d := open(t, dir)
	rt := runtime("acme", web(1, "serve"))
	rt.UID = testUID()
	err := d.Apply(context.Background(), rt)
	if code := stamp.ErrorCode(err); code != stamp.EUNAVAILABLE || !strings.Contains(err.Error(), "does not let other users pass through") {
		t.Fatalf("got %v (code %q), want EUNAVAILABLE saying which directory to open", err, code)
	}
}

// TestDataSnapshotAndRestore snapshots a tenant's data directory, changes
// it, and restores it in place, keeping owners and modes; a restore of a
// snapshot never taken is ENOTFOUND.
func TestDataSnapshotAndRestore(t *testing.T) {
	requireRoot(t)
	dir := reachableDir(t)
	d := open(t, dir)
	uid := testUID()
	rt := runtime("acme", web(1, "serve"))
	rt.UID = uid
	apply(t, d, rt)
	ep := running(t, d, "acme", "web", 1)[0].Endpoint
	waitHealthy(t, ep)
	ctx := context.Background()
	data := filepath.Join(dir, "tenants", "acme", "data")
	if got := ask(t, ep, "/write", url.Values{"path": {"kept.txt"}, "data": {"before"}}); got != "ok" {
		t.Fatal(got)
	}
	if err := mkdirMode(filepath.Join(data, "sub"), 0o750, uid); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../kept.txt", filepath.Join(data, "sub", "link")); err != nil {
		t.Fatal(err)
	}
	if err := d.SnapshotData(ctx, "acme", "pre-upgrade"); err != nil {
		t.Fatal(err)
	}
	ask(t, ep, "/write", url.Values{"path": {"kept.txt"}, "data": {"after"}})
	ask(t, ep, "/write", url.Values{"path": {"new.txt"}, "data": {"new"}})
	if err := d.RestoreData(ctx, "acme", "pre-upgrade"); err != nil {
		t.Fatal(err)
	}
	if got := ask(t, ep, "/read", url.Values{"path": {"kept.txt"}}); got != "ok before" {
		t.Errorf("kept.txt after restore, read by the running app: %q, want %q", got, "ok before")
	}
	if got := ask(t, ep, "/read", url.Values{"path": {"new.txt"}}); !strings.Contains(got, "no such file") {
		t.Errorf("new.txt after restore: %q, want it gone", got)
	}
	if link, err := os.Readlink(filepath.Join(data, "sub", "link")); err != nil || link != "../kept.txt" {
		t.Errorf("link after restore: %q, %v", link, err)
	}
	for path, mode := range map[string]os.FileMode{"kept.txt": 0o600, "sub": 0o750} {
		fi, err := os.Lstat(filepath.Join(data, path))
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != uid || fi.Mode().Perm() != mode {
			t.Errorf("%s after restore: uid %d mode %04o, want uid %d mode %04o", path, st.Uid, fi.Mode().Perm(), uid, mode)
		}
	}
	err := d.RestoreData(ctx, "acme", "never-taken")
	if code := stamp.ErrorCode(err); code != stamp.ENOTFOUND {
		t.Errorf("restore of a snapshot never taken: got %v (code %q), want ENOTFOUND", err, code)
	}
}

// cgroups opens the host's cgroups under a parent of the test's own,
// removed when the test ends, or skips the test if there are none.
func cgroups(t *testing.T) *cgroup.Host {
	t.Helper()
	requireRoot(t)
	parent := fmt.Sprintf("stamptest/local-%d-%d", os.Getpid(), nextUID.Add(1))
	h := cgroup.Open(parent)
	if h.Mode() == cgroup.ModeNone {
		t.Skipf("no usable cgroups: %s", h.Problem())
	}
	t.Cleanup(func() {
		names, _ := h.List()
		for _, n := range names {
			h.Remove(n)
		}
		for _, c := range []string{"memory", "cpu", "cpuacct", "pids", ""} {
			os.Remove(filepath.Join("/sys/fs/cgroup", c, parent))
		}
	})
	return h
}

// TestOutOfMemoryIsRecorded runs a tenant limited to 64 MiB that
// allocates past it: the kernel kills it, the driver restarts it and says
// the exit was for memory, naming the limit; the tenant's processes (the
// new one included) are in its cgroup, which Remove deletes.
func TestOutOfMemoryIsRecorded(t *testing.T) {
	cfg := config(reachableDir(t))
	cfg.Cgroups = cgroups(t)
	d := openConfig(t, cfg)
	rt := runtime("acme", web(1, "serve"))
	rt.UID, rt.Limits = testUID(), stamp.Limits{Memory: 64 << 20, PIDs: 64}
	apply(t, d, rt)
	if got := observe(t, d, "acme").Limits; got == nil || *got != rt.Limits {
		t.Errorf("limits in force: got %+v, want %+v", got, rt.Limits)
	}
	first := running(t, d, "acme", "web", 1)[0]
	waitHealthy(t, first.Endpoint)
	fetch(first.Endpoint, "/alloc?mb=200") // the answer never comes: it is killed
	var so *stamp.ServiceObserved
	eventually(t, "the instance to be killed and restarted", func() bool {
		so = observe(t, d, "acme").Services["web"]
		return so.Restarts > 0 && len(so.Instances) == 1
	})
	if !so.LastExitOOM || !strings.HasPrefix(so.LastExit, "out of memory (limit 64 MiB): signal: killed") {
		t.Errorf("last exit: %q (oom %v), want out of memory (limit 64 MiB)", so.LastExit, so.LastExitOOM)
	}
	cg, err := os.ReadFile("/proc/" + strconv.Itoa(so.Instances[0].PID) + "/cgroup")
	if err != nil || !strings.Contains(string(cg), "/acme\n") {
		t.Errorf("the restarted instance's cgroups: %s (%v), want acme's", cg, err)
	}
	if err := d.Remove(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	if names, _ := cfg.Cgroups.List(); len(names) != 0 {
		t.Errorf("cgroups after Remove: %v", names)
	}
}

// TestTaskRunsInTheTenantsCgroup runs a task of a tenant with a user of
// its own and a cgroup: the task's process is in the group in every
// hierarchy before it runs the command (here, reads where it is).
func TestTaskRunsInTheTenantsCgroup(t *testing.T) {
	cfg := config(reachableDir(t))
	cfg.Cgroups = cgroups(t)
	d := openConfig(t, cfg)
	res, err := d.RunTask(context.Background(), "acme", &stamp.Task{
		Name: "where", Bundle: app.ref, UID: testUID(), Command: []string{"/bin/cat", "/proc/self/cgroup"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("task: exit code %d: %s", res.ExitCode, res.Output)
	}
	for _, c := range cfg.Cgroups.Controllers() {
		if !slices.ContainsFunc(strings.Split(res.Output, "\n"), func(line string) bool {
			return strings.HasSuffix(line, "/acme") && strings.Contains(line, c)
		}) {
			t.Errorf("the task's cgroups:\n%s\nwant acme's for %s", res.Output, c)
		}
	}
}

// network makes a network-namespace manager on a pool of the driver
// tests' own, whose rules go when the test ends.
func network(t *testing.T, dir string) *netns.Manager {
	t.Helper()
	requireRoot(t)
	m, err := netns.New(netns.Config{Dir: filepath.Join(dir, "netns"), Net: netip.MustParsePrefix("198.18.0.0/15")})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Available() {
		t.Skipf("no network namespaces: %s", m.Problem())
	}
	t.Cleanup(func() {
		names, _ := m.List()
		for _, n := range names {
			m.Remove(n, 0) // unmounted, a namespace goes with its interfaces
		}
		m.Destroy()
	})
	return m
}

// TestTenantsHaveNetworksOfTheirOwn runs two tenants in network
// namespaces: the host reaches each at its own address, neither reaches
// the other's port (at its address or on loopback), and Remove leaves no
// namespace or interface behind.
func TestTenantsHaveNetworksOfTheirOwn(t *testing.T) {
	dir := reachableDir(t)
	cfg := config(dir)
	cfg.Network = network(t, dir)
	d := openConfig(t, cfg)
	eps := map[string]string{}
	for _, name := range []string{"acme", "globex"} {
		rt := runtime(name, web(1, "serve"))
		rt.UID = testUID()
		apply(t, d, rt)
		eps[name] = running(t, d, name, "web", 1)[0].Endpoint
		waitHealthy(t, eps[name])
		if host, _, _ := net.SplitHostPort(eps[name]); !strings.HasPrefix(host, "198.1") {
			t.Errorf("%s's endpoint %s is not in its namespace", name, eps[name])
		}
	}
	_, globexPort, _ := net.SplitHostPort(eps["globex"])
	for _, addr := range []string{eps["globex"], "127.0.0.1:" + globexPort} {
		if got := ask(t, eps["acme"], "/connect", url.Values{"addr": {addr}}); got == "ok" {
			t.Errorf("acme reached globex at %s", addr)
		}
	}
	if lines, err := d.Exposed(context.Background(), "acme"); err != nil || len(lines) > 0 {
		t.Errorf("Exposed of a tenant with a network of its own: %q, %v", lines, err)
	}
	if err := d.Remove(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	if names, _ := cfg.Network.List(); len(names) != 1 || names[0] != "globex" {
		t.Errorf("namespaces after removing acme: %v", names)
	}
}

// TestNamespaceLeftByACrashIsRemoved makes a tenant's namespace as the
// driver would and dies before recording it: the next driver on the
// directory lists the tenant, and removing it leaves nothing behind.
func TestNamespaceLeftByACrashIsRemoved(t *testing.T) {
	dir := reachableDir(t)
	cfg := config(dir)
	cfg.Network = network(t, dir)
	uid := testUID()
	link, err := cfg.Network.Ensure("acme", uid, true)
	if err != nil {
		t.Fatal(err)
	}
	d := openConfig(t, cfg)
	if names, err := d.Tenants(context.Background()); err != nil || !slices.Contains(names, "acme") {
		t.Fatalf("Tenants: %v, %v; want acme", names, err)
	}
	if err := d.Remove(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	if names, _ := cfg.Network.List(); len(names) != 0 {
		t.Errorf("namespaces after Remove: %v", names)
	}
	eventually(t, "the interface "+link.HostIf+" to go with its namespace", func() bool {
		_, err := net.InterfaceByName(link.HostIf)
		return err != nil
	})
}

// TestDeclaredPortInANamespace checks who gets a service's declared port
// (8080) in the tenant's namespace: one instance at a time; a second
// replica and a new revision beside the old get ports of the range, and
// the port is free for the next revision once its holder is retired.
func TestDeclaredPortInANamespace(t *testing.T) {
	dir := reachableDir(t)
	cfg := config(dir)
	cfg.Network = network(t, dir)
	d := openConfig(t, cfg)
	port := func(ep string) string { _, p, _ := net.SplitHostPort(ep); return p }
	rt := runtime("acme", web(2, "serve"))
	rt.UID, rt.Revision = testUID(), "1"
	apply(t, d, rt)
	insts := running(t, d, "acme", "web", 2)
	if port(insts[0].Endpoint) != "8080" || port(insts[1].Endpoint) == "8080" {
		t.Errorf("endpoints of two replicas: %v, want web-0 on 8080 and web-1 on another", endpointsOf(insts))
	}
	for _, in := range insts {
		waitHealthy(t, in.Endpoint)
	}
	byRevision := func(rev string) []string {
		var out []string
		for _, in := range observe(t, d, "acme").Services["web"].Instances {
			if in.Revision == rev {
				out = append(out, port(in.Endpoint))
			}
		}
		slices.Sort(out)
		return out
	}
	next := *rt
	next.Revision, next.Services = "2", []stamp.Service{web(1, "serve")}
	apply(t, d, &next)
	if got := byRevision("2"); len(got) != 1 || got[0] == "8080" {
		t.Errorf("ports of revision 2 beside 1: %v, want one that is not 8080", got)
	}
	if err := d.Retire(context.Background(), "acme", "2"); err != nil {
		t.Fatal(err)
	}
	third := next
	third.Revision = "3"
	apply(t, d, &third)
	if got := byRevision("3"); len(got) != 1 || got[0] != "8080" {
		t.Errorf("ports of revision 3 once 1 is retired: %v, want 8080", got)
	}
	for name, owner := range readRegistry(t, dir) {
		if name == 8080 {
			t.Errorf("the declared port is in the host's port registry, held by %s", owner)
		}
	}
}

// TestRemoveTouchesNoOtherTenant removes a tenant with a user (and a
// cgroup) of its own while another tenant runs a process carrying the
// first one's marker, as any tenant can forge: Remove looks for the
// removed tenant's processes among its user's (in its cgroup) only, so
// that process runs on, and goes with its own tenant. A look through
// every process on the host, which made deleting a fleet quadratic, would
// have killed it.
func TestRemoveTouchesNoOtherTenant(t *testing.T) {
	for _, withCgroups := range []bool{false, true} {
		t.Run(fmt.Sprintf("cgroups=%v", withCgroups), func(t *testing.T) {
			requireRoot(t)
			dir := reachableDir(t)
			cfg := config(dir)
			if withCgroups {
				cfg.Cgroups = cgroups(t)
			}
			d := openConfig(t, cfg)
			uids := map[string]int{"acme": testUID(), "globex": testUID()}
			for name, uid := range uids {
				rt := runtime(name, web(1, "serve"))
				rt.UID = uid
				apply(t, d, rt)
			}
			acme := running(t, d, "acme", "web", 1)[0]
			acmeStat, err := readStat(acme.PID)
			if err != nil {
				t.Fatal(err)
			}

			forged := exec.Command("/bin/sleep", "600")
			forged.Env = []string{markerVar + "=" + d.marker("acme", "web-0")}
			forged.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: &syscall.Credential{Uid: uint32(uids["globex"]), Gid: uint32(uids["globex"])}}
			if err := forged.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { forged.Process.Kill(); forged.Wait() })
			if withCgroups {
				if err := cfg.Cgroups.Add("globex", forged.Process.Pid); err != nil {
					t.Fatal(err)
				}
			}
			st, err := readStat(forged.Process.Pid)
			if err != nil {
				t.Fatal(err)
			}

			if err := d.Remove(context.Background(), "acme"); err != nil {
				t.Fatal(err)
			}
			if alive(acme.PID, acmeStat.start) {
				t.Errorf("acme's web-0 (pid %d) runs after Remove", acme.PID)
			}
			if !alive(forged.Process.Pid, st.start) {
				t.Fatalf("globex's process carrying acme's marker (pid %d) was killed by acme's Remove", forged.Process.Pid)
			}
			if err := d.Remove(context.Background(), "globex"); err != nil {
				t.Fatal(err)
			}
			eventually(t, "globex's process to go with globex", func() bool { return !alive(forged.Process.Pid, st.start) })
		})
	}
}
