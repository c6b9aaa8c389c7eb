package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bundle"
	"github.com/stamphq/stamp/driver/drivertest"
)

// Ports the tests allocate from: away from the default range, which other
// packages' tests use, and below the ephemeral range.
const (
	testPortMin = 24000
	testPortMax = 24999
)

// wait bounds every wait of these tests; generous, only to avoid hanging.
const wait = 30 * time.Second

// app is the test app's bundle, built once by TestMain.
var app struct {
	ref     stamp.BundleRef
	content []byte
}

func TestMain(m *testing.M) {
	if dir := os.Getenv("STAMP_LOCAL_TEST_CONTROL_PLANE"); dir != "" {
		controlPlane(dir)
		return
	}
	code, err := buildApp()
	if err != nil {
		fmt.Fprintln(os.Stderr, "build test app:", err)
		os.Exit(1)
	}
	os.Exit(code(m))
}

// buildApp builds testdata/app into a bundle and returns how to run the
// tests.
func buildApp() (func(*testing.M) int, error) {
	dir, err := os.MkdirTemp("", "stamp-local-app-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "bin", "app"), "./testdata/app")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "stamp.yaml"), []byte("name: app\nversion: 1.0.0\n"), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	content, err := bundle.Pack(dir)
	os.RemoveAll(dir)
	if err != nil {
		return nil, err
	}
	app.content = content
	app.ref = stamp.BundleRef{Name: "app", Version: "1.0.0", Digest: bundle.Digest(content)}
	return func(m *testing.M) int { return m.Run() }, nil
}

// bundles is a fake stamp.BundleSource holding the test app's bundle.
type bundles struct{}

func (bundles) BundleContent(ctx context.Context, digest string) ([]byte, error) {
	if digest != app.ref.Digest {
		return nil, stamp.Errorf(stamp.ENOTFOUND, "no bundle %s", digest)
	}
	return app.content, nil
}

// command runs the test app from the bundle.
func command(args ...string) []string { return append([]string{"bin/app"}, args...) }

func config(dir string) Config {
	return Config{
		Dir: dir, Bundles: bundles{}, PortMin: testPortMin, PortMax: testPortMax,
		StopTimeout: 2 * time.Second, Logger: slog.New(slog.DiscardHandler),
	}
}

// newDir returns a driver directory whose processes are all killed when
// the test ends, whatever the test did with its drivers.
func newDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() {
		for _, m := range scanMarked(dir) {
			killGroup(m)
		}
	})
	return dir
}

// open opens a driver on dir and closes it when the test ends.
func open(t *testing.T, dir string) *Driver {
	t.Helper()
	return openConfig(t, config(dir))
}

