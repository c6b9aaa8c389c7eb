// Package tmpfstest mounts small tmpfs file systems for tests of what
// Stamp does when a disk fills up: a write past the size fails with
// ENOSPC, and growing the file system frees space as an operator would.
package tmpfstest

import (
	"fmt"
	"os"
	"syscall"
	"testing"
)

// Mount mounts a tmpfs of size bytes on a new directory, returns the
// directory and unmounts it when the test ends. It skips the test,
// saying why, where mounting is not allowed (not root).
func Mount(t testing.TB, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a full disk is tested on a small tmpfs, and mounting one needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, options(size)); err != nil {
		t.Skipf("a full disk is tested on a small tmpfs, which could not be mounted on %s: %v", dir, err)
	}
	// Detach: a process of the test still running there (killed by a
	// later cleanup) must not keep the mount.
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount the tmpfs on %s: %v", dir, err)
		}
	})
	return dir
}

// Resize changes the size of the tmpfs Mount mounted on dir to size
// bytes, keeping its files: a larger size frees space.
func Resize(t testing.TB, dir string, size int) {
	t.Helper()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT, options(size)); err != nil {
		t.Fatalf("resize the tmpfs on %s to %d bytes: %v", dir, size, err)
	}
}

// options are the mount options of a tmpfs of size bytes, rounded up to
// whole KiB.
func options(size int) string {
	return fmt.Sprintf("size=%dk,mode=0755", (size+1023)/1024)
}
