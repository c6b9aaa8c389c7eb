package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	localdriver "github.com/stamphq/stamp/driver/local"
	sqlitestore "github.com/stamphq/stamp/store/sqlite"
)

// TestGarbageCollector plants an orphan of each kind the local driver
// and the SQLite engine hold (a marked process, a runtime directory, a
// database directory) beside a real tenant: gc --dry-run lists them and
// removes nothing, gc removes exactly them, and the tenant serves on.
// Too many orphans at once are refused unless --force.
func TestGarbageCollector(t *testing.T) {
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", blueprintDir(t))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger")
	local, err := filepath.Abs(filepath.Join(s.data, "local"))
	if err != nil {
		t.Fatal(err)
	}
	proc := exec.Command("sleep", "600")
	proc.Env = append(os.Environ(), "STAMP_INSTANCE="+local+"|ghostproc/web-0@1.0.0")
	proc.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { proc.Wait(); close(exited) }()
	t.Cleanup(func() { proc.Process.Kill(); <-exited })
	plant := func(paths ...string) {
		t.Helper()
		for _, p := range paths {
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("left behind"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	ghostDir := filepath.Join(local, "tenants", "ghostdir")
	ghostDB := filepath.Join(s.data, "databases", "ghostdb")
	plant(filepath.Join(ghostDir, "data", "file"), filepath.Join(ghostDB, "main.db"))

	out := s.mustCLI("gc", "--dry-run")
	for _, want := range []string{`runtime\s+ghostproc\s+-\s+would remove`, `runtime\s+ghostdir\s+-\s+would remove`, `database\s+ghostdb\s+sqlite\s+would remove`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("gc --dry-run lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "acme") {
		t.Errorf("gc --dry-run would remove acme:\n%s", out)
	}
	if _, err := os.Stat(ghostDir); err != nil {
		t.Fatalf("a dry run removed %s: %v", ghostDir, err)
	}

	out = s.mustCLI("gc")
	if n := strings.Count(out, "removed"); n != 3 || strings.Contains(out, "acme") {
		t.Errorf("gc removed %d things, want the 3 orphans:\n%s", n, out)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Errorf("the orphan process still runs")
	}
	for _, p := range []string{ghostDir, ghostDB} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s is still there", p)
		}
	}
	if code, body := s.do("GET", "acme", "/healthz", ""); code != 200 {
		t.Errorf("acme after gc: %d %s", code, body)
	}
	if out := s.mustCLI("gc"); !strings.Contains(out, "nothing to collect") {
		t.Errorf("a second gc:\n%s", out)
	}

	// More orphans than a tenth of what is held, and 3: the wrong store?
	for _, name := range []string{"lost1", "lost2", "lost3", "lost4"} {
		plant(filepath.Join(local, "tenants", name, "data", "file"))
	}
	_, errOut, code := s.cli("gc")
	if code == 0 || !strings.Contains(errOut, "4 of the 5 runtimes the driver holds belong to no tenant the store knows") {
		t.Errorf("gc of many orphans: exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(local, "tenants", "lost1")); err != nil {
		t.Errorf("a refused gc removed something: %v", err)
	}
	if out := s.mustCLI("gc", "--force"); strings.Count(out, "removed") != 4 {
		t.Errorf("gc --force:\n%s", out)
	}
	if _, err := s.client().GetTenant(context.Background(), "acme"); err != nil {
		t.Errorf("acme after gc --force: %v", err)
	}
}

// TestGarbageCollectorAfterStoreLoss: a tenant whose record the store
// lost (put back to an older copy) leaves a running runtime: processes,
// ports (or a network namespace), directories, a database. gc removes
// every part of it, and its address answers as for no tenant.
func TestGarbageCollectorAfterStoreLoss(t *testing.T) {
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", blueprintDir(t))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger")
	s.mustCLI("tenant", "create", "victim", "--blueprint", "ledger")
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(s.data, "stamp.db"))
	if err != nil {
		t.Fatal(err)
	}
	victim, err := st.GetTenant(ctx, "victim")
	if err == nil {
		err = st.DeleteTenant(ctx, "victim", victim.ResourceVersion)
	}
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(s.data, "local")
	held := func() (ports int) {
		t.Helper()
		owners, err := localdriver.ReadPorts(local)
		if err != nil {
			t.Fatal(err)
		}
		for _, owner := range owners {
			if strings.HasPrefix(owner, "victim/") {
				ports++
			}
		}
		return ports
	}
	// With a network namespace of its own (as root), a tenant listens
	// on its declared port there and holds none of the host's registry.
	ports := held()
	out := s.mustCLI("gc")
	for _, want := range []string{`runtime\s+victim\s+-\s+removed`, `database\s+victim\s+sqlite\s+removed`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("gc lacks %q:\n%s", want, out)
		}
	}
	for _, p := range tenantProcesses(t, s.data) {
		if p.tenant == "victim" {
			t.Errorf("process %d of the lost tenant still runs", p.pid)
		}
	}
	if n := held(); n != 0 {
		t.Errorf("the lost tenant still holds %d of its %d ports", n, ports)
	}
	for _, p := range []string{filepath.Join(local, "tenants", "victim"), filepath.Join(s.data, "databases", "victim")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s is still there", p)
		}
	}
	if code, body := s.do("GET", "victim", "/healthz", ""); code != 404 {
		t.Errorf("the lost tenant's address: %d %s", code, body)
	}
	if code, _ := s.do("GET", "acme", "/healthz", ""); code != 200 {
		t.Errorf("acme after gc: %d", code)
	}
}
