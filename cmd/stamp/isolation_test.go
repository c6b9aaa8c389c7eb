package main

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/driver/local/cgroup"
	"github.com/stamphq/stamp/driver/local/netns"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("tenants get users of their own only under a server run as root")
	}
}

// count returns how many objects GET path of tenant lists.
func (s *stampServer) count(tenant, path string) int {
	s.t.Helper()
	code, body := s.do("GET", tenant, path, "")
	var list []json.RawMessage
	if err := json.Unmarshal([]byte(body), &list); code != http.StatusOK || err != nil {
		s.t.Fatalf("GET %s of %s: %d %s (%v)", path, tenant, code, body, err)
	}
	return len(list)
}

// tenantUID returns the Unix user the server gave tenant.
func (s *stampServer) tenantUID(name string) int {
	s.t.Helper()
	var tenant stamp.Tenant
	if err := json.Unmarshal([]byte(s.mustCLI("tenant", "get", name, "-o", "json")), &tenant); err != nil {
		s.t.Fatal(err)
	}
	if tenant.Status.UID == 0 {
		s.t.Fatalf("tenant %s has no user of its own", name)
	}
	return tenant.Status.UID
}

// asUser runs the shell command script as uid (and its group, no others),
// the way a tenant's process runs, and returns its combined output.
func asUser(t *testing.T, uid int, script string) string {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid), Groups: []uint32{}}}
	cmd.Dir = "/"
	out, _ := cmd.CombinedOutput()
	return strings.TrimSpace(string(out))
}

// TestAppDataInWorkingDirIsPerTenant runs the example app the way an app
// that keeps its data "next to it" does: its database is a file relative
// to its working directory. Each tenant's working directory is its own,
// so two tenants of one version never share the file, one tenant cannot
// read the other's files, database or environment nor write into the
// bundle, and the data goes with the tenant.
func TestAppDataInWorkingDirIsPerTenant(t *testing.T) {
	requireRoot(t)
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", blueprintDir(t, `DATABASE_URL: ${db.main.url}`, `DATABASE_URL: sqlite:ledger.db`))
	for _, name := range []string{"acme", "globex"} {
		s.mustCLI("tenant", "create", name, "--blueprint", "ledger", "--param", "admin_email=admin@"+name+".test")
	}
	if code, body := s.do("POST", "acme", "/api/customers", `{"name":"Wile E.","email":"wile@acme.test"}`); code != http.StatusCreated {
		t.Fatalf("POST customer to acme: %d %s", code, body)
	}
	for tenant, want := range map[string]int{"acme": 1, "globex": 0} {
		if got := s.count(tenant, "/api/customers"); got != want {
			t.Errorf("%s has %d customers, want %d (one file shared by both tenants?)", tenant, got, want)
		}
	}
	tenantDir := func(name string) string { return filepath.Join(s.data, "local", "tenants", name) }
	acmeUID, globexUID := s.tenantUID("acme"), s.tenantUID("globex")
	if acmeUID == globexUID {
		t.Fatalf("acme and globex share uid %d", acmeUID)
	}
	for name, uid := range map[string]int{"acme": acmeUID, "globex": globexUID} {
		fi, err := os.Stat(filepath.Join(tenantDir(name), "data", "ledger.db"))
		if err != nil {
			t.Fatalf("%s's database in its working directory: %v", name, err)
		}
		if got := int(fi.Sys().(*syscall.Stat_t).Uid); got != uid {
			t.Errorf("%s's ledger.db belongs to uid %d, want %d", name, got, uid)
		}
	}

	// What acme's user may not do to globex, nor to the bundle.
	var globexPID int
	for _, p := range tenantProcesses(t, s.data) {
		if p.tenant == "globex" {
			globexPID = p.pid
		}
	}
	bundles, _ := filepath.Glob(filepath.Join(s.data, "local", "bundles", "*", "bin", "ledger"))
	if globexPID == 0 || len(bundles) == 0 {
		t.Fatalf("globex's process (%d) or the bundle (%v) not found", globexPID, bundles)
	}
	for what, script := range map[string]string{
		"read globex's database":    "cat " + filepath.Join(tenantDir("globex"), "data", "ledger.db"),
		"list globex's data":        "ls " + filepath.Join(tenantDir("globex"), "data"),
		"read globex's environment": "cat /proc/" + strconv.Itoa(globexPID) + "/environ",
		"read globex's logs":        "ls " + filepath.Join(tenantDir("globex"), "logs"),
		"read the store":            "cat " + filepath.Join(s.data, "stamp.db"),
		"read the admin token":      "cat " + filepath.Join(s.data, adminTokenFile),
		"write into the bundle":     "echo x > " + filepath.Join(filepath.Dir(bundles[0]), "x"),
		"overwrite the app binary":  "echo x > " + bundles[0],
	} {
		if out := asUser(t, acmeUID, script); !strings.Contains(out, "Permission denied") {
			t.Errorf("acme's user trying to %s: got %q, want Permission denied", what, out)
		}
	}

	s.mustCLI("tenant", "delete", "acme")
	waitFor(t, "acme to be gone", 30*time.Second, func() bool {
		_, _, code := s.cli("tenant", "get", "acme")
		return code != 0
	})
	if _, err := os.Stat(tenantDir("acme")); !os.IsNotExist(err) {
		t.Errorf("acme's directory after delete: %v", err)
	}
	if pids := liveProcesses(acmeUID); len(pids) > 0 {
		t.Errorf("processes of acme's uid after delete: %v", pids)
	}
	if code, _ := s.do("GET", "globex", "/api/customers", ""); code != http.StatusOK {
		t.Errorf("globex after acme's delete: %d", code)
	}
}

