package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// held is what the server process holds at one moment.
type held struct {
	rssKiB     int64
	fds        int // open files, sockets included
	threads    int // OS threads
	goroutines int // go_goroutines of /metrics
}

// held reads what the server holds from /proc and its /metrics. It first
// closes the bench's idle connections to the polled tenants' router, so
// that the open files count none of them.
func (b *bench) held(ctx context.Context) (held, error) {
	benchkit.CloseIdlePolls()
	var h held
	pid := b.srv.PID()
	var err error
	if h.rssKiB, err = benchkit.RSSKiB(pid); err != nil {
		return h, err
	}
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	fds, err := os.ReadDir(filepath.Join(dir, "fd"))
	if err != nil {
		return h, fmt.Errorf("open files of the server: %w", err)
	}
	tasks, err := os.ReadDir(filepath.Join(dir, "task"))
	if err != nil {
		return h, fmt.Errorf("threads of the server: %w", err)
	}
	h.fds, h.threads = len(fds), len(tasks)
	m, err := b.scrape(ctx)
	if err != nil {
		return h, err
	}
	h.goroutines = int(m.value("go_goroutines"))
	return h, nil
}
