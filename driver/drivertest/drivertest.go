// Package drivertest is the conformance suite every stamp.Driver passes:
// the behaviour the reconciler relies on, checked against a real driver
// running a real test app. Driver-specific behaviour (adoption after a
// crash, ports, processes) is tested by each driver's own tests.
package drivertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// Env tells the suite how to run the test app on the driver under test.
type Env struct {
	// Bundle holds the test app; the driver must be able to fetch it.
	Bundle stamp.BundleRef
	// App returns the Command and Image that run the test app (the main
	// package in driver/local/testdata/app) with args. Its modes: "serve"
	// (HTTP on $PORT with /healthz), "crash" (exit 2), "sleep D",
	// "fail N" (print "line 1".."line N", exit 3) and "append FILE"
	// (append a line to FILE, print "appended").
	App func(args ...string) (command []string, image string)
	// Scratch is a directory the app's tasks can write to and the test
	// can read, for the run-once check.
	Scratch string
}

// wait bounds every wait of the suite; generous, only to avoid hanging.
const wait = 30 * time.Second

// Run runs the suite against d, with the optional stamp.LogReader and
// stamp.Releaser checks if d has them. Every subtest uses tenants of its own,
// named "dt-...", and removes them when it ends. Endpoints that the driver
// reports must be reachable from the test.
func Run(t *testing.T, d stamp.Driver, env Env) {
	s := &suite{d: d, env: env}
	t.Run("ApplyStartsAndServes", s.applyStartsAndServes)
	t.Run("ApplyIsIdempotent", s.applyIsIdempotent)
	t.Run("ApplyConverges", s.applyConverges)
	t.Run("ObserveUnknownTenant", s.observeUnknownTenant)
	t.Run("CrashingServiceRestarts", s.crashingServiceRestarts)
	t.Run("TaskRunsOnce", s.taskRunsOnce)
	t.Run("TaskFailure", s.taskFailure)
	t.Run("TaskTimeout", s.taskTimeout)
	t.Run("Remove", s.remove)
	t.Run("RevisionsSideBySide", s.revisionsSideBySide)
	if lr, ok := d.(stamp.LogReader); ok {
		t.Run("Logs", func(t *testing.T) { s.logs(t, lr) })
	}
	if r, ok := d.(stamp.Releaser); ok {
		t.Run("ReleaseKeepsInstances", func(t *testing.T) { s.releaseKeepsInstances(t, r) })
	}
}

type suite struct {
	d   stamp.Driver
	env Env
}

// service returns a service running the app with args.
func (s *suite) service(name string, port, replicas int, args ...string) stamp.Service {
	cmd, image := s.env.App(args...)
	return stamp.Service{Name: name, Command: cmd, Image: image, Port: port, Replicas: replicas}
}

func (s *suite) task(name string, timeout time.Duration, args ...string) *stamp.Task {
	cmd, image := s.env.App(args...)
	return &stamp.Task{Name: name, Bundle: s.env.Bundle, Command: cmd, Image: image, Timeout: timeout}
}

func (s *suite) runtime(tenant string, services ...stamp.Service) *stamp.Runtime {
	return &stamp.Runtime{Tenant: tenant, Bundle: s.env.Bundle, Services: services}
}

// apply applies rt and removes its tenant when the test ends.
func (s *suite) apply(t *testing.T, rt *stamp.Runtime) {
	t.Helper()
	t.Cleanup(func() {
		if err := s.d.Remove(context.Background(), rt.Tenant); err != nil {
			t.Errorf("remove %s: %v", rt.Tenant, err)
		}
	})
	if err := s.d.Apply(context.Background(), rt); err != nil {
		t.Fatalf("apply %s: %v", rt.Tenant, err)
	}
}

func (s *suite) observe(t *testing.T, tenant string) *stamp.Observed {
	t.Helper()
	obs, err := s.d.Observe(context.Background(), tenant)
	if err != nil {
		t.Fatalf("observe %s: %v", tenant, err)
	}
	return obs
}

