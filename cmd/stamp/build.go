package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/stamphq/stamp/blueprint"
)

// buildTailLines is how many last lines of a failed build's output the
// error shows.
const buildTailLines = 20

// defaultBuildTimeout is how long a blueprint's build may run unless
// `stamp blueprint push --build-timeout` says otherwise.
const defaultBuildTimeout = 30 * time.Minute

// buildKillWait bounds how long a killed build's output is still read:
// a process that left its process group can keep the pipe open.
const buildKillWait = 5 * time.Second

// errBuildTimeout is the cause of a build's context when the build runs
// past its deadline.
var errBuildTimeout = errors.New("build timed out")

// buildLog is where a build's output is kept, inside the blueprint
// directory: .stamp is never packed into a bundle.
func buildLog(dir string) string { return filepath.Join(dir, ".stamp", "build.log") }

// runBuild runs bp's build command in dir, its output going to progress
// and to dir/.stamp/build.log (replaced each build), and returns how long
// it took. The build runs in a process group of its own; past timeout the
// whole group is killed. A failed build's error names the step and
// command (and the deadline, if it passed) and shows the tail of its
// output.
func runBuild(ctx context.Context, progress io.Writer, dir string, bp *blueprint.Blueprint, timeout time.Duration) (time.Duration, error) {
	logPath := buildLog(dir)
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return 0, fmt.Errorf("build %s: keep its output: %w", bp.Ref(), err)
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return 0, fmt.Errorf("build %s: keep its output: %w", bp.Ref(), err)
	}
	defer logf.Close()
	command := strings.Join(bp.Build, " ")
	fmt.Fprintf(progress, "building %s: %s\n", bp.Ref(), command)
	var tail tailBuffer
	out := io.MultiWriter(progress, logf, &tail)
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errBuildTimeout)
	defer cancel()
	build := exec.CommandContext(ctx, bp.Build[0], bp.Build[1:]...)
	build.Dir = dir
	build.Stdout, build.Stderr = out, out
	build.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	build.Cancel = func() error { return syscall.Kill(-build.Process.Pid, syscall.SIGKILL) }
	build.WaitDelay = buildKillWait
	start := time.Now()
	err = build.Run()
	took := time.Since(start)
	if context.Cause(ctx) == errBuildTimeout {
		return took, fmt.Errorf("build step of %s did not finish within %s (--build-timeout): %s was killed with its process group; the last lines of its output (all of it is in %s):\n%s",
			bp.Ref(), timeout, command, logPath, tail.last(buildTailLines))
	}
	if err != nil {
		return took, fmt.Errorf("build step of %s failed after %s: %s: %w; the last lines of its output (all of it is in %s):\n%s",
			bp.Ref(), took.Round(time.Millisecond), command, err, logPath, tail.last(buildTailLines))
	}
	return took, nil
}

// tailBuffer keeps the end of what is written to it.
type tailBuffer struct{ b []byte }

const tailBytes = 64 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 2*tailBytes {
		t.b = append([]byte(nil), t.b[len(t.b)-tailBytes:]...)
	}
	return len(p), nil
}

// last returns the last n lines written, "(no output)" if none.
func (t *tailBuffer) last(n int) string {
	lines := bytes.Split(bytes.TrimRight(t.b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	s := string(bytes.Join(lines, []byte("\n")))
	if strings.TrimSpace(s) == "" {
		return "(no output)"
	}
	return s
}