func openConfig(t *testing.T, cfg Config) *Driver {
	t.Helper()
	d, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open driver: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func runtime(tenant string, services ...stamp.Service) *stamp.Runtime {
	return &stamp.Runtime{Tenant: tenant, Bundle: app.ref, Services: services}
}

func web(replicas int, args ...string) stamp.Service {
	return stamp.Service{Name: "web", Command: command(args...), Port: 8080, Replicas: replicas}
}

func apply(t *testing.T, d *Driver, rt *stamp.Runtime) {
	t.Helper()
	if err := d.Apply(context.Background(), rt); err != nil {
		t.Fatalf("apply %s: %v", rt.Tenant, err)
	}
}

func observe(t *testing.T, d *Driver, tenant string) *stamp.Observed {
	t.Helper()
	obs, err := d.Observe(context.Background(), tenant)
	if err != nil {
		t.Fatalf("observe %s: %v", tenant, err)
	}
	return obs
}

// running waits until service of tenant runs n instances and returns them
// sorted by id.
func running(t *testing.T, d *Driver, tenant, service string, n int) []stamp.Instance {
	t.Helper()
	var got []stamp.Instance
	eventually(t, fmt.Sprintf("%d instances of %s/%s", n, tenant, service), func() bool {
		so := observe(t, d, tenant).Services[service]
		if so == nil || len(so.Instances) != n {
			return false
		}
		got = slices.Clone(so.Instances)
		slices.SortFunc(got, func(a, b stamp.Instance) int { return strings.Compare(a.ID, b.ID) })
		return true
	})
	return got
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", wait, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var client = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// fetch GETs path from endpoint.
func fetch(endpoint, path string) (string, error) {
	resp, err := client.Get("http://" + endpoint + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return string(body), nil
}

func waitHealthy(t *testing.T, endpoint string) {
	t.Helper()
	eventually(t, endpoint+" to be healthy", func() bool {
		_, err := fetch(endpoint, "/healthz")
		return err == nil
	})
}

// marked returns the live processes of dir's driver, by id.
func markedIDs(dir string) []string {
	var ids []string
	for _, m := range scanMarked(dir) {
		ids = append(ids, m.id)
	}
	slices.Sort(ids)
	return ids
}

func pidsOf(insts []stamp.Instance) []int {
	var pids []int
	for _, in := range insts {
		pids = append(pids, in.PID)
	}
	return pids
}

func endpointsOf(insts []stamp.Instance) []string {
	var eps []string
	for _, in := range insts {
		eps = append(eps, in.Endpoint)
	}
	return eps
}

func TestConformance(t *testing.T) {
	d := open(t, newDir(t))
	drivertest.Run(t, d, drivertest.Env{
		Bundle:  app.ref,
		App:     func(args ...string) ([]string, string) { return command(args...), "" },
		Scratch: t.TempDir(),
	})
}

func TestProcessEnvironment(t *testing.T) {
	t.Setenv("STAMP_TEST_SECRET_OF_THE_CONTROL_PLANE", "leak")
	dir := newDir(t)
	d := open(t, dir)
	svc := web(1, "serve")
	svc.Env = map[string]string{"GREETING": "hello", "PORT": "1", "HOST": "0.0.0.0"}
	apply(t, d, runtime("acme", svc))
	inst := running(t, d, "acme", "web", 1)[0]
	waitHealthy(t, inst.Endpoint)
	body, err := fetch(inst.Endpoint, "/env")
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Split(strings.TrimSpace(body), "\n")
	_, port, _ := net.SplitHostPort(inst.Endpoint)
	tdir := filepath.Join(dir, "tenants", "acme")
	for _, want := range []string{
		"GREETING=hello",
		"PORT=" + port,
		"HOST=127.0.0.1",
		"HOME=" + filepath.Join(tdir, "data"),
		"TMPDIR=" + filepath.Join(tdir, "tmp"),
		"STAMP_BUNDLE=" + filepath.Join(dir, "bundles", strings.TrimPrefix(app.ref.Digest, "sha256:")),
		"PATH=" + os.Getenv("PATH"),
		"STAMP_INSTANCE=" + dir + "|acme/web-0",
	} {
		if !slices.Contains(env, want) {
			t.Errorf("environment lacks %q:\n%s", want, body)
		}
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, "STAMP_TEST_") {
			t.Errorf("environment leaks the control plane's %q", kv)
		}
	}
}

// killAndRestart kills the process of inst, tenant's one web instance,
// and returns the instance the driver restarted in its place.
func killAndRestart(t *testing.T, d *Driver, tenant string, inst stamp.Instance) stamp.Instance {
	t.Helper()
	if err := syscall.Kill(inst.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var after stamp.Instance
	eventually(t, "a new "+inst.ID, func() bool {
		insts := observe(t, d, tenant).Services["web"].Instances
		if len(insts) != 1 || insts[0].PID == inst.PID {
			return false
		}
		after = insts[0]
		return true
	})
	return after
}

func TestKilledInstanceRestartsOnSamePort(t *testing.T) {
	d := open(t, newDir(t))
	apply(t, d, runtime("acme", web(1, "serve")))
	before := running(t, d, "acme", "web", 1)[0]
	waitHealthy(t, before.Endpoint)

	after := killAndRestart(t, d, "acme", before)
	if after.Endpoint != before.Endpoint {
		t.Errorf("endpoint after restart: got %q, want %q", after.Endpoint, before.Endpoint)
	}
	waitHealthy(t, after.Endpoint)
	so := observe(t, d, "acme").Services["web"]
	if so.Restarts != 1 || so.LastExit != "signal: killed" {
		t.Errorf("got %d restarts, last exit %q; want 1 and %q", so.Restarts, so.LastExit, "signal: killed")
	}
}

func TestCrashReportsExitStatus(t *testing.T) {
	d := open(t, newDir(t))
	apply(t, d, runtime("acme", web(1, "crash")))
	eventually(t, "a crash to be reported", func() bool {
		return observe(t, d, "acme").Services["web"].Restarts >= 2
	})
	if got, want := observe(t, d, "acme").Services["web"].LastExit, "exit status 2"; got != want {
		t.Errorf("last exit: got %q, want %q", got, want)
	}
	log, err := os.ReadFile(filepath.Join(d.dir, "tenants", "acme", "logs", "web-0.log"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(log), "crashing\n") < 2 {
		t.Errorf("log: got %q, want the output of every run appended", log)
	}
}

func TestRestartReadoptsInstances(t *testing.T) {
	dir := newDir(t)
	d := open(t, dir)
	worker := stamp.Service{Name: "worker", Command: command("sleep", "1h"), Replicas: 1}
	rt := runtime("acme", web(2, "serve-child"), worker)
	apply(t, d, rt)
	webs := running(t, d, "acme", "web", 2)
	workers := running(t, d, "acme", "worker", 1)
	for _, in := range webs {
		waitHealthy(t, in.Endpoint)
	}
	procs := markedIDs(dir)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if got := markedIDs(dir); !slices.Equal(got, procs) {
		t.Fatalf("processes after Close: got %q, want them untouched: %q", got, procs)
	}

	d = open(t, dir)
	if got := running(t, d, "acme", "web", 2); !slices.Equal(pidsOf(got), pidsOf(webs)) || !slices.Equal(endpointsOf(got), endpointsOf(webs)) {
		t.Errorf("web after New: got %v, want the adopted %v", got, webs)
	}
	if got := running(t, d, "acme", "worker", 1); got[0].PID != workers[0].PID {
		t.Errorf("worker pid after New: got %d, want the adopted %d", got[0].PID, workers[0].PID)
	}
	// web's children share its session: not orphans, not killed.
	if got := markedIDs(dir); !slices.Equal(got, procs) {
		t.Errorf("processes after New: got %q, want %q", got, procs)
	}
	apply(t, d, rt)
	if got := markedIDs(dir); !slices.Equal(got, procs) {
		t.Errorf("processes after applying again: got %q, want %q", got, procs)
	}

	// An adopted instance that dies is restarted too, on its port.
	if err := syscall.Kill(webs[0].PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "web-0 to be restarted", func() bool {
		got := observe(t, d, "acme").Services["web"].Instances
		return len(got) == 2 && !slices.Contains(pidsOf(got), webs[0].PID)
	})
	got := running(t, d, "acme", "web", 2)
	if got[0].Endpoint != webs[0].Endpoint {
		t.Errorf("endpoint of the restarted web-0: got %q, want %q", got[0].Endpoint, webs[0].Endpoint)
	}
	waitHealthy(t, got[0].Endpoint)
}

// TestControlPlaneKilled kills a real control-plane process (this test
// binary run as controlPlane) with SIGKILL and checks that another driver
// on the directory, which worked on a tenant of its own meanwhile, takes
// its tenant over: it adopts what the dead one left.
func TestControlPlaneKilled(t *testing.T) {
	dir := newDir(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cp := exec.Command(exe)
	cp.Env = append(os.Environ(), "STAMP_LOCAL_TEST_CONTROL_PLANE="+dir)
	out, err := cp.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cp.Stderr = os.Stderr
	if err := cp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cp.Process.Kill(); cp.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("control plane said %q, %v; want %q", line, err, "ready")
	}
	acme := markedIDs(dir)
	d := open(t, dir)
	apply(t, d, runtime("globex", web(1, "serve")))
	running(t, d, "globex", "web", 1)
	procs := markedIDs(dir)
	if want := append(slices.Clone(acme), "globex/web-0"); !slices.Equal(procs, want) {
		t.Errorf("processes with two control planes: got %q, want %q", procs, want)
	}
	if err := cp.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cp.Wait()

	insts := running(t, d, "acme", "web", 2)
	if got := markedIDs(dir); !slices.Equal(got, procs) {
		t.Errorf("processes after taking acme over: got %q, want %q", got, procs)
	}
	var st tenantState
	if _, err := readJSON(filepath.Join(dir, "tenants", "acme", "state.json"), &st); err != nil {
		t.Fatal(err)
	}
	for i, in := range insts {
		if in.PID != st.Instances[i].PID {
			t.Errorf("%s pid: got %d, want the recorded %d", in.ID, in.PID, st.Instances[i].PID)
		}
		waitHealthy(t, in.Endpoint)
	}
	// The dead instance's parent is gone: it is polled, and restarted.
	if err := syscall.Kill(insts[1].PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "web-1 to be restarted", func() bool {
		so := observe(t, d, "acme").Services["web"]
		return len(so.Instances) == 2 && !slices.Contains(pidsOf(so.Instances), insts[1].PID)
	})
	if got, want := observe(t, d, "acme").Services["web"].LastExit, "exited (adopted process: status unknown)"; got != want {
		t.Errorf("last exit: got %q, want %q", got, want)
	}
}

// controlPlane is TestMain in the child of TestControlPlaneKilled: it
// applies a runtime, says "ready" and waits to be killed.
func controlPlane(dir string) {
	if _, err := buildApp(); err != nil {
		fmt.Fprintln(os.Stderr, "build test app:", err)
		os.Exit(1)
	}
	d, err := New(context.Background(), config(dir))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := d.Apply(context.Background(), runtime("acme", web(2, "serve"))); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("ready")
	select {}
}

func TestRecycledPIDIsNotAdopted(t *testing.T) {
	dir := newDir(t)
	d := open(t, dir)
	apply(t, d, runtime("acme", web(1, "serve")))
	running(t, d, "acme", "web", 1)
	d.Close()
	for _, m := range scanMarked(dir) {
		killGroup(m)
	}

	// A process that is not ours now has the recorded pid, as a recycled
	// pid would, but its start time differs.
	stranger := exec.Command("sleep", "60")
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stranger.Process.Kill(); stranger.Wait() })
	st, err := readStat(stranger.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	statePath := filepath.Join(dir, "tenants", "acme", "state.json")
	var state tenantState
	if _, err := readJSON(statePath, &state); err != nil {
		t.Fatal(err)
	}
	state.Instances[0].PID, state.Instances[0].StartTime = stranger.Process.Pid, st.start+1
	if err := writeJSON(statePath, &state); err != nil {
		t.Fatal(err)
	}

	d = open(t, dir)
	inst := running(t, d, "acme", "web", 1)[0]
	if inst.PID == stranger.Process.Pid {
		t.Errorf("web-0 pid: got the stranger's %d, want a new process", inst.PID)
	}
	waitHealthy(t, inst.Endpoint)
	if !alive(stranger.Process.Pid, st.start) {
		t.Errorf("the stranger with the recycled pid was killed")
	}
}

func TestOrphansAreKilled(t *testing.T) {
	dir := newDir(t)
	d := open(t, dir)
	apply(t, d, runtime("acme", web(1, "serve")))
	apply(t, d, runtime("initech", web(1, "serve")))
	inst := running(t, d, "acme", "web", 1)[0]
	running(t, d, "initech", "web", 1)
	d.Close()

	start := func(marker string) *exec.Cmd {
		t.Helper()
		cmd := exec.Command(filepath.Join(dir, "bundles", strings.TrimPrefix(app.ref.Digest, "sha256:"), "bin", "app"), "sleep", "1h")
		cmd.Env = []string{markerVar + "=" + marker}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	// Processes started with our marker whose start was never recorded,
	// as after a crash between fork and writing state.
	orphans := []*exec.Cmd{start(dir + "|acme/web-1"), start(dir + "|acme/task:other")}
	// A task run started but not recorded, as its intent file tells: the
	// next RunTask of it adopts it.
	if err := os.WriteFile(filepath.Join(dir, "tenants", "acme", "tasks", "migrate.starting"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	unrecorded := start(dir + "|acme/task:migrate")
	// Another tenant's process, which taking acme up does not look at: it
	// could be one that another driver has just started.
	initech := start(dir + "|initech/web-7")
	// A process of a tenant with no directory left.
	globex := start(dir + "|globex/task:migrate")
	// A process of another driver directory, which is not ours to kill.
	other := start(dir + "-other|acme/web-1")
	all := append(slices.Clone(orphans), unrecorded, initech, globex, other)

	d = open(t, dir)
	for _, c := range all {
		if !runs(c) {
			t.Errorf("process %d died at New, which takes no tenant up", c.Process.Pid)
		}
	}
	if got := running(t, d, "acme", "web", 1)[0]; got.PID != inst.PID {
		t.Errorf("web-0 pid: got %d, want the adopted %d", got.PID, inst.PID)
	}
	waitKilled(t, orphans...)
	for _, c := range []*exec.Cmd{unrecorded, initech, globex, other} {
		if !runs(c) {
			t.Errorf("process %d died when acme was taken up", c.Process.Pid)
		}
	}

	running(t, d, "initech", "web", 1)
	waitKilled(t, initech)

	// The tenant with no directory is listed, so that the reconciler
	// removes it as a leftover, which kills its process.
	names, err := d.Tenants(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"acme", "globex", "initech"}; !slices.Equal(names, want) {
		t.Errorf("tenants: got %q, want %q", names, want)
	}
	if err := d.Remove(context.Background(), "globex"); err != nil {
		t.Fatalf("remove globex: %v", err)
	}
	waitKilled(t, globex)
	if !runs(unrecorded) || !runs(other) {
		t.Errorf("the unrecorded task or the other directory's process died")
	}
}

// runs reports whether c's process has not exited.
func runs(c *exec.Cmd) bool {
	st, err := readStat(c.Process.Pid)
	return err == nil && !st.dead()
}

// waitKilled waits until each of cmds was killed by SIGKILL.
func waitKilled(t *testing.T, cmds ...*exec.Cmd) {
	t.Helper()
	for _, c := range cmds {
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		select {
		case err := <-done:
			if err == nil || err.Error() != "signal: killed" {
				t.Errorf("process %d: got %v, want %q", c.Process.Pid, err, "signal: killed")
			}
		case <-time.After(wait):
			t.Fatalf("process %d still runs", c.Process.Pid)
		}
	}
}

// TestPortsNeverCollide runs two drivers on one directory, as two control
// planes on one host, applying 20 tenants each at once.
func TestPortsNeverCollide(t *testing.T) {
	dir := newDir(t)
	cfg := config(dir)
	d1, d2 := openConfig(t, cfg), openConfig(t, cfg)
	// A port someone else holds is skipped.
	held, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.PortMin)))
	if err != nil {
		t.Skipf("port %d is taken: %v", cfg.PortMin, err)
	}
	defer held.Close()

	worker := stamp.Service{Name: "worker", Command: command("sleep", "1h"), Replicas: 1}
	tenants := func(from, to int) []string {
		var names []string
		for i := from; i < to; i++ {
			names = append(names, fmt.Sprintf("t%02d", i))
		}
		return names
	}
	applyAll := func(d *Driver, names []string) {
		var wg sync.WaitGroup
		for _, name := range names {
			wg.Go(func() {
				if err := d.Apply(context.Background(), runtime(name, web(2, "serve"), worker)); err != nil {
					t.Errorf("apply %s: %v", name, err)
				}
			})
		}
		wg.Wait()
	}
	seen := make(map[string]string)
	check := func(d *Driver, names []string) {
		t.Helper()
		for _, name := range names {
			for _, in := range running(t, d, name, "web", 2) {
				if other, ok := seen[in.Endpoint]; ok && other != name+"/"+in.ID {
					t.Errorf("%s/%s has endpoint %s of %s", name, in.ID, in.Endpoint, other)
				}
				seen[in.Endpoint] = name + "/" + in.ID
				_, p, _ := net.SplitHostPort(in.Endpoint)
				if port, _ := strconv.Atoi(p); port <= cfg.PortMin || port > cfg.PortMax {
					t.Errorf("%s/%s port %d: want it in %d..%d, not the held %d", name, in.ID, port, cfg.PortMin, cfg.PortMax, cfg.PortMin)
				}
				waitHealthy(t, in.Endpoint)
			}
		}
	}
	first, second := tenants(0, 20), tenants(20, 40)
	var wg sync.WaitGroup
	wg.Go(func() { applyAll(d1, first) })
	wg.Go(func() { applyAll(d2, second) })
	wg.Wait()
	check(d1, first)
	check(d2, second)
	if got := len(seen); got != 80 {
		t.Errorf("endpoints: got %d, want 80", got)
	}
	registry := readRegistry(t, dir)
	for endpoint, owner := range seen {
		_, p, _ := net.SplitHostPort(endpoint)
		port, _ := strconv.Atoi(p)
		if got := registry[port]; got != owner {
			t.Errorf("registry owner of port %d: got %q, want %q", port, got, owner)
		}
	}
	if got := len(registry); got != 80 {
		t.Errorf("ports in the registry: got %d, want 80", got)
	}

	// One control plane again: it takes every tenant up, with its ports.
	d1.Close()
	d2.Close()
	d := openConfig(t, cfg)
	all := append(first, second...)
	check(d, all)
	more := tenants(40, 45)
	applyAll(d, more)
	check(d, append(all, more...))
	if got := len(seen); got != 90 {
		t.Errorf("endpoints after a restart: got %d, want 90", got)
	}
}

// readRegistry returns the port registry of dir.
func readRegistry(t *testing.T, dir string) portOwners {
	t.Helper()
	owners, err := ReadPorts(dir)
	if err != nil {
		t.Fatal(err)
	}
	return owners
}

// TestPortRegistry checks the registry's repairs: rebuilt when missing,
// ports of a removed tenant freed (once the range of six has no other
// free port), ports never recorded by their tenant freed when it is
// taken up.
func TestPortRegistry(t *testing.T) {
	dir := newDir(t)
	ctx := context.Background()
	cfg := config(dir)
	cfg.PortMin, cfg.PortMax = bindableRange(t, 6)
	d := openConfig(t, cfg)
	shape := func(tenant string) *stamp.Runtime {
		return runtime(tenant, stamp.Service{Name: "web", Port: 8080, Replicas: 2})
	}
	// Prepared ports are recorded but nothing listens on them: only the
	// registry keeps them from another tenant.
	prepare := func(tenant string) []int {
		t.Helper()
		if err := d.Prepare(ctx, shape(tenant)); err != nil {
			t.Fatalf("prepare %s: %v", tenant, err)
		}
		var st tenantState
		if _, err := readJSON(filepath.Join(dir, "tenants", tenant, "state.json"), &st); err != nil {
			t.Fatal(err)
		}
		var ports []int
		for _, inst := range st.Instances {
			ports = append(ports, inst.Port)
		}
		return ports
	}
	owners := func(tenant string, ports []int) portOwners {
		o := make(portOwners)
		for i, p := range ports {
			o[p] = tenant + "/web-" + strconv.Itoa(i)
		}
		return o
	}
	acme := prepare("acme")

	if err := os.Remove(filepath.Join(dir, journalFile)); err != nil {
		t.Fatal(err)
	}
	globex := prepare("globex")
	if slices.ContainsFunc(globex, func(p int) bool { return slices.Contains(acme, p) }) {
		t.Fatalf("ports after the registry was lost: globex got %v, which acme holds: %v", globex, acme)
	}
	want := owners("acme", acme)
	maps.Copy(want, owners("globex", globex))
	if got := readRegistry(t, dir); !maps.Equal(got, want) {
		t.Errorf("rebuilt registry: got %v, want %v", got, want)
	}

	if err := d.Remove(ctx, "globex"); err != nil {
		t.Fatal(err)
	}
	if got, want := readRegistry(t, dir), owners("acme", acme); !maps.Equal(got, want) {
		t.Errorf("registry after removing globex: got %v, want %v", got, want)
	}

	// Left by crashes: globex's ports again, as if its Remove died after
	// deleting its directory, and a port acme never recorded. Of the six
	// ports one is left free, and initech needs two.
	appendJournal(t, dir, fmt.Sprintf("+%d globex/web-0\n+%d globex/web-1\n+%d acme/web-9\n", globex[0], globex[1], globex[1]+1))
	if got := prepare("initech"); !slices.Equal(got, globex) {
		t.Errorf("initech ports: got %v, want the removed globex's %v", got, globex)
	}
	d.Close()
	d = openConfig(t, cfg)
	observe(t, d, "acme")
	want = owners("acme", acme)
	maps.Copy(want, owners("initech", globex))
	if got := readRegistry(t, dir); !maps.Equal(got, want) {
		t.Errorf("registry after acme was taken up: got %v, want %v", got, want)
	}
}

func TestPrepare(t *testing.T) {
	dir := newDir(t)
	d := open(t, dir)
	shape := runtime("acme", stamp.Service{Name: "web", Port: 8080, Replicas: 2})
	for range 2 {
		if err := d.Prepare(context.Background(), shape); err != nil {
			t.Fatalf("prepare: %v", err)
		}
	}
	if got := markedIDs(dir); len(got) != 0 {
		t.Errorf("processes after prepare: got %q, want none", got)
	}
	if obs := observe(t, d, "acme"); len(obs.Services) != 0 {
		t.Errorf("services after prepare: got %v, want none", obs.Services)
	}
	var st tenantState
	if _, err := readJSON(filepath.Join(dir, "tenants", "acme", "state.json"), &st); err != nil {
		t.Fatal(err)
	}
	var prepared []string
	for _, inst := range st.Instances {
		prepared = append(prepared, net.JoinHostPort("127.0.0.1", strconv.Itoa(inst.Port)))
	}
	if len(prepared) != 2 || prepared[0] == prepared[1] {
		t.Fatalf("prepared endpoints: got %q, want two distinct", prepared)
	}

	apply(t, d, runtime("acme", web(2, "serve")))
	if got := endpointsOf(running(t, d, "acme", "web", 2)); !slices.Equal(got, prepared) {
		t.Errorf("endpoints after apply: got %q, want the prepared %q", got, prepared)
	}
}

func TestStopAll(t *testing.T) {
	dir := newDir(t)
	d := open(t, dir)
	apply(t, d, runtime("acme", web(1, "ignore-term")))
	apply(t, d, runtime("globex", web(1, "serve")))
	waitHealthy(t, running(t, d, "acme", "web", 1)[0].Endpoint)
	running(t, d, "globex", "web", 1)
	if err := d.StopAll(context.Background()); err != nil {
		t.Fatalf("stop all: %v", err)
	}
	if got := markedIDs(dir); len(got) != 0 {
		t.Errorf("processes after StopAll: got %q, want none", got)
	}
	if obs := observe(t, d, "acme"); len(obs.Services["web"].Instances) != 0 {
		t.Errorf("acme instances after StopAll: got %v, want none", obs.Services["web"].Instances)
	}
	d.Close()

	// The instances are still applied: taking the tenants up starts them
	// again.
	d = open(t, dir)
	running(t, d, "acme", "web", 1)
	running(t, d, "globex", "web", 1)

	// StopAll stops the tenants a driver has not taken up as well, and
	// does not start the ones that are already stopped.
	d.Close()
	d = open(t, dir)
	if err := d.StopAll(context.Background()); err != nil {
		t.Fatalf("stop all: %v", err)
	}
	if got := markedIDs(dir); len(got) != 0 {
		t.Errorf("processes after StopAll of tenants not taken up: got %q, want none", got)
	}
	waitHealthy(t, running(t, d, "acme", "web", 1)[0].Endpoint)
}

func TestTaskOutputIsTheTail(t *testing.T) {
	d := open(t, newDir(t))
	res, err := d.RunTask(context.Background(), "acme", &stamp.Task{Name: "fail", Bundle: app.ref, Command: command("fail", "30")})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := 11; i <= 30; i++ {
		want = append(want, "line "+strconv.Itoa(i))
	}
	if res.ExitCode != 3 || res.Output != strings.Join(want, "\n") {
		t.Errorf("got exit code %d, output %q; want 3, lines 11 to 30", res.ExitCode, res.Output)
	}
}

func TestTaskSurvivesRestart(t *testing.T) {
	dir := newDir(t)
	file := filepath.Join(t.TempDir(), "runs")
	task := &stamp.Task{Name: "migrate-1.0.0", Bundle: app.ref, Command: command("append", file, "2s"), Timeout: time.Minute}
	d := open(t, dir)
	errc := make(chan error, 1)
	go func() {
		_, err := d.RunTask(context.Background(), "acme", task)
		errc <- err
	}()
	record := filepath.Join(dir, "tenants", "acme", "tasks", task.Name+".json")
	eventually(t, "the task to run", func() bool {
		_, err := os.Stat(record)
		data, _ := os.ReadFile(file)
		return err == nil && len(data) > 0
	})
	d.Close()
	if err := <-errc; stamp.ErrorCode(err) != stamp.EUNAVAILABLE {
		t.Errorf("RunTask interrupted by Close: got %v, want code %q", err, stamp.EUNAVAILABLE)
	}

	d = open(t, dir)
	res, err := d.RunTask(context.Background(), "acme", task)
	if err != nil {
		t.Fatalf("run task after restart: %v", err)
	}
	if res.ExitCode != 0 || res.Output != "appended" {
		t.Errorf("got exit code %d, output %q; want 0 and %q", res.ExitCode, res.Output, "appended")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(data), "\n"); got != 1 {
		t.Errorf("runs: got %d, want 1", got)
	}
}

func TestTaskKilledWhileControlPlaneWasDown(t *testing.T) {
	dir := newDir(t)
	task := &stamp.Task{Name: "seed", Bundle: app.ref, Command: command("sleep", "1h")}
	d := open(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := d.RunTask(ctx, "acme", task)
		errc <- err
	}()
	eventually(t, "the task to run", func() bool { return slices.Contains(markedIDs(dir), "acme/task:seed") })
	cancel()
	if err := <-errc; err == nil {
		t.Errorf("RunTask with a cancelled context: got no error")
	}
	d.Close()
	for _, m := range scanMarked(dir) {
		killGroup(m)
	}

	d = open(t, dir)
	res, err := d.RunTask(context.Background(), "acme", task)
	if err != nil {
		t.Fatalf("run task: %v", err)
	}
	if res.ExitCode != -1 || !strings.Contains(res.Output, "without recording an exit code") {
		t.Errorf("got exit code %d, output %q; want -1 and a word on the missing exit code", res.ExitCode, res.Output)
	}
}

func TestRemoveLeavesNothing(t *testing.T) {
	dir := newDir(t)
	cfg := config(dir)
	cfg.StopTimeout = 500 * time.Millisecond
	d := openConfig(t, cfg)
	worker := stamp.Service{Name: "worker", Command: command("ignore-term"), Port: 1, Replicas: 1}
	apply(t, d, runtime("acme", web(2, "serve-child"), worker))
	apply(t, d, runtime("globex", web(1, "serve")))
	insts := append(running(t, d, "acme", "web", 2), running(t, d, "acme", "worker", 1)...)
	for _, in := range insts {
		waitHealthy(t, in.Endpoint)
	}
	taskErr := make(chan error, 1)
	go func() {
		_, err := d.RunTask(context.Background(), "acme", &stamp.Task{Name: "slow", Bundle: app.ref, Command: command("sleep", "1h")})
		taskErr <- err
	}()
	eventually(t, "the task to run", func() bool { return slices.Contains(markedIDs(dir), "acme/task:slow") })

	if err := d.Remove(context.Background(), "acme"); err != nil {
		t.Fatalf("remove: %v", err)
	}
	for _, id := range markedIDs(dir) {
		if strings.HasPrefix(id, "acme/") {
			t.Errorf("process %s runs after remove", id)
		}
	}
	if got := markedIDs(dir); !slices.Equal(got, []string{"globex/web-0"}) {
		t.Errorf("processes after removing acme: got %q, want globex's only", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "tenants", "acme")); !os.IsNotExist(err) {
		t.Errorf("tenant dir after remove: got %v, want not exist", err)
	}
	if err := <-taskErr; err == nil {
		t.Errorf("RunTask of the removed tenant: got no error")
	}
	for _, in := range insts {
		l, err := net.Listen("tcp", in.Endpoint)
		if err != nil {
			t.Errorf("port of %s after remove: %v", in.ID, err)
			continue
		}
		l.Close()
	}
	// The ports go to the next tenant.
	apply(t, d, runtime("initech", web(2, "serve")))
	got := endpointsOf(running(t, d, "initech", "web", 2))
	if !slices.Contains(endpointsOf(insts), got[0]) {
		t.Errorf("initech endpoints: got %q, want acme's released ports %q reused", got, endpointsOf(insts))
	}
	names, err := d.Tenants(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"globex", "initech"}; !slices.Equal(names, want) {
		t.Errorf("tenants: got %q, want %q", names, want)
	}
}

func TestInvalidInput(t *testing.T) {
	d := open(t, newDir(t))
	ctx := context.Background()
	tests := []struct {
		name string
		err  error
	}{
		{"tenant with slash", d.Apply(ctx, runtime("../x", web(1, "serve")))},
		{"bad digest", d.Apply(ctx, &stamp.Runtime{Tenant: "acme", Bundle: stamp.BundleRef{Digest: "sha256:../../x"}})},
		{"no command", d.Apply(ctx, runtime("acme", stamp.Service{Name: "web", Replicas: 1}))},
		{"service twice", d.Apply(ctx, runtime("acme", web(1, "serve"), web(1, "serve")))},
		{"remove bad name", d.Remove(ctx, "a/b")},
		{"task name with slash", func() error {
			_, err := d.RunTask(ctx, "acme", &stamp.Task{Name: "../x", Bundle: app.ref, Command: command("crash")})
			return err
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stamp.ErrorCode(tt.err); got != stamp.EINVALID {
				t.Errorf("got code %q (%v), want %q", got, tt.err, stamp.EINVALID)
			}
		})
	}
	if _, err := d.Observe(ctx, "acme"); err != nil {
		t.Errorf("observe after invalid applies: %v", err)
	}
}

func TestChildrenOfACrashedInstanceAreKilled(t *testing.T) {
	dir := newDir(t)
	d := open(t, dir)
	apply(t, d, runtime("acme", web(1, "serve-child")))
	leader := running(t, d, "acme", "web", 1)[0]
	waitHealthy(t, leader.Endpoint)
	var child marked
	for _, m := range scanMarked(dir) {
		if m.pid != leader.PID {
			child = m
		}
	}
	if child.pid == 0 {
		t.Fatalf("no child of web-0 among %q", markedIDs(dir))
	}

	if err := syscall.Kill(leader.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, running(t, d, "acme", "web", 1)[0].Endpoint)
	eventually(t, "the new web-0 and its child", func() bool {
		return slices.Equal(markedIDs(dir), []string{"acme/web-0", "acme/web-0"})
	})
	if alive(child.pid, child.stat.start) {
		t.Errorf("the child %d of the crashed web-0 still runs", child.pid)
	}
}

// TestNewTakesNothingUp opens a second driver on a directory whose tenants
// another one runs: until a call names a tenant, it holds none and touches
// no process.
func TestNewTakesNothingUp(t *testing.T) {
	dir := newDir(t)
	ctx := context.Background()
	a := open(t, dir)
	apply(t, a, runtime("acme", web(1, "serve")))
	apply(t, a, runtime("globex", web(1, "serve")))
	waitHealthy(t, running(t, a, "acme", "web", 1)[0].Endpoint)
	running(t, a, "globex", "web", 1)
	procs := markedIDs(dir)

	b := open(t, dir)
	if got := markedIDs(dir); !slices.Equal(got, procs) {
		t.Errorf("processes after a second New: got %q, want %q", got, procs)
	}
	names, err := b.Tenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"acme", "globex"}; !slices.Equal(names, want) {
		t.Errorf("tenants: got %q, want %q", names, want)
	}
	eventually(t, "the log of acme's web", func() bool {
		r, err := b.Logs(ctx, "acme", "web", stamp.LogOptions{})
		if err != nil {
			t.Fatalf("logs: %v", err)
		}
		defer r.Close()
		data, err := io.ReadAll(r)
		return err == nil && strings.Contains(string(data), "serving on")
	})
	if obs := observe(t, b, "nobody"); len(obs.Services) != 0 {
		t.Errorf("services of a tenant with no directory: got %v, want none", obs.Services)
	}
	if _, err := os.Stat(filepath.Join(dir, "tenants", "nobody")); !os.IsNotExist(err) {
		t.Errorf("directory of the observed unknown tenant: got %v, want not exist", err)
	}
	b.mu.Lock()
	held := slices.Sorted(maps.Keys(b.tenants))
	b.mu.Unlock()
	if len(held) != 0 {
		t.Errorf("tenants held after Tenants, Logs and Observe of an unknown tenant: got %q, want none", held)
	}
	if got := markedIDs(dir); !slices.Equal(got, procs) {
		t.Errorf("processes at the end: got %q, want %q", got, procs)
	}
}

func TestRelease(t *testing.T) {
	dir := newDir(t)
	ctx := context.Background()
	d := open(t, dir)
	apply(t, d, runtime("acme", web(2, "serve")))
	before := running(t, d, "acme", "web", 2)
	for _, in := range before {
		waitHealthy(t, in.Endpoint)
	}
	procs := markedIDs(dir)
	sups := d.tenantIfKnown("acme").supervisors()

	if err := d.Release(ctx, "acme"); err != nil {
		t.Fatalf("release: %v", err)
	}
	for _, s := range sups {
		select {
		case <-s.done:
		default:
			t.Errorf("the supervisor of %s runs on after Release", s.id)
		}
	}
	if d.tenantIfKnown("acme") != nil {
		t.Errorf("acme is still held after Release")
	}
	if got := markedIDs(dir); !slices.Equal(got, procs) {
		t.Errorf("processes after Release: got %q, want them untouched: %q", got, procs)
	}
	for _, in := range before {
		waitHealthy(t, in.Endpoint)
	}
	for _, name := range []string{"acme", "nobody", "../x"} {
		if err := d.Release(ctx, name); err != nil {
			t.Errorf("release %s, not held: got %v, want nil", name, err)
		}
	}
	// A call cancelled before the release (the pass of a lost lease) does
	// not take the tenant back.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.Observe(cancelled, "acme"); !errors.Is(err, context.Canceled) {
		t.Errorf("observe with a cancelled context: got %v, want %v", err, context.Canceled)
	}
	if d.tenantIfKnown("acme") != nil {
		t.Errorf("acme is held after a cancelled Observe")
	}

	// The next call takes the tenant up again: same processes, supervised.
	after := running(t, d, "acme", "web", 2)
	if !slices.Equal(pidsOf(after), pidsOf(before)) {
		t.Errorf("pids after taking acme up again: got %v, want the adopted %v", pidsOf(after), pidsOf(before))
	}
	if err := syscall.Kill(after[0].PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "web-0 to be restarted", func() bool {
		got := observe(t, d, "acme").Services["web"].Instances
		return len(got) == 2 && !slices.Contains(pidsOf(got), after[0].PID)
	})
}

func TestReleaseDuringTask(t *testing.T) {
	dir := newDir(t)
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "runs")
	task := &stamp.Task{Name: "migrate-1.0.0", Bundle: app.ref, Command: command("append", file, "2s"), Timeout: time.Minute}
	d := open(t, dir)
	errc := make(chan error, 1)
	go func() {
		_, err := d.RunTask(ctx, "acme", task)
		errc <- err
	}()
	eventually(t, "the task to run", func() bool {
		data, _ := os.ReadFile(file)
		return len(data) > 0
	})
	if err := d.Release(ctx, "acme"); err != nil {
		t.Fatalf("release: %v", err)
	}
	if err := <-errc; stamp.ErrorCode(err) != stamp.EUNAVAILABLE {
		t.Errorf("RunTask of the released tenant: got %v, want code %q", err, stamp.EUNAVAILABLE)
	}

	// Taking acme up again finds the task running, and waits for it.
	res, err := d.RunTask(ctx, "acme", task)
	if err != nil {
		t.Fatalf("run task after release: %v", err)
	}
	if res.ExitCode != 0 || res.Output != "appended" {
		t.Errorf("got exit code %d, output %q; want 0 and %q", res.ExitCode, res.Output, "appended")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(data), "\n"); got != 1 {
		t.Errorf("runs: got %d, want 1", got)
	}
}

