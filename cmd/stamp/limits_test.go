package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	stamp "github.com/stamphq/stamp"
)

// These tests run a tenant that misbehaves (eats memory, burns CPU,
// forks without end) beside a well-behaved one under traffic, on a
// server as the product runs as root: each tenant with its own user,
// cgroup and network namespace.

// hostileBlueprint pushes a copy of the example app named name, whose
// starter plan is plan and which runs one more service, the misbehaving
// command cmd.
func hostileBlueprint(t *testing.T, s *stampServer, name, plan, cmd string) {
	t.Helper()
	s.mustCLI("blueprint", "push", blueprintDir(t,
		"name: ledger", "name: "+name,
		"starter:  { memory: 128Mi, cpu: 0.25, replicas: 1, idle: 15m }", "starter: "+plan,
		"hooks:", "  hog:\n    command: [sh, -c, '"+cmd+"']\nhooks:"))
}

// requireLimits skips the test unless tenant has limits in force.
func requireLimits(t *testing.T, s *stampServer, tenant string) *stamp.Tenant {
	t.Helper()
	tn := s.tenant(tenant)
	if tn.Status.Limits == nil || tn.Status.UID == 0 {
		t.Skipf("tenant %s runs without a user or limits of its own on this host (limits %v, uid %d)", tenant, tn.Status.Limits, tn.Status.UID)
	}
	return tn
}

// deleteAndCheckNothingLeft deletes tenant and checks that nothing it
// held stays on the host: processes of its user, cgroup, network
// namespace, interface, directory.
func deleteAndCheckNothingLeft(t *testing.T, s *stampServer, tn *stamp.Tenant) {
	t.Helper()
	s.mustCLI("tenant", "delete", tn.Name)
	abs, _ := filepath.Abs(s.data)
	if pids := liveProcesses(tn.Status.UID); len(pids) > 0 {
		t.Errorf("processes of %s's user after delete: %v", tn.Name, pids)
	}
	left := []string{
		filepath.Join(abs, "local", "tenants", tn.Name),
		filepath.Join(netnsDir(abs), tn.Name),
		filepath.Join("/sys/class/net", "stv"+strconv.Itoa(tn.Status.UID)),
	}
	for _, c := range []string{"memory", "cpu", "pids"} {
		left = append(left, filepath.Join("/sys/fs/cgroup", c, cgroupParent(abs), tn.Name))
	}
	for _, p := range left {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s of %s after delete: %v", p, tn.Name, err)
		}
	}
}

// TestMemoryHogIsKilledAndNeighbourServes runs a tenant whose second
// service eats memory past its plan's 128 MiB: the kernel kills it, the
// driver restarts it, and the incident says out of memory, while its
// neighbour, under a stream of requests all along, fails none.
func TestMemoryHogIsKilledAndNeighbourServes(t *testing.T) {
	requireRoot(t)
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", blueprintDir(t))
	s.mustCLI("tenant", "create", "calm", "--blueprint", "ledger")
	hostileBlueprint(t, s, "hog", "{ memory: 128Mi, replicas: 1 }", "sleep 1; head -c 2000M /dev/zero | tail > /dev/null")

	tr := startTraffic(s, "calm")
	s.mustCLI("tenant", "create", "hog", "--blueprint", "hog")
	hog := requireLimits(t, s, "hog")
	var oom *stamp.Incident
	waitFor(t, "an out-of-memory incident on hog", time.Minute, func() bool {
		incs, err := s.client().Incidents(context.Background(), stamp.IncidentFilter{Tenant: "hog"})
		if err != nil {
			return false
		}
		i := slices.IndexFunc(incs, func(i *stamp.Incident) bool { return i.Cause == stamp.CauseOOM })
		if i >= 0 {
			oom = incs[i]
		}
		return oom != nil
	})
	tr.finish()
	if !strings.Contains(oom.Message, "out of memory (limit 128 MiB)") || oom.Service != "hog" {
		t.Errorf("incident: service %q, message %q; want hog, out of memory (limit 128 MiB)", oom.Service, oom.Message)
	}
	if failed, sent := tr.failed.Load(), tr.sent.Load(); failed > 0 || sent < 10 {
		t.Errorf("calm: %d of %d requests failed while hog ran out of memory: %v", failed, sent, tr.errors)
	}
	t.Logf("calm: %d requests, %d failed, while hog was killed for memory", tr.sent.Load(), tr.failed.Load())
	deleteAndCheckNothingLeft(t, s, hog)
}