// TestServerCheck runs `stamp server --check`: one line per part of the
// isolation the host allows, and where the master key comes from, with
// nothing started; a bad --tenant-uids is refused with the flag named.
func TestServerCheck(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	passable(t, filepath.Dir(data))
	out, err := exec.Command(stampBin, "server", "--check", "--data", data, "--tenant-uids", "300000-300999").CombinedOutput()
	if err != nil {
		t.Fatalf("server --check: %v\n%s", err, out)
	}
	want := []string{"secrets: sealed at rest (AES-256-GCM) under a key file " + filepath.Join(data, "master.key") + " made at first start"}
	if os.Geteuid() == 0 {
		want = append(want, "users: one per tenant from 300000-300999 (1000)")
	} else {
		want = append(want, "users: off: the server runs as uid")
	}
	for _, w := range want {
		if !strings.Contains(string(out), w) {
			t.Errorf("server --check output lacks %q:\n%s", w, out)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "master.key")); !os.IsNotExist(err) {
		t.Errorf("server --check made the key file: %v", err)
	}
	out, err = exec.Command(stampBin, "server", "--check", "--data", data, "--tenant-uids", "5-1").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `--tenant-uids "5-1": want MIN-MAX`) {
		t.Errorf("server --check with a bad range: %v\n%s", err, out)
	}
}

// releaseHost removes what a server on data made on the host beside its
// data dir, once its tenants' processes are gone: network namespaces
// (their mounts would keep the test's directory from being removed),
// their nftables tables, and cgroups.
func releaseHost(t *testing.T, data string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return
	}
	abs, _ := filepath.Abs(data)
	if m, err := netns.New(netns.Config{Dir: netnsDir(abs), Net: netip.MustParsePrefix("100.64.0.0/10")}); err == nil {
		names, _ := m.List()
		for _, n := range names {
			if err := m.Remove(n, 0); err != nil {
				t.Logf("remove the namespace of %s: %v", n, err)
			}
		}
		m.Destroy()
	}
	h := cgroup.Open(cgroupParent(abs))
	names, _ := h.List()
	for _, n := range names {
		if err := h.Remove(n); err != nil {
			t.Logf("remove the cgroup of %s: %v", n, err)
		}
	}
	for _, c := range []string{"memory", "cpu", "cpuacct", "pids", ""} {
		os.Remove(filepath.Join("/sys/fs/cgroup", c, cgroupParent(abs)))
	}
}