// TestTakeover has driver a run a tenant and close without stopping it,
// as its control plane dies, while driver b runs another tenant on the
// same directory; b then takes the tenant over.
func TestTakeover(t *testing.T) {
	dir := newDir(t)
	ctx := context.Background()
	a, b := open(t, dir), open(t, dir)
	apply(t, a, runtime("acme", web(2, "serve-child")))
	apply(t, b, runtime("globex", web(1, "serve")))
	webs := running(t, a, "acme", "web", 2)
	for _, in := range webs {
		waitHealthy(t, in.Endpoint)
	}
	running(t, b, "globex", "web", 1)
	procs := markedIDs(dir)
	if want := []string{"acme/web-0", "acme/web-0", "acme/web-1", "acme/web-1", "globex/web-0"}; !slices.Equal(procs, want) {
		t.Fatalf("processes: got %q, want %q", procs, want)
	}

	a.Close()
	if got := running(t, b, "acme", "web", 2); !slices.Equal(pidsOf(got), pidsOf(webs)) || !slices.Equal(endpointsOf(got), endpointsOf(webs)) {
		t.Errorf("acme on b: got %v, want the adopted %v", got, webs)
	}
	if got := markedIDs(dir); !slices.Equal(got, procs) {
		t.Errorf("processes after the takeover: got %q, want %q", got, procs)
	}

	// b supervises acme now, alone: a crash is restarted once.
	if err := syscall.Kill(webs[0].PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "web-0 to be restarted", func() bool {
		got := observe(t, b, "acme").Services["web"].Instances
		return len(got) == 2 && !slices.Contains(pidsOf(got), webs[0].PID)
	})
	waitHealthy(t, running(t, b, "acme", "web", 2)[0].Endpoint)
	eventually(t, "the new web-0 with its child", func() bool { return slices.Equal(markedIDs(dir), procs) })
	if so := observe(t, b, "acme").Services["web"]; so.Restarts != 1 {
		t.Errorf("restarts: got %d, want 1", so.Restarts)
	}
	if _, err := a.Observe(ctx, "acme"); stamp.ErrorCode(err) != stamp.EUNAVAILABLE {
		t.Errorf("observe on the closed a: got %v, want code %q", err, stamp.EUNAVAILABLE)
	}
	a.mu.Lock()
	held := len(a.tenants)
	a.mu.Unlock()
	if held != 0 {
		t.Errorf("tenants a holds after Close: got %d, want none", held)
	}
}

