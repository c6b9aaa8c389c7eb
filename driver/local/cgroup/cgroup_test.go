package cgroup

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// The test binary doubles as the process the tests confine: with
// CGROUP_TEST_CHILD set it waits for a line on stdin (sent once it is in
// its group), then does what the variable says. Every mode ends by
// itself.
func TestMain(m *testing.M) {
	if mode := os.Getenv("CGROUP_TEST_CHILD"); mode != "" {
		child(mode)
		return
	}
	os.Exit(m.Run())
}

func child(mode string) {
	bufio.NewReader(os.Stdin).ReadString('\n')
	switch mode {
	case "alloc": // touch 512 MiB, a page at a time
		var hold [][]byte
		for range 512 {
			b := make([]byte, 1<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			hold = append(hold, b)
		}
		fmt.Println("allocated", len(hold))
	case "fork": // start up to 100 sleepers, say how many started
		started := 0
		for range 100 {
			if exec.Command("sleep", "30").Start() == nil {
				started++
			}
		}
		fmt.Println(started)
	case "spin": // burn CPU for two seconds of wall time
		for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
		}
	case "sleep": // touch 4 MiB in the group (cgroup v1 charges only what is
		// allocated after the move), say so, then sleep
		hold := make([]byte, 4<<20)
		for i := 0; i < len(hold); i += 4096 {
			hold[i] = 1
		}
		fmt.Println("ready")
		time.Sleep(time.Minute)
		runtime.KeepAlive(hold)
	}
}

// host opens the cgroups under a parent of this test's own, removed (with
// whatever runs in it) when the test ends.
func host(t testing.TB) *Host {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("control groups need root")
	}
	h := Open(testParent())
	if h.Mode() == ModeNone {
		t.Skipf("no usable cgroups: %s", h.Problem())
	}
	t.Cleanup(func() { removeAll(t, h) })
	return h
}

func testParent() string {
	b := make([]byte, 4)
	rand.Read(b)
	return "stamptest/" + hex.EncodeToString(b)
}

// removeAll removes h's groups and its parent, and the parent's parent
// if no other test uses it.
func removeAll(t testing.TB, h *Host) {
	t.Helper()
	names, err := h.List()
	if err != nil {
		t.Error(err)
	}
	for _, n := range names {
		if err := h.Remove(n); err != nil {
			t.Error(err)
		}
	}
	for _, d := range h.backend.dirs("/" + h.parent) {
		if err := os.Remove(d); err != nil && !os.IsNotExist(err) {
			t.Error(err)
		}
		os.Remove(filepath.Dir(d))
	}
}

// start starts a child in mode, puts it in the group of name, then lets
// it run; its stdout is returned with the command.
func start(t testing.TB, h *Host, name, mode string) (*exec.Cmd, io.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "CGROUP_TEST_CHILD="+mode)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	if err := h.Add(name, cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(stdin, "go")
	return cmd, stdout
}

// ensure is Ensure that must succeed and enforce all of l.
func ensure(t testing.TB, h *Host, name string, l stamp.Limits) {
	t.Helper()
	in, err := h.Ensure(name, l)
	if err != nil {
		t.Fatal(err)
	}
	if want := inForce(l, h.Controllers()); in != want {
		t.Fatalf("Ensure(%s, %+v): got %+v in force, want %+v", name, l, in, want)
	}
}

func TestRoundTrip(t *testing.T) {
	h := host(t)
	t.Logf("mode %s, controllers %v, problem %q", h.Mode(), h.Controllers(), h.Problem())
	began := time.Now()
	ensure(t, h, "acme", stamp.Limits{Memory: 256 << 20, CPU: 0.5, PIDs: 50})
	cmd, out := start(t, h, "acme", "sleep")
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		t.Fatalf("the child says %q, %v; want ready", line, err)
	}
	pids, err := h.Procs("acme")
	if err != nil || !slices.Equal(pids, []int{cmd.Process.Pid}) {
		t.Errorf("Procs: got %v, %v; want [%d]", pids, err, cmd.Process.Pid)
	}
	st, err := h.Stats("acme")
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(h.Controllers(), "memory") && (st.MemoryLimit != 256<<20 || st.MemoryUsage <= 0) {
		t.Errorf("Stats: memory %d of %d, want some of %d", st.MemoryUsage, st.MemoryLimit, 256<<20)
	}
	if slices.Contains(h.Controllers(), "pids") && st.PIDs < 1 {
		t.Errorf("Stats: %d pids, want at least the child's", st.PIDs)
	}
	if names, err := h.List(); err != nil || !slices.Equal(names, []string{"acme"}) {
		t.Errorf("List: got %v, %v; want [acme]", names, err)
	}
	if err := h.Remove("acme"); err != nil {
		t.Fatal(err)
	}
	t.Logf("Ensure, start a child, Add, Procs, Stats, List, Remove: %v", time.Since(began))
	if err := cmd.Wait(); err == nil {
		t.Error("the child in the group survived Remove")
	}
	if names, err := h.List(); err != nil || len(names) != 0 {
		t.Errorf("List after Remove: got %v, %v; want none", names, err)
	}
	if _, err := h.Stats("acme"); stamp.ErrorCode(err) != stamp.ENOTFOUND {
		t.Errorf("Stats of a removed group: got %v, want ENOTFOUND", err)
	}
	if n, err := h.OOMKills("acme"); n != 0 || err != nil {
		t.Errorf("OOMKills of a removed group: got %d, %v; want 0, nil", n, err)
	}
	if pids, err := h.Procs("acme"); len(pids) != 0 || err != nil {
		t.Errorf("Procs of a removed group: got %v, %v; want none", pids, err)
	}
	if err := h.Remove("acme"); err != nil {
		t.Errorf("Remove of a removed group: %v", err)
	}
	if err := h.Add("acme", os.Getpid()); err == nil {
		t.Error("Add to a removed group: got nil, want an error")
	}
	for _, bad := range []string{"../etc", "Acme", ""} {
		if _, err := h.Ensure(bad, stamp.Limits{}); stamp.ErrorCode(err) != stamp.EINVALID {
			t.Errorf("Ensure(%q): got %v, want EINVALID", bad, err)
		}
	}
}

