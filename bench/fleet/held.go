package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// held is what a process holds at one moment.
type held struct {
	fds       int   // open files, sockets included
	threads   int   // OS threads
	closeWait int   // TCP sockets whose peer has closed and it has not
	rssKiB    int64 // resident memory
}

// readHeld reads what process pid holds from /proc.
func readHeld(pid int) (held, error) {
	var h held
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	fds, err := os.ReadDir(filepath.Join(dir, "fd"))
	if err != nil {
		return h, fmt.Errorf("open files of pid %d: %w", pid, err)
	}
	h.fds = len(fds)
	sockets := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(dir, "fd", fd.Name()))
		if inode, ok := strings.CutPrefix(link, "socket:["); err == nil && ok {
			sockets[strings.TrimSuffix(inode, "]")] = true
		}
	}
	tasks, err := os.ReadDir(filepath.Join(dir, "task"))
	if err != nil {
		return h, fmt.Errorf("threads of pid %d: %w", pid, err)
	}
	h.threads = len(tasks)
	for _, table := range []string{"tcp", "tcp6"} {
		n, err := countState(filepath.Join(dir, "net", table), tcpCloseWait, sockets)
		if err != nil {
			return h, err
		}
		h.closeWait += n
	}
	if h.rssKiB, err = benchkit.RSSKiB(pid); err != nil {
		return h, err
	}
	return h, nil
}

// tcpCloseWait is CLOSE_WAIT as /proc/net/tcp writes a socket's state.
const tcpCloseWait = "08"

// countState counts the sockets of a /proc/net/tcp or tcp6 table in state
// whose inode is in inodes. A missing table (no IPv6) has none.
func countState(path, state string, inodes map[string]bool) (int, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		if !bytes.Contains(sc.Bytes(), []byte(" "+state+" ")) {
			continue
		}
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fields := strings.Fields(sc.Text())
		if len(fields) >= 10 && fields[3] == state && inodes[fields[9]] {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	return n, nil
}

// margins are how much more than before the creates the server may hold
// once every tenant is deleted.
type margins struct {
	fds, threads, closeWait int
}

// excess lists, one line each, what after holds beyond before plus m;
// none means the server gave back what the tenants took.
func excess(before, after held, m margins) []string {
	var out []string
	for _, c := range []struct {
		what          string
		before, after int
		margin        int
	}{
		{"open files", before.fds, after.fds, m.fds},
		{"threads", before.threads, after.threads, m.threads},
		{"CLOSE-WAIT sockets", before.closeWait, after.closeWait, m.closeWait},
	} {
		if c.after > c.before+c.margin {
			out = append(out, fmt.Sprintf("%s: %d after the deletes, %d before the creates (margin %d)", c.what, c.after, c.before, c.margin))
		}
	}
	return out
}