// TestRevisionsSurviveRestart checks that a Driver taking a tenant up in
// the middle of a blue/green move re-adopts the instances of both
// revisions, and that retiring the old one afterwards releases its port.
func TestRevisionsSurviveRestart(t *testing.T) {
	dir := newDir(t)
	d := open(t, dir)
	blue := runtime("acme", web(1, "serve"))
	blue.Revision = "1"
	apply(t, d, blue)
	green := runtime("acme", web(1, "serve"))
	green.Revision = "2"
	green.Services[0].Env = map[string]string{"GREETING": "green"}
	apply(t, d, green)
	before := running(t, d, "acme", "web", 2)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	d = open(t, dir)
	after := running(t, d, "acme", "web", 2)
	if !slices.Equal(pidsOf(after), pidsOf(before)) || !slices.Equal(endpointsOf(after), endpointsOf(before)) {
		t.Fatalf("instances after New: got %v, want the adopted %v", after, before)
	}
	if err := d.Retire(context.Background(), "acme", "2"); err != nil {
		t.Fatal(err)
	}
	left := running(t, d, "acme", "web", 1)
	if left[0].ID != "web-0@2" {
		t.Errorf("instance left after retiring revision 1: got %s, want web-0@2", left[0].ID)
	}
	for port, owner := range readRegistry(t, dir) {
		if strings.Contains(owner, "web-0@1") {
			t.Errorf("the port registry after retiring revision 1 still holds its port %d for %s", port, owner)
		}
	}
}