func TestOutOfMemoryIsKilledAndCounted(t *testing.T) {
	h := host(t)
	if !slices.Contains(h.Controllers(), "memory") {
		t.Skip("no memory controller")
	}
	ensure(t, h, "acme", stamp.Limits{Memory: 64 << 20})
	cmd, out := start(t, h, "acme", "alloc")
	printed, _ := io.ReadAll(out)
	err := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the child allocating 512 MiB ended with %v (printed %q), want SIGKILL", err, printed)
	}
	st, err := h.Stats("acme")
	if err != nil || st.OOMKills < 1 {
		t.Errorf("Stats: got %d OOM kills, %v; want at least 1", st.OOMKills, err)
	}
	if n, err := h.OOMKills("acme"); err != nil || n != st.OOMKills {
		t.Errorf("OOMKills: got %d, %v; want %d", n, err, st.OOMKills)
	}
}

func TestProcessLimitStopsAForkLoop(t *testing.T) {
	h := host(t)
	if !slices.Contains(h.Controllers(), "pids") {
		t.Skip("no pids controller")
	}
	ensure(t, h, "acme", stamp.Limits{PIDs: 20})
	_, out := start(t, h, "acme", "fork")
	line, _ := bufio.NewReader(out).ReadString('\n')
	started, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("the forking child printed %q", line)
	}
	// The child and its Go runtime's threads count too.
	if started >= 20 {
		t.Errorf("the forking child started %d processes, want fewer than the limit of 20", started)
	}
	st, err := h.Stats("acme")
	if err != nil || st.PIDs > 20 || st.PIDs < int64(started) {
		t.Errorf("Stats: got %d pids, %v; want from %d to 20", st.PIDs, err, started)
	}
}

func TestCPULimit(t *testing.T) {
	h := host(t)
	if !slices.Contains(h.Controllers(), "cpu") {
		t.Skip("no cpu controller")
	}
	ensure(t, h, "acme", stamp.Limits{CPU: 0.2})
	began := time.Now()
	cmd, _ := start(t, h, "acme", "spin")
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	wall := time.Since(began)
	st, err := h.Stats("acme")
	if err != nil {
		t.Fatal(err)
	}
	used := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if st.CPUUsage == 0 && h.Mode() == ModeV1 && strings.Contains(h.Problem(), "cpuacct") {
		t.Logf("no cpuacct: judging by the child's rusage")
	} else if st.CPUUsage < used/2 {
		t.Errorf("Stats: CPU usage %v, want about the child's own %v", st.CPUUsage, used)
	} else {
		used = st.CPUUsage
	}
	t.Logf("the spinning child used %v of CPU in %v", used, wall)
	if share := used.Seconds() / wall.Seconds(); share > 0.3 {
		t.Errorf("the spinning child used %.2f cores, want at most 0.3 (limit 0.2)", share)
	}
}

