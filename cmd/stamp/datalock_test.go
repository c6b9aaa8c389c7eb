package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runServer runs `stamp server` with args until it exits (within 20s)
// and returns its output and error.
func runServer(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, stampBin, append([]string{"server"}, args...)...).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("stamp server %s did not exit: it started beside the first\n%s", strings.Join(args, " "), out)
	}
	return string(out), err
}

// TestSecondServerOnOneDataDirIsRefused starts a server on a data dir
// that a running server holds: it refuses to start, naming the holder,
// and the first one serves on. Once the first has stopped, the dir can be
// taken again.
func TestSecondServerOnOneDataDirIsRefused(t *testing.T) {
	s := startStampServer(t)
	out, err := runServer(t, "--data", s.data, "--listen", freePort(t), "--router-listen", freePort(t), "--tenant-uids", "none")
	want := "data dir " + s.data + " is in use by another stamp server (pid " + strconv.Itoa(s.cmd.Process.Pid) + ")"
	if err == nil || !strings.Contains(out, want) || !strings.Contains(out, "--store postgres://") {
		t.Errorf("second server: %v\n%s\nwant it refused with %q", err, out, want)
	}
	s.mustCLI("blueprint", "list") // the first serves on

	s.kill()
	s.start() // the lock went with the killed process
}

// TestFailedStartLeavesNoDataDir starts a server on a fresh data dir and
// an address already taken: it fails, and removes the dir it made.
func TestFailedStartLeavesNoDataDir(t *testing.T) {
	s := startStampServer(t)
	data := filepath.Join(t.TempDir(), "fresh")
	out, err := runServer(t, "--data", data, "--listen", s.api, "--router-listen", freePort(t), "--tenant-uids", "none")
	if err == nil || !strings.Contains(out, "address already in use") {
		t.Fatalf("server on a taken address: %v\n%s", err, out)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("data dir after the failed start: %v; want it removed", err)
	}
}