// observeRunning waits until every service of tenant has want[service]
// instances running and returns what it observed.
func (s *suite) observeRunning(t *testing.T, tenant string, want map[string]int) *stamp.Observed {
	t.Helper()
	var obs *stamp.Observed
	eventually(t, fmt.Sprintf("%s to run %v", tenant, want), func() bool {
		obs = s.observe(t, tenant)
		if len(obs.Services) != len(want) {
			return false
		}
		for name, n := range want {
			if so := obs.Services[name]; so == nil || len(so.Instances) != n {
				return false
			}
		}
		return true
	})
	return obs
}

func (s *suite) applyStartsAndServes(t *testing.T) {
	rt := s.runtime("dt-serve",
		s.service("web", 8080, 2, "serve"),
		s.service("worker", 0, 1, "sleep", "1h"))
	s.apply(t, rt)
	obs := s.observeRunning(t, rt.Tenant, map[string]int{"web": 2, "worker": 1})

	web := obs.Services["web"].Instances
	ids := []string{web[0].ID, web[1].ID}
	slices.Sort(ids)
	if want := []string{"web-0", "web-1"}; !slices.Equal(ids, want) {
		t.Errorf("web instance ids: got %q, want %q", ids, want)
	}
	if web[0].Endpoint == "" || web[0].Endpoint == web[1].Endpoint {
		t.Errorf("web endpoints: got %q and %q, want two distinct ones", web[0].Endpoint, web[1].Endpoint)
	}
	for _, inst := range web {
		waitHealthy(t, inst.Endpoint)
	}
	if ep := obs.Services["worker"].Instances[0].Endpoint; ep != "" {
		t.Errorf("worker endpoint: got %q, want none", ep)
	}
	names, err := s.d.Tenants(context.Background())
	if err != nil {
		t.Fatalf("tenants: %v", err)
	}
	if !slices.Contains(names, rt.Tenant) {
		t.Errorf("tenants: got %q, want it to hold %q", names, rt.Tenant)
	}
}

func (s *suite) applyIsIdempotent(t *testing.T) {
	rt := s.runtime("dt-idem", s.service("web", 8080, 2, "serve"))
	s.apply(t, rt)
	before := s.observeRunning(t, rt.Tenant, map[string]int{"web": 2})
	if err := s.d.Apply(context.Background(), rt); err != nil {
		t.Fatalf("apply again: %v", err)
	}
	after := s.observe(t, rt.Tenant)
	if got, want := instances(after, "web"), instances(before, "web"); !slices.Equal(got, want) {
		t.Errorf("instances after a second apply:\ngot  %v\nwant %v", got, want)
	}
}

func (s *suite) applyConverges(t *testing.T) {
	web := s.service("web", 8080, 2, "serve")
	rt := s.runtime("dt-converge", web, s.service("worker", 0, 1, "sleep", "1h"))
	s.apply(t, rt)
	first := s.observeRunning(t, rt.Tenant, map[string]int{"web": 2, "worker": 1})
	web0 := find(t, first, "web", "web-0")

	// Fewer replicas, one service fewer: web-0 runs on untouched.
	web.Replicas = 1
	rt = s.runtime(rt.Tenant, web)
	if err := s.d.Apply(context.Background(), rt); err != nil {
		t.Fatalf("apply fewer: %v", err)
	}
	obs := s.observeRunning(t, rt.Tenant, map[string]int{"web": 1})
	if got := find(t, obs, "web", "web-0"); got != web0 {
		t.Errorf("web-0 after scaling down: got %v, want it untouched: %v", got, web0)
	}

	// A changed spec replaces the instance, at the same endpoint.
	web.Env = map[string]string{"GREETING": "hello"}
	rt = s.runtime(rt.Tenant, web)
	if err := s.d.Apply(context.Background(), rt); err != nil {
		t.Fatalf("apply changed env: %v", err)
	}
	obs = s.observeRunning(t, rt.Tenant, map[string]int{"web": 1})
	got := find(t, obs, "web", "web-0")
	if got.PID == web0.PID && got.StartedAt.Equal(web0.StartedAt) {
		t.Errorf("web-0 after changing its env: got the same instance %v, want a new one", got)
	}
	if got.Endpoint != web0.Endpoint {
		t.Errorf("web-0 endpoint after changing its env: got %q, want %q", got.Endpoint, web0.Endpoint)
	}
	waitHealthy(t, got.Endpoint)
}