// settings reads back what limits the kernel has for the group of name.
func settings(t *testing.T, h *Host, name string) string {
	t.Helper()
	read := func(parts ...string) string {
		data, err := os.ReadFile(filepath.Join(parts...))
		if err != nil {
			return "-"
		}
		return strings.Join(strings.Fields(string(data)), " ")
	}
	path := filepath.Join(h.parent, name)
	switch b := h.backend.(type) {
	case *v1:
		return fmt.Sprintf("memory %s memsw %s quota %s pids %s",
			read(root, "memory", path, "memory.limit_in_bytes"), read(root, "memory", path, "memory.memsw.limit_in_bytes"),
			read(root, "cpu", path, "cpu.cfs_quota_us"), read(root, "pids", path, "pids.max"))
	case *v2:
		return fmt.Sprintf("memory %s swap %s cpu %s pids %s",
			read(b.mount, path, "memory.max"), read(b.mount, path, "memory.swap.max"),
			read(b.mount, path, "cpu.max"), read(b.mount, path, "pids.max"))
	}
	return ""
}

func TestUpdateInPlace(t *testing.T) {
	h := host(t)
	if len(h.Controllers()) < len(wanted) || strings.Contains(h.Problem(), "swap") {
		t.Skipf("the host does not enforce every limit: %s", h.Problem())
	}
	none := map[string]string{ModeV1: "9223372036854771712", ModeV2: "max"}[h.Mode()]
	steps := []struct {
		l    stamp.Limits
		want map[string]string
	}{
		{stamp.Limits{Memory: 64 << 20, CPU: 0.5, PIDs: 50}, map[string]string{
			ModeV1: "memory 67108864 memsw 67108864 quota 50000 pids 50",
			ModeV2: "memory 67108864 swap 0 cpu 50000 100000 pids 50"}},
		{stamp.Limits{Memory: 128 << 20, CPU: 1.5, PIDs: 100}, map[string]string{
			ModeV1: "memory 134217728 memsw 134217728 quota 150000 pids 100",
			ModeV2: "memory 134217728 swap 0 cpu 150000 100000 pids 100"}},
		{stamp.Limits{Memory: 32 << 20, CPU: 0.25, PIDs: 30}, map[string]string{
			ModeV1: "memory 33554432 memsw 33554432 quota 25000 pids 30",
			ModeV2: "memory 33554432 swap 0 cpu 25000 100000 pids 30"}},
		{stamp.Limits{}, map[string]string{
			ModeV1: "memory " + none + " memsw " + none + " quota -1 pids 4194304",
			ModeV2: "memory max swap max cpu max 100000 pids max"}},
		{stamp.Limits{Memory: 48 << 20}, map[string]string{
			ModeV1: "memory 50331648 memsw 50331648 quota -1 pids 4194304",
			ModeV2: "memory 50331648 swap 0 cpu max 100000 pids max"}},
	}
	ensure(t, h, "acme", steps[0].l)
	cmd, _ := start(t, h, "acme", "sleep")
	for _, s := range steps {
		ensure(t, h, "acme", s.l)
		if got := settings(t, h, "acme"); got != s.want[h.Mode()] {
			t.Errorf("after Ensure(%+v): got %q, want %q", s.l, got, s.want[h.Mode()])
		}
	}
	if pids, _ := h.Procs("acme"); !slices.Contains(pids, cmd.Process.Pid) {
		t.Errorf("the child left the group during the updates: %v", pids)
	}
}

func TestRemoveAfterACrash(t *testing.T) {
	h := host(t)
	b, ok := h.backend.(*v1)
	if !ok || len(b.subsystems) < 2 {
		t.Skip("a group in some hierarchies only needs v1")
	}
	for _, name := range []string{"acme", "globex"} {
		ensure(t, h, name, stamp.Limits{Memory: 64 << 20, PIDs: 50})
	}
	cmd, _ := start(t, h, "acme", "sleep")
	// A crash between two hierarchies' mkdir leaves globex in the first
	// only.
	for _, s := range b.subsystems[1:] {
		if err := os.Remove(filepath.Join(root, string(s.Name()), h.parent, "globex")); err != nil {
			t.Fatal(err)
		}
	}
	if names, err := h.List(); err != nil || !slices.Equal(names, []string{"acme", "globex"}) {
		t.Errorf("List: got %v, %v; want [acme globex]", names, err)
	}
	for _, name := range []string{"acme", "globex"} {
		if err := h.Remove(name); err != nil {
			t.Fatal(err)
		}
	}
	if err := cmd.Wait(); err == nil {
		t.Error("the child in acme's group survived Remove")
	}
	if names, err := h.List(); err != nil || len(names) != 0 {
		t.Errorf("List after Remove: got %v, %v; want none", names, err)
	}
}

