package local

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// pathDirs makes, under a directory others can pass through, "open"
// (0755), "private" (0700) with "private/bin" (0755) inside it, and
// returns their paths.
func pathDirs(t *testing.T) (root, open, privateBin string) {
	t.Helper()
	root = t.TempDir()
	for _, d := range []string{root, filepath.Dir(root)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	open = filepath.Join(root, "open")
	privateBin = filepath.Join(root, "private", "bin")
	for _, d := range []string{open, privateBin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "private"), 0o700); err != nil {
		t.Fatal(err)
	}
	return root, open, privateBin
}

func writeProgram(t *testing.T, path, script string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestTenantPATH(t *testing.T) {
	_, open, privateBin := pathDirs(t)
	server := strings.Join([]string{privateBin, open, "relative/bin", open, filepath.Join(open, "missing")}, ":")
	tests := []struct {
		server   string
		isolated bool
		want     string
	}{
		{server, false, server},
		{"", false, StandardPATH},
		{server, true, open},
		{privateBin + ":relative", true, StandardPATH},
	}
	for _, tt := range tests {
		if got := TenantPATH(tt.server, tt.isolated); got != tt.want {
			t.Errorf("TenantPATH(%q, %v): got %q, want %q", tt.server, tt.isolated, got, tt.want)
		}
	}
}

func TestLookPath(t *testing.T) {
	_, open, privateBin := pathDirs(t)
	writeProgram(t, filepath.Join(open, "tool"), "echo tool", 0o755)
	writeProgram(t, filepath.Join(open, "mine"), "echo mine", 0o750) // not for others
	writeProgram(t, filepath.Join(privateBin, "hidden"), "echo hidden", 0o755)
	if err := os.Symlink(filepath.Join(privateBin, "hidden"), filepath.Join(open, "link")); err != nil {
		t.Fatal(err)
	}
	path := privateBin + ":" + open
	tests := []struct {
		name     string
		isolated bool
		want     string // "" for not found
	}{
		{"tool", true, filepath.Join(open, "tool")},
		{"tool", false, filepath.Join(open, "tool")},
		{"mine", true, ""},
		{"mine", false, filepath.Join(open, "mine")},
		{"hidden", false, filepath.Join(privateBin, "hidden")},
		{"link", true, ""}, // its target is where others cannot go
		{"link", false, filepath.Join(open, "link")},
		{"nothing", false, ""},
	}
	for _, tt := range tests {
		got, err := lookPath(tt.name, path, tt.isolated)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("lookPath(%q, isolated %v): got %q, %v; want %q", tt.name, tt.isolated, got, err, tt.want)
		}
	}
}