func (s *suite) observeUnknownTenant(t *testing.T) {
	obs := s.observe(t, "dt-nobody")
	if len(obs.Services) != 0 {
		t.Errorf("services of an unknown tenant: got %v, want none", obs.Services)
	}
}

func (s *suite) crashingServiceRestarts(t *testing.T) {
	rt := s.runtime("dt-crash", s.service("web", 8080, 1, "crash"))
	s.apply(t, rt)
	eventually(t, "a restart of the crashing service", func() bool {
		so := s.observe(t, rt.Tenant).Services["web"]
		return so != nil && so.Restarts >= 2 && so.LastExit != ""
	})
}

func (s *suite) taskRunsOnce(t *testing.T) {
	const tenant = "dt-task-once"
	t.Cleanup(func() { s.d.Remove(context.Background(), tenant) })
	file := filepath.Join(s.env.Scratch, tenant+".txt")
	task := s.task("migrate-1.0.0", wait, "append", file)
	first, err := s.d.RunTask(context.Background(), tenant, task)
	if err != nil {
		t.Fatalf("run task: %v", err)
	}
	if first.ExitCode != 0 || !strings.Contains(first.Output, "appended") {
		t.Fatalf("first run: got exit code %d, output %q; want 0 and %q", first.ExitCode, first.Output, "appended")
	}
	second, err := s.d.RunTask(context.Background(), tenant, task)
	if err != nil {
		t.Fatalf("run task again: %v", err)
	}
	if *second != *first {
		t.Errorf("second run: got %+v, want the first result %+v", second, first)
	}
	if got := countLines(t, file); got != 1 {
		t.Errorf("runs of the task: got %d, want 1", got)
	}
	other := s.task("seed", wait, "append", file)
	if _, err := s.d.RunTask(context.Background(), tenant, other); err != nil {
		t.Fatalf("run another task: %v", err)
	}
	if got := countLines(t, file); got != 2 {
		t.Errorf("runs after a task of another name: got %d, want 2", got)
	}
}

func (s *suite) taskFailure(t *testing.T) {
	const tenant = "dt-task-fail"
	t.Cleanup(func() { s.d.Remove(context.Background(), tenant) })
	res, err := s.d.RunTask(context.Background(), tenant, s.task("fail", wait, "fail", "30"))
	if err != nil {
		t.Fatalf("run task: %v", err)
	}
	if res.ExitCode != 3 {
		t.Errorf("exit code: got %d, want 3", res.ExitCode)
	}
	if !strings.HasSuffix(res.Output, "line 30") {
		t.Errorf("output: got %q, want it to end with %q", res.Output, "line 30")
	}
}

func (s *suite) taskTimeout(t *testing.T) {
	const tenant = "dt-task-timeout"
	t.Cleanup(func() { s.d.Remove(context.Background(), tenant) })
	res, err := s.d.RunTask(context.Background(), tenant, s.task("slow", time.Second, "sleep", "1h"))
	if err != nil {
		t.Fatalf("run task: %v", err)
	}
	if res.ExitCode != -1 || !strings.Contains(res.Output, "timed out after 1s") {
		t.Errorf("got exit code %d, output %q; want -1 and %q", res.ExitCode, res.Output, "timed out after 1s")
	}
}

