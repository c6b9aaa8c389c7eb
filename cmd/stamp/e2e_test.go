package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/driver/local"
	"github.com/stamphq/stamp/httpapi"
)

// These tests run the real stamp binary as a separate process (so it can be
// killed with SIGKILL), real tenant processes of the example app, real
// SQLite files and real HTTP through the router, all on loopback.

var (
	stampBin  string // the stamp binary built for these tests
	ledgerBin string // the example app (its newest working release), built once
	// ledgerRelease holds the example app built as each of its releases:
	// 1, 2 and the deliberately broken 3.
	ledgerRelease = map[int]string{}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stamp-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stampBin = filepath.Join(dir, "stamp")
	ledgerBin = filepath.Join(dir, "ledger")
	builds := [][]string{{"-o", stampBin, "."}, {"-o", ledgerBin, "../../examples/ledger"}}
	for _, rel := range []int{1, 2, 3} {
		ledgerRelease[rel] = filepath.Join(dir, fmt.Sprintf("ledger-%d", rel))
		builds = append(builds, []string{"-ldflags", fmt.Sprintf("-X main.release=%d", rel), "-o", ledgerRelease[rel], "../../examples/ledger"})
	}
	for _, args := range builds {
		out, err := exec.Command("go", append([]string{"build"}, args...)...).CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "go build %s: %v\n%s", strings.Join(args, " "), err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// stampServer is a `stamp server` process.
type stampServer struct {
	t        *testing.T
	data     string
	api      string // host:port
	router   string // host:port
	cmd      *exec.Cmd
	exited   chan struct{}
	ports    string // the block of tenant ports this server's driver allocates from
	uids     string // the block of tenant users
	extraArg []string
	// ca, if set, is the CA file of the certificate the server serves
	// TLS with (see startStampServerTLS).
	ca string
}

// url is the API's base URL.
func (s *stampServer) url() string {
	if s.ca != "" {
		return "https://" + s.api
	}
	return "http://" + s.api
}

// httpClient is a client trusting the server's certificate, if any.
func (s *stampServer) httpClient() *http.Client {
	if s.ca == "" {
		return http.DefaultClient
	}
	tr, err := trusting(s.ca)
	if err != nil {
		s.t.Fatal(err)
	}
	return &http.Client{Transport: tr}
}

// portBlock returns a random block of 200 tenant ports in 20000-23999, so
// tenants of concurrently running tests (and a stale listener elsewhere on
// the machine) do not share ports; the driver's own tests use 24000-24999.
func portBlock() string {
	lo := 20000 + 200*rand.IntN(20)
	return fmt.Sprintf("%d-%d", lo, lo+199)
}

// uidBlock returns a block of 1,000 tenant users, so that tenants of
// servers running at once (each with a store of its own) never share a
// uid, which is also their network interface's name: ten blocks of the
// hundred this test process has (by its pid, so that another test binary
// of this package running beside it takes others), one at random. The
// driver's own tests use users from 3,000,000.
func uidBlock() string {
	lo := 4_000_000 + 1000*(10*(os.Getpid()%100)+rand.IntN(10))
	return fmt.Sprintf("%d-%d", lo, lo+999)
}

// passable opens dir and its parent to other users (t.TempDir makes them
// 0700), as a server whose tenants run as users of their own needs.
func passable(t *testing.T, dir string) {
	t.Helper()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o711); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
}

// freePort returns a loopback port that was free a moment ago, from
// 25000-31999: below the kernel's range of ephemeral ports (32768 on), so
// that no outgoing connection takes it while a test restarts its server
// on it (a port from "127.0.0.1:0" is ephemeral, and under load another
// connection took one between a kill and the restart).
func freePort(t *testing.T) string {
	t.Helper()
	for range 100 {
		addr := fmt.Sprintf("127.0.0.1:%d", 25000+rand.IntN(7000))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue // taken: try another
		}
		ln.Close()
		return addr
	}
	t.Fatal("no free loopback port in 25000-31999 after 100 tries")
	return ""
}

// startStampServer starts `stamp server` on a new data dir and fixed free ports.
func startStampServer(t *testing.T, extra ...string) *stampServer {
	t.Helper()
	return startStampServerIn(t, t.TempDir(), extra...)
}

