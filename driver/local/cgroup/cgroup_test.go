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
// its group), then does what the variable says.
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
	case "spin": // burn CPU for a second
		for end := time.Now().Add(time.Second); time.Now().Before(end); {
		}
	case "sleep":
		time.Sleep(time.Minute)
	}
}

// host opens the cgroups under a parent of this test's own, removed (with
// whatever runs in it) when the test ends.
func host(t *testing.T) *Host {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("control groups need root")
	}
	b := make([]byte, 4)
	rand.Read(b)
	h := Open("stamptest/" + hex.EncodeToString(b))
	if h.Mode() == ModeNone {
		t.Skipf("no usable cgroups: %s", h.Problem())
	}
	t.Cleanup(func() {
		names, _ := h.List()
		for _, n := range names {
			h.Remove(n)
		}
		for _, c := range h.controllers {
			os.Remove(filepath.Join(root, c, h.parent))
			os.Remove(filepath.Join(root, c, filepath.Dir(h.parent))) // if no other test uses it
		}
	})
	return h
}

// start starts a child in mode, puts it in the group of name, then lets
// it run; its stdout is returned with the command.
func start(t *testing.T, h *Host, name, mode string) (*exec.Cmd, io.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "CGROUP_TEST_CHILD="+mode)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
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

func TestOutOfMemoryIsKilledAndCounted(t *testing.T) {
	h := host(t)
	in, err := h.Ensure("acme", stamp.Limits{Memory: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if in.Memory != 64<<20 {
		t.Fatalf("memory in force: got %d, want %d", in.Memory, 64<<20)
	}
	cmd, out := start(t, h, "acme", "alloc")
	printed, _ := io.ReadAll(out)
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the allocating child ended with %v (printed %q), want SIGKILL", err, printed)
	}
	if n, err := h.OOMKills("acme"); err != nil || n < 1 {
		t.Errorf("OOMKills: got %d, %v; want at least 1", n, err)
	}
	if n, err := h.OOMKills("globex"); err != nil || n != 0 {
		t.Errorf("OOMKills of a tenant without a group: got %d, %v; want 0", n, err)
	}
}

func TestProcessLimitStopsAForkLoop(t *testing.T) {
	h := host(t)
	if !slices.Contains(h.Controllers(), "pids") {
		t.Skip("no pids controller")
	}
	if _, err := h.Ensure("acme", stamp.Limits{PIDs: 20}); err != nil {
		t.Fatal(err)
	}
	cmd, out := start(t, h, "acme", "fork")
	line, _ := bufio.NewReader(out).ReadString('\n')
	started, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("the forking child printed %q", line)
	}
	// The child itself and its Go runtime's threads count too.
	if started >= 20 {
		t.Errorf("the forking child started %d processes, want fewer than the limit of 20", started)
	}
	pids, err := h.backend.procs("/" + h.parent + "/acme")
	if err != nil || len(pids) > 20 || !slices.Contains(pids, cmd.Process.Pid) {
		t.Errorf("processes in the group: %v (%v), want the child and at most 20 in all", pids, err)
	}
}

func TestCPULimit(t *testing.T) {
	h := host(t)
	if !slices.Contains(h.Controllers(), "cpu") {
		t.Skip("no cpu controller")
	}
	if _, err := h.Ensure("acme", stamp.Limits{CPU: 0.2}); err != nil {
		t.Fatal(err)
	}
	cmd, _ := start(t, h, "acme", "spin")
	began := time.Now()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	used := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	// A second of spinning at 0.2 cores takes about five seconds and uses
	// one second of CPU; the share of the wall time is what the limit
	// bounds.
	if share := used.Seconds() / time.Since(began).Seconds(); share > 0.3 {
		t.Errorf("the spinning child used %.2f cores, want at most 0.3 (limit 0.2)", share)
	}
}

func TestListRemoveAndUpdate(t *testing.T) {
	h := host(t)
	for _, name := range []string{"acme", "globex"} {
		if _, err := h.Ensure(name, stamp.Limits{Memory: 64 << 20, PIDs: 50}); err != nil {
			t.Fatal(err)
		}
	}
	cmd, _ := start(t, h, "acme", "sleep")
	if names, err := h.List(); err != nil || !slices.Equal(names, []string{"acme", "globex"}) {
		t.Errorf("List: got %v, %v", names, err)
	}
	if h.Mode() == ModeV1 {
		// A limit the plan drops is lifted on the live group.
		if _, err := h.Ensure("globex", stamp.Limits{}); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(filepath.Join(root, "memory", h.parent, "globex", "memory.limit_in_bytes"))
		if limit, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64); limit < 1<<40 {
			t.Errorf("globex's memory limit after lifting it: %s", data)
		}
	}
	if err := h.Remove("acme"); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Error("the process in acme's group survived Remove")
	}
	if names, err := h.List(); err != nil || !slices.Equal(names, []string{"globex"}) {
		t.Errorf("List after Remove: got %v, %v", names, err)
	}
	if err := h.Remove("acme"); err != nil {
		t.Errorf("Remove of a missing group: %v", err)
	}
	if _, err := h.Ensure("../etc", stamp.Limits{}); stamp.ErrorCode(err) != stamp.EINVALID {
		t.Errorf("Ensure of a bad name: got %v, want EINVALID", err)
	}
}