func (s *suite) remove(t *testing.T) {
	ctx := context.Background()
	rt := s.runtime("dt-remove", s.service("web", 8080, 1, "serve"))
	s.apply(t, rt)
	obs := s.observeRunning(t, rt.Tenant, map[string]int{"web": 1})
	endpoint := obs.Services["web"].Instances[0].Endpoint
	waitHealthy(t, endpoint)

	if err := s.d.Remove(ctx, rt.Tenant); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if obs := s.observe(t, rt.Tenant); len(obs.Services) != 0 {
		t.Errorf("services after remove: got %v, want none", obs.Services)
	}
	names, err := s.d.Tenants(ctx)
	if err != nil {
		t.Fatalf("tenants: %v", err)
	}
	if slices.Contains(names, rt.Tenant) {
		t.Errorf("tenants after remove: got %q, want no %q", names, rt.Tenant)
	}
	if err := get(endpoint); err == nil {
		t.Errorf("GET %s after remove: got an answer, want none", endpoint)
	}
	if err := s.d.Remove(ctx, rt.Tenant); err != nil {
		t.Errorf("remove again: got %v, want nil", err)
	}
}

// revisionsSideBySide is a blue/green move: a second revision starts
// beside the first, both serve, and retiring the first leaves the second.
func (s *suite) revisionsSideBySide(t *testing.T) {
	ctx := context.Background()
	blue := s.runtime("dt-revisions", s.service("web", 8080, 1, "serve"))
	blue.Revision = "1.0.0"
	s.apply(t, blue)
	first := s.observeRunning(t, blue.Tenant, map[string]int{"web": 1})
	old := find(t, first, "web", "web-0@1.0.0")
	waitHealthy(t, old.Endpoint)

	green := s.runtime(blue.Tenant, s.service("web", 8080, 1, "serve"))
	green.Revision = "2.0.0"
	green.Services[0].Env = map[string]string{"GREETING": "green"}
	if err := s.d.Apply(ctx, green); err != nil {
		t.Fatalf("apply revision 2.0.0: %v", err)
	}
	both := s.observeRunning(t, blue.Tenant, map[string]int{"web": 2})
	if got := find(t, both, "web", "web-0@1.0.0"); got != old {
		t.Errorf("revision 1.0.0 after applying 2.0.0: got %v, want it untouched: %v", got, old)
	}
	fresh := find(t, both, "web", "web-0@2.0.0")
	if fresh.Endpoint == old.Endpoint {
		t.Errorf("revision 2.0.0 endpoint: got %q, the same as 1.0.0's", fresh.Endpoint)
	}
	waitHealthy(t, fresh.Endpoint)
	for _, in := range both.Services["web"].Instances {
		if want := strings.TrimPrefix(in.ID, "web-0@"); in.Revision != want {
			t.Errorf("instance %s: got revision %q, want %q", in.ID, in.Revision, want)
		}
	}

	err := s.d.Retire(ctx, blue.Tenant, "3.0.0")
	if stamp.ErrorCode(err) != stamp.EINVALID {
		t.Errorf("retire keeping a revision never applied: got %v, want EINVALID", err)
	}
	if obs := s.observe(t, blue.Tenant); len(obs.Services["web"].Instances) != 2 {
		t.Errorf("instances after a refused retire: got %v, want both", instances(obs, "web"))
	}

	if err := s.d.Retire(ctx, blue.Tenant, "2.0.0"); err != nil {
		t.Fatalf("retire all but 2.0.0: %v", err)
	}
	after := s.observeRunning(t, blue.Tenant, map[string]int{"web": 1})
	if got := find(t, after, "web", "web-0@2.0.0"); got != fresh {
		t.Errorf("revision 2.0.0 after retiring 1.0.0: got %v, want it untouched: %v", got, fresh)
	}
	if err := get(old.Endpoint); err == nil {
		t.Errorf("GET %s of retired revision 1.0.0: got an answer, want none", old.Endpoint)
	}
	if err := s.d.Retire(ctx, blue.Tenant, "2.0.0"); err != nil {
		t.Errorf("retire again: got %v, want nil", err)
	}
}