// startStampServerIn starts `stamp server` on data dir data, which other
// servers may share.
func startStampServerIn(t *testing.T, data string, extra ...string) *stampServer {
	t.Helper()
	return launch(t, &stampServer{t: t, data: data, api: freePort(t), router: freePort(t), ports: portBlock(), uids: uidBlock(), extraArg: extra})
}

// startStampServerTLS is startStampServer serving TLS with the
// certificate and key files, whose CA the CLI and clients trust by ca.
func startStampServerTLS(t *testing.T, cert, key, ca string, extra ...string) *stampServer {
	t.Helper()
	return launch(t, &stampServer{t: t, data: t.TempDir(), api: freePort(t), router: freePort(t), ports: portBlock(), uids: uidBlock(),
		extraArg: append([]string{"--tls-cert", cert, "--tls-key", key}, extra...), ca: ca})
}

// launch starts s and cleans up after it when the test ends.
func launch(t *testing.T, s *stampServer) *stampServer {
	t.Helper()
	passable(t, s.data)
	s.start()
	t.Cleanup(func() {
		s.kill()
		stopStandbyRouters(s.data)
		stopTenantProcesses(t, s.data)
		releaseHost(t, s.data)
	})
	return s
}

// start (re)starts the server process on the same data dir and ports.
func (s *stampServer) start() {
	t := s.t
	t.Helper()
	args := append([]string{"server", "--data", s.data, "--listen", s.api, "--router-listen", s.router,
		"--ports", s.ports, "--tenant-uids", s.uids, "--log-level", "debug",
		// Tests that delete softly, or count on the guard against mass
		// deletion, ask for them.
		"--delete-grace=0", "--mass-change-limit=0"}, s.extraArg...)
	s.cmd = exec.Command(stampBin, args...)
	logf, err := os.OpenFile(s.logPath(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logf.Close()
	s.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		cmd.Wait()
		close(exited)
	}(s.cmd, s.exited)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := s.httpClient().Get(s.url() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-s.exited:
			t.Fatalf("stamp server exited at start:\n%s", s.log())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("stamp server not ready after 30s:\n%s", s.log())
}

// kill ends the server with SIGKILL, as a crash would.
func (s *stampServer) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.exited
}

// logPath is where the server's output goes: beside the data dir, one
// file per server (servers may share a data dir).
func (s *stampServer) logPath() string {
	return filepath.Join(s.data, "..", "server-"+strings.ReplaceAll(s.api, ":", "-")+".log")
}

func (s *stampServer) log() string {
	b, _ := os.ReadFile(s.logPath())
	return string(b)
}

func (s *stampServer) client() *httpapi.Client {
	token, err := os.ReadFile(filepath.Join(s.data, adminTokenFile))
	if err != nil {
		s.t.Fatal(err)
	}
	c := httpapi.NewClient(s.url(), strings.TrimSpace(string(token)))
	c.HTTP = s.httpClient()
	return c
}

// cli runs the stamp CLI against the server and returns its output and
// exit code.
func (s *stampServer) cli(args ...string) (stdout, stderr string, code int) {
	s.t.Helper()
	args = append(slices.Clip(args), "--url", s.url(), "--data", s.data)
	if s.ca != "" {
		args = append(args, "--ca-file", s.ca)
	}
	cmd := exec.Command(stampBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		s.t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// mustCLI runs the CLI and fails the test on a non-zero exit.
func (s *stampServer) mustCLI(args ...string) string {
	s.t.Helper()
	out, errOut, code := s.cli(args...)
	if code != 0 {
		s.t.Fatalf("stamp %s: exit %d\nstdout:\n%s\nstderr:\n%s\nserver log:\n%s", strings.Join(args, " "), code, out, errOut, lastLines(s.log(), 40))
	}
	return out
}

// do sends a request for tenant through the router.
func (s *stampServer) do(method, tenant, path, body string) (int, string) {
	s.t.Helper()
	req, err := http.NewRequest(method, "http://"+s.router+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(s.router)
	req.Host = tenant + ".localhost:" + port
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s of %s: %v", method, path, tenant, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// blueprintDir writes a copy of the example app's blueprint into a new
// directory with the prebuilt binary, so tests need no build, after
// applying the edits (old -> new replacements of stamp.yaml).
func blueprintDir(t *testing.T, edits ...string) string {
	t.Helper()
	return blueprintDirOf(t, "../../examples/ledger/stamp.yaml", ledgerBin, edits...)
}

// blueprintDirOf is blueprintDir for the blueprint at path, with binary
// bin as bin/ledger.
func blueprintDirOf(t *testing.T, path, bin string, edits ...string) string {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	y := regexp.MustCompile(`(?m)^build:.*\n`).ReplaceAllString(string(src), "")
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(y, edits[i]) {
			t.Fatalf("blueprint edit: %q not found", edits[i])
		}
		y = strings.Replace(y, edits[i], edits[i+1], 1)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "ledger"), exe, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "stamp.yaml"), []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// instance is a tenant process found by the marker the local driver puts
// in every process's environment.
type instance struct {
	pid    int
	tenant string
	id     string
}

// tenantProcesses lists the live processes the local driver of data runs.
func tenantProcesses(t *testing.T, data string) []instance {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join(data, "local"))
	if err != nil {
		t.Fatal(err)
	}
	prefix := []byte("STAMP_INSTANCE=" + abs + "|")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var found []instance
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && isZombie(stat) {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if rest, ok := bytes.CutPrefix(kv, prefix); ok {
				tenant, id, _ := strings.Cut(string(rest), "/")
				found = append(found, instance{pid: pid, tenant: tenant, id: id})
			}
		}
	}
	return found
}

func isZombie(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	return i > 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// stopTenantProcesses kills what the driver of data left running: the
// server is a separate process we killed, its tenants are ours to end.
func stopTenantProcesses(t *testing.T, data string) {
	for _, p := range tenantProcesses(t, data) {
		syscall.Kill(p.pid, syscall.SIGKILL)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func TestTenantsAreIsolated(t *testing.T) {
	s := startStampServer(t)
	out := s.mustCLI("blueprint", "push", blueprintDir(t))
	if !strings.Contains(out, "pushed ledger@2.0.0") {
		t.Fatalf("push output %q lacks %q", out, "pushed ledger@2.0.0")
	}
	for _, name := range []string{"acme", "globex"} {
		out := s.mustCLI("tenant", "create", name, "--blueprint", "ledger")
		for _, step := range []string{"allocate", "secrets", "database", "migrate", "seed", "start", "health", "route"} {
			if !regexp.MustCompile(`(?m)^\s+` + step + `\s+ok`).MatchString(out) {
				t.Errorf("create %s output lacks step %q:\n%s", name, step, out)
			}
		}
		if !strings.Contains(out, "ready: http://"+name+".localhost:") {
			t.Errorf("create %s output lacks the URL:\n%s", name, out)
		}
	}

	code, body := s.do("POST", "acme", "/api/customers", `{"name":"Wile E.","email":"wile@acme.test"}`)
	if code != http.StatusCreated {
		t.Fatalf("POST customer to acme: %d %s", code, body)
	}
	var customer struct{ ID int }
	json.Unmarshal([]byte(body), &customer)
	code, body = s.do("POST", "acme", "/api/invoices", fmt.Sprintf(`{"customer_id":%d,"amount_cents":4200}`, customer.ID))
	if code != http.StatusCreated {
		t.Fatalf("POST invoice to acme: %d %s", code, body)
	}
	for tenant, want := range map[string]int{"acme": 1, "globex": 0} {
		if got := s.count(tenant, "/api/invoices"); got != want {
			t.Errorf("%s has %d invoices, want %d", tenant, got, want)
		}
	}
	acmeDB := filepath.Join(s.data, "databases", "acme", "main.db")
	globexDB := filepath.Join(s.data, "databases", "globex", "main.db")
	for _, p := range []string{acmeDB, globexDB} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("tenant database: %v", err)
		}
	}

	code, _ = s.do("GET", "nobody", "/", "")
	if code != http.StatusNotFound {
		t.Errorf("unknown tenant: status %d, want 404", code)
	}
	procs := tenantProcesses(t, s.data)
	if len(procs) != 2 {
		t.Errorf("%d tenant processes, want 2: %v", len(procs), procs)
	}
	// The server logs JSON when not on a terminal; a pass's lines carry the
	// tenant and the pass, a request's its id (and tenant, if any).
	log := s.log()
	if !regexp.MustCompile(`"msg":"step done","tenant":"acme","pass":"[0-9a-f]{8}"`).MatchString(log) ||
		!regexp.MustCompile(`"msg":"http request".*"request_id":"[^"]+","tenant":"acme"`).MatchString(log) {
		t.Errorf("server log lacks JSON lines naming the tenant with a pass or request id:\n%s", lastLines(log, 20))
	}
}

func TestKilledInstanceIsRestarted(t *testing.T) {
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", blueprintDir(t))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger")
	procs := tenantProcesses(t, s.data)
	if len(procs) != 1 {
		t.Fatalf("%d processes, want 1: %v", len(procs), procs)
	}
	if err := syscall.Kill(procs[0].pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "acme to serve again", 30*time.Second, func() bool {
		code, _ := s.do("GET", "acme", "/healthz", "")
		return code == http.StatusOK
	})
	after := tenantProcesses(t, s.data)
	if len(after) != 1 || after[0].pid == procs[0].pid {
		t.Fatalf("after kill: %v, want one new process (old pid %d)", after, procs[0].pid)
	}
}

func TestServerKilledDuringCreatesConverges(t *testing.T) {
	// The seed hook appends a line to a file in the tenant's HOME so the
	// test can count how often it ran.
	dir := blueprintDir(t, `seed: [bin/ledger, seed,`, `seed: [sh, -c, 'echo seeded >> "$HOME/seed-runs" && exec "$STAMP_BUNDLE/$0" "$@"', bin/ledger, seed,`)
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", dir)
	c := s.client()
	ctx := context.Background()
	names := []string{"t1", "t2", "t3", "t4", "t5"}
	for _, name := range names {
		if _, err := c.CreateTenant(ctx, httpapi.CreateTenantRequest{Name: name, Blueprint: "ledger"}); err != nil {
			t.Fatal(err)
		}
	}
	// Kill the server while the tenants are part-way through their steps.
	waitFor(t, "some step to finish", 30*time.Second, func() bool {
		events, err := c.Events(ctx, stamp.EventFilter{})
		if err != nil {
			return false
		}
		for _, e := range events {
			if e.Type == stamp.EventStep && (e.Step == stamp.StepMigrate || e.Step == stamp.StepSeed) {
				return true
			}
		}
		return false
	})
	s.kill()
	s.start()
	c = s.client()
	waitFor(t, "all 5 tenants ready", 60*time.Second, func() bool {
		for _, name := range names {
			tn, err := c.GetTenant(ctx, name)
			if err != nil || !tn.Ready() {
				return false
			}
		}
		return true
	})
	procs := tenantProcesses(t, s.data)
	perTenant := map[string]int{}
	for _, p := range procs {
		perTenant[p.tenant]++
	}
	endpoints := map[string]string{}
	for _, name := range names {
		if perTenant[name] != 1 {
			t.Errorf("tenant %s has %d processes, want 1", name, perTenant[name])
		}
		tn, _ := c.GetTenant(ctx, name)
		for _, e := range tn.Status.Endpoints {
			if other, dup := endpoints[e]; dup {
				t.Errorf("tenants %s and %s share endpoint %s", other, name, e)
			}
			endpoints[e] = name
		}
		if code, body := s.do("GET", name, "/api/invoices", ""); code != http.StatusOK {
			t.Errorf("GET invoices of %s: %d %s", name, code, body)
		}
		runs, err := os.ReadFile(filepath.Join(s.data, "local", "tenants", name, "data", "seed-runs"))
		if err != nil {
			t.Errorf("seed of %s: %v", name, err)
		} else if n := strings.Count(string(runs), "seeded"); n != 1 {
			t.Errorf("seed of %s ran %d times, want 1", name, n)
		}
	}
	if len(procs) != len(names) {
		t.Errorf("%d tenant processes in all, want %d: %v", len(procs), len(names), procs)
	}
	// Nothing leaked: one directory per tenant, and one port allocated
	// from the range per tenant that does not listen on its declared
	// port (8080) in a network namespace of its own.
	dirs, _ := os.ReadDir(filepath.Join(s.data, "local", "tenants"))
	if len(dirs) != len(names) {
		t.Errorf("%d tenant directories, want %d", len(dirs), len(names))
	}
	allocated := 0
	for e := range endpoints {
		if _, port, _ := net.SplitHostPort(e); port != "8080" {
			allocated++
		}
	}
	if ports, err := local.ReadPorts(filepath.Join(s.data, "local")); err != nil {
		t.Errorf("port registry: %v", err)
	} else if len(ports) != allocated {
		t.Errorf("%d ports allocated, want %d: %v", len(ports), allocated, ports)
	}
}

func TestDeleteReleasesEverything(t *testing.T) {
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", blueprintDir(t))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger")
	c := s.client()
	tn, err := c.GetTenant(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	out := s.mustCLI("tenant", "delete", "acme")
	if !strings.Contains(out, "tenant acme deleted") {
		t.Errorf("delete output %q", out)
	}
	if procs := tenantProcesses(t, s.data); len(procs) != 0 {
		t.Errorf("processes left after delete: %v", procs)
	}
	for _, p := range []string{
		filepath.Join(s.data, "local", "tenants", "acme"),
		filepath.Join(s.data, "databases", "acme"),
	} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still exists after delete (%v)", p, err)
		}
	}
	if code, _ := s.do("GET", "acme", "/", ""); code != http.StatusNotFound {
		t.Errorf("router after delete: %d, want 404", code)
	}
	// The port is free again (on loopback: the address of a tenant with
	// a network namespace went with it).
	_, port, _ := net.SplitHostPort(tn.Status.Endpoints[0])
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Errorf("port %s not released: %v", port, err)
	} else {
		ln.Close()
	}
	// The new acme's pass must not be cut short by the old acme's deletion.
	if out := s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger"); strings.Count(out, "allocate") != 1 {
		t.Errorf("recreating acme took more than one pass:\n%s", out)
	}
	if code, body := s.do("GET", "acme", "/api/invoices", ""); code != http.StatusOK || strings.TrimSpace(body) != "[]" {
		t.Errorf("recreated acme: %d %s, want 200 []", code, body)
	}
}

