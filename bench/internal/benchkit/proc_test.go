package benchkit

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// exited reports whether p's Exited channel is closed.
func exited(p *Proc) bool {
	select {
	case <-p.Exited():
		return true
	default:
		return false
	}
}

// start starts cmd with StartProc and kills it when the test ends.
func start(t *testing.T, cmd *exec.Cmd) *Proc {
	t.Helper()
	p, err := StartProc(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

func TestProcStopAndKill(t *testing.T) {
	tests := []struct {
		name string
		end  func(*Proc)
		cmd  *exec.Cmd
	}{
		{"stop ends on SIGTERM", func(p *Proc) { p.Stop(time.Minute) }, helper("sleeper")},
		{"stop kills after the grace", func(p *Proc) { p.Stop(100 * time.Millisecond) }, helper("stubborn")},
		{"kill", (*Proc).Kill, helper("stubborn")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := start(t, tt.cmd)
			if exited(p) {
				t.Fatal("exited before it was asked to")
			}
			tt.end(p)
			if !exited(p) {
				t.Error("still running after it returned")
			}
		})
	}
}

func TestStartProcFails(t *testing.T) {
	if _, err := StartProc(exec.Command(filepath.Join(t.TempDir(), "missing"))); err == nil {
		t.Error("StartProc of a missing binary: got no error")
	}
}

// marked starts a sleeper carrying the STAMP_INSTANCE marker of tenant
// process id of the server with data dir data.
func marked(t *testing.T, data, id string) *Proc {
	t.Helper()
	return start(t, helper("sleeper", "STAMP_INSTANCE="+filepath.Join(data, "local")+"|"+id))
}

func TestTenantProcsAndKillTenants(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	web := marked(t, data, "acme/web-0@1.0.0")
	hook := marked(t, data, "globex/migrate-3")
	// A server whose data dir starts with this one's name is another.
	other := marked(t, data+"-other", "acme/web-0@1.0.0")
	start(t, helper("sleeper")) // no marker at all

	procs, err := TenantProcs(data)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(procs, func(a, b TenantProc) int { return strings.Compare(a.Tenant, b.Tenant) })
	want := []TenantProc{
		{PID: web.PID(), Tenant: "acme", ID: "web-0@1.0.0"},
		{PID: hook.PID(), Tenant: "globex", ID: "migrate-3"},
	}
	if !slices.Equal(procs, want) {
		t.Errorf("TenantProcs: got %+v, want %+v", procs, want)
	}

	if err := KillTenants(data); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*Proc{web, hook} {
		<-p.Exited() // SIGKILL was sent; this test's reaper sees it end
	}
	if procs, err := TenantProcs(data); err != nil || len(procs) != 0 {
		t.Errorf("TenantProcs after KillTenants: got %+v, %v; want none", procs, err)
	}
	if exited(other) {
		t.Error("KillTenants killed the tenant of another data dir")
	}
}

func TestTenantProcOf(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	web := marked(t, data, "acme/web-0@1.0.0")
	other := marked(t, data+"-other", "acme/web-0@1.0.0")
	plain := start(t, helper("sleeper"))

	tests := []struct {
		name   string
		pid    int
		want   TenantProc
		wantOK bool
	}{
		{"a tenant process", web.PID(), TenantProc{PID: web.PID(), Tenant: "acme", ID: "web-0@1.0.0"}, true},
		{"another data dir's", other.PID(), TenantProc{}, false},
		{"no marker", plain.PID(), TenantProc{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := TenantProcOf(data, tt.pid)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("TenantProcOf(pid %d): got %+v, %t; want %+v, %t", tt.pid, got, ok, tt.want, tt.wantOK)
			}
		})
	}
	web.Kill()
	if got, ok := TenantProcOf(data, web.PID()); ok {
		t.Errorf("TenantProcOf of an exited process: got %+v, want none", got)
	}
}
