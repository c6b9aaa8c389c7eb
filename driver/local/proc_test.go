package local

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// TestReadStatBoundsTheEnvironment checks the fields readEnviron relies on
// to tell a process mid-exec (no environment yet) from one that has one.
func TestReadStatBoundsTheEnvironment(t *testing.T) {
	st, err := readStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.envEnd <= st.envStart {
		t.Fatalf("stat of the test process: environment at [%d, %d), want a non-empty range", st.envStart, st.envEnd)
	}
	if st.flags&pfKthread != 0 {
		t.Fatalf("stat of the test process: flags %#x mark a kernel thread", st.flags)
	}
	env, err := readEnviron(os.Getpid())
	if err != nil || len(env) == 0 {
		t.Fatalf("readEnviron of the test process: %d bytes, %v", len(env), err)
	}
}

// threads counts the OS threads of this process.
func threads(t *testing.T) int {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	return len(tasks)
}

// TestRunningChildrenHoldNoThread: a child waited for does not hold an OS
// thread while it runs. The Go runtime never ends a thread it made, so a
// thread per child would stay with the control plane long after the
// tenants were deleted.
func TestRunningChildrenHoldNoThread(t *testing.T) {
	const n = 40
	dir := t.TempDir()
	before := threads(t)
	var procs []*proc
	t.Cleanup(func() {
		for _, p := range procs {
			p.signal(syscall.SIGKILL)
		}
	})
	for i := range n {
		p, err := spawn(spawnSpec{argv: []string{"/bin/sleep", "600"}, dir: dir, log: filepath.Join(dir, strconv.Itoa(i)+".log")})
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	if grown := threads(t) - before; grown >= n/2 {
		t.Errorf("%d running children took %d more threads, want a few at most", n, grown)
	}
	for _, p := range procs {
		p.signal(syscall.SIGKILL)
	}
	for _, p := range procs {
		if status, ok := p.wait(context.Background()); !ok || status != "signal: killed" || p.exitCode() != -1 {
			t.Errorf("pid %d: got %q, exit code %d; want %q, -1", p.pid, status, p.exitCode(), "signal: killed")
		}
	}
}

// TestExitStatus checks the status and code of an exit, as
// os.ProcessState says them.
func TestExitStatus(t *testing.T) {
	for _, tc := range []struct {
		script, status string
		code           int
	}{
		{"exit 0", "exit status 0", 0},
		{"exit 3", "exit status 3", 3},
		{"kill -TERM $$", "signal: terminated", -1},
	} {
		dir := t.TempDir()
		p, err := spawn(spawnSpec{argv: []string{"/bin/sh", "-c", tc.script}, dir: dir, log: filepath.Join(dir, "log")})
		if err != nil {
			t.Fatal(err)
		}
		status, _ := p.wait(context.Background())
		if status != tc.status || p.exitCode() != tc.code {
			t.Errorf("%s: got %q, code %d; want %q, %d", tc.script, status, p.exitCode(), tc.status, tc.code)
		}
		cmd := exec.Command("/bin/sh", "-c", tc.script)
		_ = cmd.Run() // an exit other than 0 is an error; its state is what counts
		if want := cmd.ProcessState.String(); status != want {
			t.Errorf("%s: got %q, os/exec says %q", tc.script, status, want)
		}
	}
}