func TestFailedMigrateHook(t *testing.T) {
	dir := blueprintDir(t, "migrate: [bin/ledger, migrate]", `migrate: [sh, -c, "echo applying 0001_init.sql; echo 'no such table: customers' >&2; exit 3"]`)
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", dir)
	out, errOut, code := s.cli("tenant", "create", "acme", "--blueprint", "ledger")
	if code == 0 {
		t.Fatalf("create with a failing migrate hook exited 0:\n%s", out)
	}
	for _, want := range []string{"failed at step migrate", "exited with code 3", "no such table: customers"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	tn, err := s.client().GetTenant(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if tn.Status.Phase != stamp.PhaseFailed || tn.Status.FailedStep != stamp.StepMigrate {
		t.Errorf("phase %q step %q, want failed at migrate", tn.Status.Phase, tn.Status.FailedStep)
	}
	events := s.mustCLI("tenant", "events", "acme")
	if !strings.Contains(events, "migrate hook exited with code 3") {
		t.Errorf("events lack the hook failure:\n%s", events)
	}
	if code, _ := s.do("GET", "acme", "/", ""); code != http.StatusServiceUnavailable {
		t.Errorf("router for a failed tenant: %d, want 503", code)
	}
	s.mustCLI("tenant", "delete", "acme")
	for _, p := range []string{filepath.Join(s.data, "local", "tenants", "acme"), filepath.Join(s.data, "databases", "acme")} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still exists after delete (%v)", p, err)
		}
	}
}

