package netns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Start starts cmd in tenant's namespace. A forked child starts in the
// network namespace of the thread that forked it, and os/exec forks on
// the thread running the goroutine that calls cmd.Start; onThread locks
// that goroutine to its thread and moves the thread, alone of the
// process's, into the namespace for the call. The process's other
// goroutines, on other threads, never see it.
func (m *Manager) Start(tenant string, cmd *exec.Cmd) error {
	path, err := m.path(tenant)
	if err != nil {
		return err
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("network namespace of %s: %w", tenant, err)
	}
	defer ns.Close()
	err = onThread(func() error { return netns.Set(ns) }, cmd.Start)
	if err != nil {
		return fmt.Errorf("start in the network namespace of %s: %w", tenant, err)
	}
	return nil
}

// onThread runs do on an OS thread of its own that enter moved into
// another network namespace, then moves the thread back. It runs on a
// goroutine of its own: should moving back fail, that goroutine ends
// with its thread still locked, and the Go runtime then ends the thread
// rather than let other goroutines run in the wrong namespace.
func onThread(enter, do func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("the host's network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := enter(); err != nil {
			runtime.UnlockOSThread() // enter failed: still in orig
			done <- err
			return
		}
		doErr := do()
		if err := netns.Set(orig); err != nil {
			done <- fmt.Errorf("back to the host's network namespace: %w", err)
			return
		}
		runtime.UnlockOSThread()
		done <- doErr
	}()
	return <-done
}

// ensureNamespace makes a network namespace and binds it to path, unless
// path is one already (a file left unbound by a crash is bound anew).
func ensureNamespace(path string) error {
	if isNamespace(path) {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	// unshare(2) moves only the calling thread into the new namespace,
	// which the bind mount then keeps.
	return onThread(
		func() error {
			ns, err := netns.New()
			if err != nil {
				return fmt.Errorf("unshare: %w", err)
			}
			return ns.Close()
		},
		func() error {
			src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
			if err := unix.Mount(src, path, "", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("bind %s: %w", path, err)
			}
			return nil
		})
}

// isNamespace reports whether path is a bound network namespace.
func isNamespace(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

// removeNamespace unbinds and deletes path. The namespace itself, and
// its end of a veth pair with it, goes once no process runs in it.
func removeNamespace(path string) error {
	// A file bound more than once (Ensures racing) needs as many
	// unmounts; past a few, os.Remove says the file is busy.
	for range 4 {
		if !isNamespace(path) {
			break
		}
		if err := unix.Unmount(path, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s: %w", path, err)
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
