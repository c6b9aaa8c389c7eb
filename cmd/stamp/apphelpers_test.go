package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/httpapi"
)

// Helpers of the tests that run real apps nobody here wrote (apps_test.go).

// requireSlow skips the test under -short: a real app's run takes tens of
// seconds.
func requireSlow(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs a real app for tens of seconds; run without -short (scripts/test does)")
	}
}

// exampleCopy copies the directory examples/name, without its bin/, into a
// new directory and returns it: the build step of a push then writes there,
// not into the repository.
func exampleCopy(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("..", "..", "examples", name)
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	for _, e := range entries {
		if e.IsDir() {
			continue // bin/, a build's output
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// requireGoModules skips the test unless the modules the Go module in dir
// needs can be had (from the module cache scripts/apps fills, or the
// module proxy): without them the blueprint's build cannot run.
func requireGoModules(t *testing.T, dir string) {
	t.Helper()
	cmd := exec.Command("go", "mod", "download")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		skipApp(t, "the Go modules of %s cannot be had, so it cannot be built (run scripts/apps): %v\n%s", dir, err, out)
	}
}

// requireCommand skips the test unless the command is installed.
func requireCommand(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		skipApp(t, "%s is not installed (run scripts/apps as root): %v", name, err)
	}
}

// skipApp skips a real-app test that cannot run here, or fails it when
// STAMP_TEST_APPS=required (scripts/test sets it after scripts/apps), so
// that the suite that promises these tests cannot pass without them.
func skipApp(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("STAMP_TEST_APPS") == "required" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// appRequest returns a request for tenant's path through the router, with
// basic auth if user is set.
func (s *stampServer) appRequest(method, tenant, path, body, user, password string) *http.Request {
	req, err := http.NewRequest(method, "http://"+s.router+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(s.router)
	req.Host = tenant + ".localhost:" + port
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	return req
}

// send sends req and returns the status and body; a transport error fails
// the test.
func (s *stampServer) send(req *http.Request) (int, string) {
	s.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s of %s: %v", req.Method, req.URL.Path, req.Host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// startRequests is startTraffic for any app: it sends the requests next
// makes for i = 0, 1, ... one at a time, at most 5,000 or for 2 minutes,
// until finished, and counts answers by what version makes of their body
// (nil: all under ""). An answer of 300 or more, or none, is a failure.
func startRequests(next func(i int) *http.Request, version func(body []byte) string) *traffic {
	ctx, stop := context.WithTimeout(context.Background(), 2*time.Minute)
	tr := &traffic{releases: map[string]int{}, stop: stop, done: make(chan struct{})}
	client := &http.Client{Timeout: 10 * time.Second}
	go func() {
		defer close(tr.done)
		for i := 0; i < 5000 && ctx.Err() == nil; i++ {
			req := next(i).WithContext(ctx)
			tr.sent.Add(1)
			resp, err := client.Do(req)
			if err != nil {
				if ctx.Err() == nil {
					tr.fail(fmt.Sprintf("%s %s: %v", req.Method, req.URL.Path, err))
				} else {
					tr.sent.Add(-1) // cut short by finish, not failed
				}
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 300 {
				tr.fail(fmt.Sprintf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, b))
				continue
			}
			v := ""
			if version != nil {
				v = version(b)
			}
			tr.mu.Lock()
			tr.releases[v]++
			tr.mu.Unlock()
		}
	}()
	return tr
}

// revealSecret returns tenant's secret name as `stamp tenant secrets
// NAME --reveal -o json` shows it.
func (s *stampServer) revealSecret(tenant, name string) string {
	s.t.Helper()
	out := s.mustCLI("tenant", "secrets", tenant, "--reveal", "-o", "json")
	var shown httpapi.TenantSecrets
	if err := json.Unmarshal([]byte(out), &shown); err != nil {
		s.t.Fatalf("tenant secrets %s --reveal -o json: %v\n%s", tenant, err, out)
	}
	for _, sec := range shown.Secrets {
		if sec.Name == name && sec.Value != "" {
			return sec.Value
		}
	}
	s.t.Fatalf("tenant secrets %s --reveal -o json shows no value of %q:\n%s", tenant, name, out)
	return ""
}

// instanceProc returns the environment and command line of tenant's one
// running instance.
func instanceProc(t *testing.T, s *stampServer, tenant string) (env map[string]string, cmdline []string) {
	t.Helper()
	var pids []int
	for _, p := range tenantProcesses(t, s.data) {
		if p.tenant == tenant {
			pids = append(pids, p.pid)
		}
	}
	if len(pids) != 1 {
		t.Fatalf("tenant %s has %d processes, want 1", tenant, len(pids))
	}
	dir := filepath.Join("/proc", strconv.Itoa(pids[0]))
	e, err := os.ReadFile(filepath.Join(dir, "environ"))
	if err != nil {
		t.Fatal(err)
	}
	env = map[string]string{}
	for kv := range bytes.SplitSeq(e, []byte{0}) {
		if k, v, ok := strings.Cut(string(kv), "="); ok {
			env[k] = v
		}
	}
	c, err := os.ReadFile(filepath.Join(dir, "cmdline"))
	if err != nil {
		t.Fatal(err)
	}
	return env, strings.Split(strings.TrimRight(string(c), "\x00"), "\x00")
}

// deleteApps deletes the tenants and checks that nothing of theirs is
// left: processes, directories, a user's processes, cgroup and network
// namespace (where the host gave them), the route, open incidents.
func deleteApps(t *testing.T, s *stampServer, names ...string) {
	t.Helper()
	for _, name := range names {
		tn := s.tenant(name)
		if tn.Status.UID != 0 {
			deleteAndCheckNothingLeft(t, s, tn)
		} else {
			s.mustCLI("tenant", "delete", name)
		}
		if _, err := os.Stat(filepath.Join(s.data, "local", "tenants", name)); !os.IsNotExist(err) {
			t.Errorf("directory of %s after delete: %v", name, err)
		}
		if code, _ := s.do("GET", name, "/", ""); code != http.StatusNotFound {
			t.Errorf("router for %s after delete: %d, want 404", name, code)
		}
		open, err := s.client().Incidents(context.Background(), stamp.IncidentFilter{Tenant: name, Open: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, inc := range open {
			t.Errorf("incident %s of deleted %s still open: %s", inc.ID, name, inc.Message)
		}
	}
	if procs := tenantProcesses(t, s.data); len(procs) != 0 {
		t.Errorf("processes left after delete: %v", procs)
	}
	for _, name := range names {
		if _, err := s.client().GetTenant(context.Background(), name); stamp.ErrorCode(err) != stamp.ENOTFOUND {
			t.Errorf("tenant %s after delete: %v, want not found", name, err)
		}
	}
}