func TestServiceNeverHealthy(t *testing.T) {
	dir := blueprintDir(t, "command: [bin/ledger, serve]", `command: [sleep, "600"]`)
	s := startStampServer(t, "--health-timeout", "2s")
	s.mustCLI("blueprint", "push", dir)
	out, errOut, code := s.cli("tenant", "create", "acme", "--blueprint", "ledger", "--timeout", "60s")
	if code == 0 {
		t.Fatalf("create of a never-healthy service exited 0:\n%s", out)
	}
	if !strings.Contains(errOut, "failed at step health") || !strings.Contains(errOut, "did not become healthy") {
		t.Errorf("stderr:\n%s", errOut)
	}
	s.mustCLI("tenant", "delete", "acme")
	if procs := tenantProcesses(t, s.data); len(procs) != 0 {
		t.Errorf("processes left: %v", procs)
	}
}

func TestCLIRefusesBadInput(t *testing.T) {
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", blueprintDir(t))
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"tenant", "create", "Acme", "--blueprint", "ledger"}, `tenant name "Acme" has uppercase 'A'`},
		{[]string{"tenant", "create", "www", "--blueprint", "ledger"}, `tenant name "www" is reserved`},
		{[]string{"tenant", "create", "acme", "--blueprint", "nope"}, `blueprint "nope" does not exist`},
		{[]string{"tenant", "create", "acme", "--blueprint", "ledger", "--plan", "gold"}, `plan "gold" does not exist`},
		{[]string{"tenant", "create", "acme", "--blueprint", "ledger", "--param", "currency=euro"}, `currency`},
		{[]string{"tenant", "get", "nobody"}, `tenant "nobody" does not exist`},
		{[]string{"tenant", "list", "-o", "xml"}, `-o "xml": want table, wide, json or yaml`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, errOut, code := s.cli(tt.args...)
			if code == 0 {
				t.Fatalf("exit 0, want failure")
			}
			if !strings.Contains(errOut, tt.want) {
				t.Errorf("stderr %q lacks %q", errOut, tt.want)
			}
		})
	}
	if procs := tenantProcesses(t, s.data); len(procs) != 0 {
		t.Errorf("refused creates left processes: %v", procs)
	}
}