func (s *suite) logs(t *testing.T, lr stamp.LogReader) {
	ctx := context.Background()
	rt := s.runtime("dt-logs", s.service("web", 8080, 1, "serve"))
	s.apply(t, rt)
	obs := s.observeRunning(t, rt.Tenant, map[string]int{"web": 1})
	waitHealthy(t, obs.Services["web"].Instances[0].Endpoint)

	eventually(t, "the log to hold the app's first line", func() bool {
		r, err := lr.Logs(ctx, rt.Tenant, "web", stamp.LogOptions{})
		if err != nil {
			t.Fatalf("logs: %v", err)
		}
		defer r.Close()
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("read logs: %v", err)
		}
		return strings.Contains(string(data), "serving on")
	})

	fctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	r, err := lr.Logs(fctx, rt.Tenant, "web", stamp.LogOptions{Follow: true})
	if err != nil {
		t.Fatalf("follow logs: %v", err)
	}
	defer r.Close()
	buf := make([]byte, 4096)
	var got strings.Builder
	for !strings.Contains(got.String(), "serving on") {
		n, err := r.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			t.Fatalf("follow logs: got %q then %v, want a line with %q", got.String(), err, "serving on")
		}
	}

	for _, tt := range []struct{ tenant, service string }{
		{rt.Tenant, "nope"},
		{"dt-nobody", "web"},
	} {
		if _, err := lr.Logs(ctx, tt.tenant, tt.service, stamp.LogOptions{}); stamp.ErrorCode(err) != stamp.ENOTFOUND {
			t.Errorf("logs of %s/%s: got %v, want code %q", tt.tenant, tt.service, err, stamp.ENOTFOUND)
		}
	}
}

// releaseKeepsInstances checks that a released tenant's instances run on
// and that the next call takes them up again as they are.
func (s *suite) releaseKeepsInstances(t *testing.T, r stamp.Releaser) {
	ctx := context.Background()
	rt := s.runtime("dt-release", s.service("web", 8080, 2, "serve"))
	s.apply(t, rt)
	before := instances(s.observeRunning(t, rt.Tenant, map[string]int{"web": 2}), "web")
	for _, in := range before {
		waitHealthy(t, in.Endpoint)
	}
	if err := r.Release(ctx, rt.Tenant); err != nil {
		t.Fatalf("release: %v", err)
	}
	for _, in := range before {
		if err := get(in.Endpoint); err != nil {
			t.Errorf("GET %s after release: %v, want the instance serving on", in.Endpoint, err)
		}
	}
	after := instances(s.observeRunning(t, rt.Tenant, map[string]int{"web": 2}), "web")
	for i, in := range after {
		if b := before[i]; in.ID != b.ID || in.Endpoint != b.Endpoint || in.PID != b.PID || !in.StartedAt.Equal(b.StartedAt) {
			t.Errorf("instance after release: got %v, want it adopted as it was: %v", in, b)
		}
	}
	if err := r.Release(ctx, "dt-nobody"); err != nil {
		t.Errorf("release a tenant the driver does not hold: got %v, want nil", err)
	}
}

// instance is the comparable identity of an observed instance.
type instance struct {
	ID, Endpoint string
	PID          int
	StartedAt    time.Time
}

func (i instance) String() string {
	return fmt.Sprintf("%s(%s pid %d started %s)", i.ID, i.Endpoint, i.PID, i.StartedAt.Format(time.RFC3339Nano))
}

func instances(obs *stamp.Observed, service string) []instance {
	var out []instance
	if so := obs.Services[service]; so != nil {
		for _, in := range so.Instances {
			out = append(out, instance{in.ID, in.Endpoint, in.PID, in.StartedAt})
		}
	}
	slices.SortFunc(out, func(a, b instance) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func find(t *testing.T, obs *stamp.Observed, service, id string) instance {
	t.Helper()
	for _, in := range instances(obs, service) {
		if in.ID == id {
			return in
		}
	}
	t.Fatalf("no instance %s of %s in %v", id, service, instances(obs, service))
	return instance{}
}

// waitHealthy waits until GET /healthz on endpoint answers 200.
func waitHealthy(t *testing.T, endpoint string) {
	t.Helper()
	eventually(t, endpoint+" to be healthy", func() bool { return get(endpoint) == nil })
}

var client = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func get(endpoint string) error {
	resp, err := client.Get("http://" + endpoint + "/healthz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

// eventually polls cond until it holds, failing t after a generous wait.
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

// countLines returns the number of lines of the file at path.
func countLines(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "\n")
}