// TestForkBombIsStoppedAtItsLimit runs a tenant that tries to start a
// thousand processes under a plan of 64: it stays at 64, and its
// neighbour keeps serving.
func TestForkBombIsStoppedAtItsLimit(t *testing.T) {
	requireRoot(t)
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", blueprintDir(t))
	s.mustCLI("tenant", "create", "calm", "--blueprint", "ledger")
	// Bounded: a thousand sleepers at most, each gone in a minute.
	hostileBlueprint(t, s, "bomb", "{ memory: 256Mi, pids: 64, replicas: 1 }", "sleep 1; for i in $(seq 1000); do sleep 60 & done; wait")
	s.mustCLI("tenant", "create", "bomb", "--blueprint", "bomb")
	bomb := requireLimits(t, s, "bomb")
	if bomb.Status.Limits.PIDs != 64 {
		t.Skipf("no process limit in force: %+v", bomb.Status.Limits)
	}
	abs, _ := filepath.Abs(s.data)
	current := filepath.Join("/sys/fs/cgroup/pids", cgroupParent(abs), "bomb", "pids.current")
	peak := 0
	waitFor(t, "bomb to reach its process limit", 30*time.Second, func() bool {
		data, err := os.ReadFile(current)
		n, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		peak = max(peak, n)
		return err == nil && n >= 60
	})
	tr := startTraffic(s, "calm")
	time.Sleep(time.Second)
	tr.finish()
	if failed, sent := tr.failed.Load(), tr.sent.Load(); failed > 0 || sent < 10 {
		t.Errorf("calm: %d of %d requests failed beside the fork bomb: %v", failed, sent, tr.errors)
	}
	data, _ := os.ReadFile(current)
	if now, _ := strconv.Atoi(strings.TrimSpace(string(data))); peak > 64 || now > 64 {
		t.Errorf("bomb's processes: peak %d, now %d; want at most 64", peak, now)
	}
	deleteAndCheckNothingLeft(t, s, bomb)
}

// TestCPUHogIsHeldToItsPlan runs a tenant burning four busy loops under
// a plan of 0.25 cores beside a calm tenant: the burner's cgroup uses at
// most about its quota, the calm tenant answers throughout, and the same
// burner with no CPU limit, in the same run, uses far more (so the check
// can fail). The calm tenant's latency in each case is logged, not
// judged: a latency bound in a unit test fails on a loaded machine; the
// comparison belongs in a benchmark.
func TestCPUHogIsHeldToItsPlan(t *testing.T) {
	requireRoot(t)
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", blueprintDir(t))
	s.mustCLI("tenant", "create", "calm", "--blueprint", "ledger")
	burn := "for i in 1 2 3 4; do (while :; do :; done) & done; wait"
	abs, _ := filepath.Abs(s.data)

	p99 := func() time.Duration {
		var lat []time.Duration
		for range 300 {
			began := time.Now()
			if code, body := s.do("GET", "calm", "/api/invoices", ""); code != http.StatusOK {
				t.Fatalf("calm: %d %s", code, body)
			}
			lat = append(lat, time.Since(began))
		}
		slices.Sort(lat)
		return lat[len(lat)*99/100]
	}
	// cores is the CPU the tenant's cgroup used over two seconds.
	cores := func(tenant string) float64 {
		usage := filepath.Join("/sys/fs/cgroup/cpuacct", cgroupParent(abs), tenant, "cpuacct.usage")
		read := func() int64 {
			data, err := os.ReadFile(usage)
			if err != nil {
				t.Fatalf("CPU use of %s: %v", tenant, err)
			}
			n, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
			return n
		}
		before, began := read(), time.Now()
		time.Sleep(2 * time.Second)
		return float64(read()-before) / float64(time.Since(began).Nanoseconds())
	}
	if _, err := os.Stat("/sys/fs/cgroup/cpuacct"); err != nil {
		t.Skip("no cgroup v1 cpuacct controller to read CPU use from")
	}

	alone := p99()
	hostileBlueprint(t, s, "burner", "{ memory: 128Mi, cpu: 0.25, replicas: 1 }", burn)
	s.mustCLI("tenant", "create", "burner", "--blueprint", "burner")
	burner := requireLimits(t, s, "burner")
	time.Sleep(time.Second) // the loops start after the service's first second
	held := cores("burner")
	limited := p99()
	// A quota of 25ms per 100ms period; a period's overrun is the slack.
	if held > 0.35 {
		t.Errorf("the burner held to 0.25 cores used %.2f cores", held)
	}
	deleteAndCheckNothingLeft(t, s, burner)

	hostileBlueprint(t, s, "free-burner", "{ memory: 128Mi, replicas: 1 }", burn)
	s.mustCLI("tenant", "create", "free-burner", "--blueprint", "free-burner")
	time.Sleep(time.Second)
	free := cores("free-burner")
	unlimited := p99()
	// Compared with its peer in the same run, not with a fixed figure:
	// on a shared, busy machine the free burner gets what is left. Over
	// the held one by half, and over what the limit would allow at all.
	if free < max(1.5*held, 0.4) {
		t.Errorf("the same burner with no limit used %.2f cores; want well over its limited self (%.2f) and the limit's 0.25 with slack, or this test proves nothing", free, held)
	}
	deleteAndCheckNothingLeft(t, s, s.tenant("free-burner"))
	t.Logf("burner: %.2f cores held to 0.25, %.2f cores unlimited; calm's p99: alone %s, beside the held burner %s, beside the free one %s",
		held, free, alone, limited, unlimited)
}

// liveProcesses lists the processes of uid that have not exited: a
// zombie is dead, waiting for its parent (init, for a tenant's orphans)
// to reap it, and holds nothing but its pid.
func liveProcesses(uid int) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		status, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		var state, ruid string
		for line := range strings.Lines(string(status)) {
			if v, ok := strings.CutPrefix(line, "State:"); ok {
				state = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(line, "Uid:"); ok {
				ruid = strings.Fields(v)[0]
			}
		}
		if ruid == strconv.Itoa(uid) && !strings.HasPrefix(state, "Z") {
			pids = append(pids, pid)
		}
	}
	return pids
}