// TestV2Lifecycle runs the v2 backend on a hybrid host's unified
// hierarchy, which has no controller to limit with but groups all the
// same: it makes, fills, reads, kills and removes them for real.
func TestV2Lifecycle(t *testing.T) {
	mount := filepath.Join(root, "unified")
	if _, err := os.Stat(filepath.Join(mount, "cgroup.procs")); err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and a hybrid host's unified hierarchy")
	}
	b := newV2(mount, nil)
	h := &Host{mode: ModeV2, parent: testParent(), backend: b}
	if _, err := b.prepare("/" + h.parent); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeAll(t, h) })
	ensure(t, h, "acme", stamp.Limits{Memory: 64 << 20, CPU: 0.5, PIDs: 20})
	cmd, _ := start(t, h, "acme", "sleep")
	if pids, err := h.Procs("acme"); err != nil || !slices.Equal(pids, []int{cmd.Process.Pid}) {
		t.Errorf("Procs: got %v, %v; want [%d]", pids, err, cmd.Process.Pid)
	}
	if _, err := h.Stats("acme"); err != nil {
		t.Error(err)
	}
	if names, err := h.List(); err != nil || !slices.Equal(names, []string{"acme"}) {
		t.Errorf("List: got %v, %v; want [acme]", names, err)
	}
	if err := h.Remove("acme"); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Error("the child in the group survived Remove")
	}
	if err := h.Remove("acme"); err != nil {
		t.Errorf("Remove of a removed group: %v", err)
	}
}

// BenchmarkEnsureAddRemove measures a tenant's group from making to
// deleting, with one process killed in it; starting the process is not
// counted.
func BenchmarkEnsureAddRemove(b *testing.B) {
	h := host(b)
	for b.Loop() {
		b.StopTimer()
		cmd := exec.Command("sleep", "30")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := h.Ensure("acme", stamp.Limits{Memory: 64 << 20, CPU: 0.5, PIDs: 50}); err != nil {
			b.Fatal(err)
		}
		if err := h.Add("acme", cmd.Process.Pid); err != nil {
			b.Fatal(err)
		}
		if err := h.Remove("acme"); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cmd.Wait()
		b.StartTimer()
	}
}

func TestParentOf(t *testing.T) {
	for _, tc := range []struct{ dir, want string }{
		{"/srv/stamp/local", "stamp/dd569746"},
		{"/srv/other/local", "stamp/fb458bc0"},
	} {
		if got := ParentOf(tc.dir); got != tc.want {
			t.Errorf("ParentOf(%q) = %q, want %q", tc.dir, got, tc.want)
		}
		if err := validParent(ParentOf(tc.dir)); err != nil {
			t.Errorf("ParentOf(%q) is not a valid parent: %v", tc.dir, err)
		}
	}
}

// TestJoinable lets a user's process join its group by itself, on v1:
// a shell run as the user writes 0 into each file Joinable returns and
// is then in the group in every hierarchy; it cannot join a group not
// made joinable for it, nor leave its own. On v2 nothing is joinable.
func TestJoinable(t *testing.T) {
	h := host(t)
	ensure(t, h, "acme", stamp.Limits{Memory: 256 << 20, PIDs: 50})
	ensure(t, h, "globex", stamp.Limits{Memory: 256 << 20, PIDs: 50})
	const uid = 6_123_457 // no one's
	files, err := h.Joinable("acme", uid)
	if err != nil {
		t.Fatal(err)
	}
	if h.Mode() != ModeV1 {
		if len(files) != 0 {
			t.Errorf("Joinable on %s: got %v, want none", h.Mode(), files)
		}
		return
	}
	if len(files) != len(h.backend.dirs("/")) {
		t.Fatalf("Joinable: got %v, want a file in each of the %d hierarchies", files, len(h.backend.dirs("/")))
	}
	join := func(files []string) (string, error) {
		script := ""
		for _, f := range files {
			script += "echo 0 >" + f + " || exit 125; "
		}
		cmd := exec.Command("/bin/sh", "-c", script+"cat /proc/self/cgroup")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, Groups: []uint32{}}}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := join(files)
	if err != nil {
		t.Fatalf("join acme's group as uid %d: %v\n%s", uid, err, out)
	}
	for _, f := range files {
		// /sys/fs/cgroup/<controllers>/<parent>/acme/tasks; /proc/self/cgroup
		// says "<id>:<controllers>:/<parent>/acme".
		controllers := strings.Split(strings.TrimPrefix(f, root+"/"), "/")[0]
		if !slices.ContainsFunc(strings.Split(out, "\n"), func(line string) bool {
			return strings.HasSuffix(line, ":/"+h.parent+"/acme") && strings.Contains(line, ":"+controllers)
		}) {
			t.Errorf("cgroups of the process that joined:\n%s\nwant acme's in %s", out, controllers)
		}
	}
	other := h.backend.dirs("/" + h.parent + "/globex")
	for i := range other {
		other[i] = filepath.Join(other[i], "tasks")
	}
	if out, err := join(other); err == nil {
		t.Errorf("joined globex's group as uid %d, not made joinable for it:\n%s", uid, out)
	}
	if out, err := join([]string{filepath.Join(root, "pids", "tasks")}); err == nil {
		t.Errorf("left for the root group as uid %d:\n%s", uid, out)
	}
}