// TestStop stops a tenant as a failed one is: nothing of it runs, its
// logs stay, a restarted driver does not start it again, and Apply does.
func TestStop(t *testing.T) {
	dir := newDir(t)
	d := open(t, dir)
	worker := stamp.Service{Name: "worker", Command: command("sleep", "1h"), Replicas: 1}
	rt := runtime("acme", web(1, "serve"), worker)
	apply(t, d, rt)
	running(t, d, "acme", "worker", 1)
	waitHealthy(t, running(t, d, "acme", "web", 1)[0].Endpoint)
	ctx := context.Background()
	if err := d.Stop(ctx, "acme"); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if got := markedIDs(dir); len(got) != 0 {
		t.Errorf("processes after Stop: got %q, want none", got)
	}
	obs := observe(t, d, "acme")
	if so := obs.Services["web"]; so == nil || len(so.Instances) != 0 || obs.Services["worker"] == nil {
		t.Errorf("observed after Stop: %+v, want both services with no instance", obs.Services)
	}
	if _, err := os.Stat(filepath.Join(dir, "tenants", "acme", "logs", "web-0.log")); err != nil {
		t.Errorf("log of web after Stop: %v", err)
	}
	d.Close()

	d = open(t, dir)
	observe(t, d, "acme") // takes it up
	// Nothing to wait on: the check is that nothing starts meanwhile.
	time.Sleep(300 * time.Millisecond)
	if got := markedIDs(dir); len(got) != 0 {
		t.Errorf("processes after a restart of the driver: got %q, want the stopped tenant to stay stopped", got)
	}
	apply(t, d, rt)
	waitHealthy(t, running(t, d, "acme", "web", 1)[0].Endpoint)
	running(t, d, "acme", "worker", 1)
	for _, name := range []string{"acme", "nobody"} {
		if err := d.Stop(ctx, name); err != nil {
			t.Errorf("stop %s: %v", name, err)
		}
	}
	if err := d.Stop(ctx, "acme"); err != nil {
		t.Errorf("stop again: %v", err)
	}
}
