package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// lockFileName is the file in the data dir whose lock a server on the
// embedded SQLite store holds while it runs.
const lockFileName = "server.lock"

// lockWait bounds how long lockDataDir waits for a lock whose holder, the
// pid written in the file, is no longer running. A server killed while
// starting a process can leave a child holding a copy of the lock's
// descriptor until it runs its program (exec closes it): a server
// started again at once then finds the lock held for that moment, as
// the chaos bench (bench/chaos) did twice in about 200 kills.
const lockWait = 5 * time.Second

// lockDataDir takes the data dir data for one server: an exclusive flock
// on data/server.lock, with the server's pid written in it. A second
// server on the same SQLite state would run two reconcilers on the same
// tenants with no lease between them (leases are for servers sharing
// PostgreSQL), so it is refused, naming the holder. The lock goes with
// the process (also on kill -9); unlock releases it sooner.
func lockDataDir(data string) (unlock func(), err error) {
	return lockDataDirWait(data, lockWait)
}

// lockDataDirWait is lockDataDir waiting at most wait for a lock whose
// recorded holder is gone.
func lockDataDirWait(data string, wait time.Duration) (unlock func(), err error) {
	path := filepath.Join(data, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	deadline := time.Now().Add(wait)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			break
		}
		pid := lockHolder(path)
		if pid > 0 && running(pid) || time.Now().After(deadline) {
			f.Close()
			holder := "another process"
			if pid > 0 {
				holder = "pid " + strconv.Itoa(pid)
			}
			return nil, fmt.Errorf("data dir %s is in use by another stamp server (%s): stop it first, or give this one its own --data; "+
				"servers share one state only on PostgreSQL (--store postgres://...)", data, holder)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock data dir %s: %w", data, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	var once sync.Once
	return func() { once.Do(func() { f.Close() }) }, nil
}

// lockHolder returns the pid written in the lock file at path, or 0.
func lockHolder(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return pid
}

// running reports whether process pid exists (a zombie has let go of its
// files, and counts as gone).
func running(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}