func TestListingsOutputFormats(t *testing.T) {
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", blueprintDir(t))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger")
	var tenants []stamp.Tenant
	if err := json.Unmarshal([]byte(s.mustCLI("tenant", "list", "-o", "json")), &tenants); err != nil || len(tenants) != 1 || tenants[0].Name != "acme" {
		t.Errorf("tenant list -o json: %v %v", tenants, err)
	}
	if y := s.mustCLI("tenant", "list", "-o", "yaml"); !strings.Contains(y, "name: acme") {
		t.Errorf("tenant list -o yaml:\n%s", y)
	}
	table := s.mustCLI("tenant", "list")
	sc := bufio.NewScanner(strings.NewReader(table))
	sc.Scan()
	if !strings.HasPrefix(sc.Text(), "NAME") {
		t.Errorf("table header %q", sc.Text())
	}
	if bl := s.mustCLI("blueprint", "list"); !strings.Contains(bl, "ledger") || !strings.Contains(bl, "2.0.0") {
		t.Errorf("blueprint list:\n%s", bl)
	}
	if logs := s.mustCLI("tenant", "logs", "acme"); logs == "" {
		t.Errorf("tenant logs printed nothing")
	}
}

func TestDeleteWhileProvisioning(t *testing.T) {
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", blueprintDir(t))
	c := s.client()
	ctx := context.Background()
	names := []string{"d1", "d2", "d3", "d4"}
	for _, name := range names {
		if _, err := c.CreateTenant(ctx, httpapi.CreateTenantRequest{Name: name, Blueprint: "ledger"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range names {
		if _, err := c.DeleteTenant(ctx, name, httpapi.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every tenant record to be gone", 60*time.Second, func() bool {
		tenants, err := c.ListTenants(ctx)
		return err == nil && len(tenants) == 0
	})
	if procs := tenantProcesses(t, s.data); len(procs) != 0 {
		t.Errorf("processes left: %v", procs)
	}
	for _, dir := range []string{"local/tenants", "databases"} {
		entries, _ := os.ReadDir(filepath.Join(s.data, dir))
		if len(entries) != 0 {
			t.Errorf("%s holds %d entries after every tenant was deleted", dir, len(entries))
		}
	}
}

// syscallKill sends SIGKILL to pid.
func syscallKill(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %d: %v", pid, err)
	}
}

func TestFailedSeedHook(t *testing.T) {
	// The seed hook runs beside start and health; its failure must still
	// end the tenant failed, never ready.
	dir := blueprintDir(t, `seed: [bin/ledger, seed,`, `seed: [sh, -c, 'echo seed broke >&2; exit 4', bin/ledger, seed,`)
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", dir)
	out, errOut, code := s.cli("tenant", "create", "acme", "--blueprint", "ledger")
	if code == 0 {
		t.Fatalf("create with a failing seed hook exited 0:\n%s", out)
	}
	if !strings.Contains(errOut, "failed at step seed") || !strings.Contains(errOut, "seed broke") {
		t.Errorf("stderr:\n%s", errOut)
	}
	// Give a wrongly continuing pass the time to mark it ready.
	time.Sleep(time.Second)
	tn, err := s.client().GetTenant(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if tn.Status.Phase != stamp.PhaseFailed || tn.Status.FailedStep != stamp.StepSeed {
		t.Errorf("phase %q step %q, want failed at seed", tn.Status.Phase, tn.Status.FailedStep)
	}
	if code, _ := s.do("GET", "acme", "/", ""); code != http.StatusServiceUnavailable {
		t.Errorf("router for a tenant whose seed failed: %d, want 503", code)
	}
}

func TestPlanReplicasShareTheTraffic(t *testing.T) {
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", blueprintDir(t))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger", "--plan", "business")
	tn, err := s.client().GetTenant(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if len(tn.Status.Endpoints) != 2 {
		t.Fatalf("endpoints %q, want the two instances of plan business", tn.Status.Endpoints)
	}
	if procs := tenantProcesses(t, s.data); len(procs) != 2 {
		t.Errorf("%d processes, want 2: %v", len(procs), procs)
	}
	// Both instances serve one database: what one writes, the other reads.
	if code, body := s.do("POST", "acme", "/api/customers", `{"name":"Wile E.","email":"wile@acme.test"}`); code != http.StatusCreated {
		t.Fatalf("POST customer: %d %s", code, body)
	}
	for range 4 {
		if code, body := s.do("GET", "acme", "/api/customers", ""); code != http.StatusOK || !strings.Contains(body, "wile@acme.test") {
			t.Errorf("GET customers: %d %s", code, body)
		}
	}
}

func TestRetryAFailedTenant(t *testing.T) {
	// The migrate hook fails until a file appears in the tenant's HOME, as
	// a migration would until an operator fixed what it needs.
	dir := blueprintDir(t, "migrate: [bin/ledger, migrate]",
		`migrate: [sh, -c, 'test -f "$HOME/fixed" || { echo "not fixed yet" >&2; exit 3; }; exec "$STAMP_BUNDLE/bin/ledger" migrate']`)
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", dir)
	if _, errOut, code := s.cli("tenant", "create", "acme", "--blueprint", "ledger"); code == 0 || !strings.Contains(errOut, "not fixed yet") {
		t.Fatalf("create: exit %d, stderr:\n%s", code, errOut)
	}
	if _, errOut, code := s.cli("tenant", "retry", "acme"); code == 0 || !strings.Contains(errOut, "not fixed yet") {
		t.Fatalf("retry before the fix: exit %d, stderr:\n%s", code, errOut)
	}
	fixed := filepath.Join(s.data, "local", "tenants", "acme", "data", "fixed")
	if err := os.WriteFile(fixed, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out := s.mustCLI("tenant", "retry", "acme")
	if !strings.Contains(out, "ready: http://acme.localhost:") {
		t.Errorf("retry output:\n%s", out)
	}
	if code, body := s.do("GET", "acme", "/api/invoices", ""); code != http.StatusOK {
		t.Errorf("GET invoices after the retry: %d %s", code, body)
	}
	_, errOut, code := s.cli("tenant", "retry", "acme")
	if code == 0 || !strings.Contains(errOut, `tenant "acme" is not failed (phase: ready)`) {
		t.Errorf("retry of a ready tenant: exit %d, stderr %q", code, errOut)
	}
}