func TestCheckRequirements(t *testing.T) {
	_, open, privateBin := pathDirs(t)
	writeProgram(t, filepath.Join(open, "tool"), `echo "Tool version 3.9.2 (built 2024.01.05)"`, 0o755)
	writeProgram(t, filepath.Join(open, "quiet"), `echo "no version here" >&2; exit 2`, 0o755)
	writeProgram(t, filepath.Join(privateBin, "python3"), `echo "Python 3.12.1"`, 0o755)
	t.Setenv("PATH", privateBin+":"+open)

	tool := filepath.Join(open, "tool")
	tests := []struct {
		req      stamp.Requirement
		isolated bool
		want     string
	}{
		{stamp.Requirement{Command: "tool"}, true, "tool: ok, " + tool},
		{stamp.Requirement{Command: "tool", Min: "3.9"}, true, "tool >= 3.9: ok, " + tool + " 3.9.2"},
		{stamp.Requirement{Command: "tool", Min: "3.11"}, true,
			`tool >= 3.11: ` + tool + ` is version 3.9.2 (the first x.y[.z] in the output of ` + "`" + tool + ` --version` + "`" + `: "Tool version 3.9.2 (built 2024.01.05)"), older than 3.11`},
		{stamp.Requirement{Command: tool, Min: "3.9.2"}, true, "" + tool + " >= 3.9.2: ok, " + tool + " 3.9.2"},
		{stamp.Requirement{Command: "python3", Min: "3.11"}, true, "python3 >= 3.11: not found in the PATH tenants get (" + open + ")"},
		{stamp.Requirement{Command: "python3", Min: "3.11"}, false, "python3 >= 3.11: ok, " + filepath.Join(privateBin, "python3") + " 3.12.1"},
		{stamp.Requirement{Command: "quiet", Min: "1"}, true,
			"quiet >= 1: cannot read the version of " + filepath.Join(open, "quiet") + ": `" + filepath.Join(open, "quiet") + ` --version` + "`" + `: exit status 2: "no version here"`},
		{stamp.Requirement{Command: "/nonexistent/x"}, true, "/nonexistent/x: /nonexistent/x is missing or not a program tenants can run"},
	}
	for _, tt := range tests {
		res := CheckRequirements(context.Background(), []stamp.Requirement{tt.req}, tt.isolated)
		if got := res[0].String(); got != tt.want {
			t.Errorf("%s (isolated %v):\ngot  %s\nwant %s", tt.req, tt.isolated, got, tt.want)
		}
	}

	c := NewRequirementChecker(true, time.Minute)
	err := c.Check(context.Background(), "wiki@1.0.0", []stamp.Requirement{{Command: "tool", Min: "3.9"}, {Command: "python3"}, {Command: "pg_nothing"}})
	want := "this host does not provide what wiki@1.0.0 requires: python3: not found in the PATH tenants get (" + open + "); pg_nothing: not found in the PATH tenants get (" + open + ")"
	if stamp.ErrorCode(err) != stamp.EUNPROCESSABLE || stamp.ErrorMessage(err) != want {
		t.Errorf("Check: got %v (%s), want EUNPROCESSABLE %q", err, stamp.ErrorCode(err), want)
	}
	if err := c.Check(context.Background(), "wiki@1.0.0", []stamp.Requirement{{Command: "tool", Min: "3.9"}}); err != nil {
		t.Errorf("Check of what the host provides: %v", err)
	}
}

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"3.11", "3.11.0", 0}, {"3.9.2", "3.11", -1}, {"16.2", "9", 1}, {"1.10", "1.9.9", 1},
	}
	for _, tt := range tests {
		if got := compareVersions(tt.a, tt.b); got != tt.want {
			t.Errorf("compareVersions(%q, %q): got %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestPortEnvOptOut runs a service that takes its address as an argument
// and opted out of PORT: its environment keeps the PORT it set itself.
func TestPortEnvOptOut(t *testing.T) {
	d := open(t, newDir(t))
	svc := web(1)
	svc.Command = command("serve-on", stamp.InstanceVar(stamp.VarListen))
	svc.NoPortEnv = true
	svc.Env = map[string]string{"PORT": "smtp"}
	apply(t, d, runtime("acme", svc))
	inst := running(t, d, "acme", "web", 1)[0]
	waitHealthy(t, inst.Endpoint)
	body, err := fetch(inst.Endpoint, "/env")
	if err != nil {
		t.Fatal(err)
	}
	if env := strings.Split(strings.TrimSpace(body), "\n"); !slices.Contains(env, "PORT=smtp") {
		t.Errorf("environment lacks PORT=smtp:\n%s", body)
	}
}

// TestIsolatedTenantPATH runs a tenant as its own user with a server PATH
// that starts with a directory it cannot reach: its PATH leaves it out.
func TestIsolatedTenantPATH(t *testing.T) {
	requireRoot(t)
	_, openDir, privateBin := pathDirs(t)
	t.Setenv("PATH", privateBin+":"+openDir+":"+os.Getenv("PATH"))
	d := open(t, reachableDir(t))
	rt := runtime("acme", web(1, "serve"))
	rt.UID = testUID()
	apply(t, d, rt)
	inst := running(t, d, "acme", "web", 1)[0]
	waitHealthy(t, inst.Endpoint)
	body, err := fetch(inst.Endpoint, "/env")
	if err != nil {
		t.Fatal(err)
	}
	want := "PATH=" + TenantPATH(os.Getenv("PATH"), true)
	env := strings.Split(strings.TrimSpace(body), "\n")
	if !slices.Contains(env, want) || strings.Contains(want, privateBin) || !strings.Contains(want, openDir) {
		t.Errorf("environment: want %q (without %s):\n%s", want, privateBin, body)
	}
}
