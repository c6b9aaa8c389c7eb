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
)

// lockFileName is the file in the data dir whose lock a server on the
// embedded SQLite store holds while it runs.
const lockFileName = "server.lock"

// lockDataDir takes the data dir data for one server: an exclusive flock
// on data/server.lock, with the server's pid written in it. A second
// server on the same SQLite state would run two reconcilers on the same
// tenants with no lease between them (leases are for servers sharing
// PostgreSQL), so it is refused, naming the holder. The lock goes with
// the process (also on kill -9); unlock releases it sooner.
func lockDataDir(data string) (unlock func(), err error) {
	path := filepath.Join(data, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := "another process"
			if b, err := os.ReadFile(path); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
					holder = "pid " + strconv.Itoa(pid)
				}
			}
			return nil, fmt.Errorf("data dir %s is in use by another stamp server (%s): stop it first, or give this one its own --data; "+
				"servers share one state only on PostgreSQL (--store postgres://...)", data, holder)
		}
		return nil, fmt.Errorf("lock data dir %s: %w", data, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	var once sync.Once
	return func() { once.Do(func() { f.Close() }) }, nil
}
