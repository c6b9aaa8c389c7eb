package benchkit

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"

	"github.com/stamphq/stamp/driver/local/cgroup"
	"github.com/stamphq/stamp/driver/local/netns"
)

// SweepHost removes what the stopped server of data dir data left on the
// host and names what it found beyond what a stopped server keeps by
// design: network namespaces (with their bind mounts and veth pairs),
// when namespaces is set, and cgroups. pool is the server's --tenant-net.
// Its tenant processes must be gone already. The server's nftables
// tables, which it keeps across restarts, are deleted without being
// named.
func SweepHost(data, pool string, namespaces bool) (left []string, err error) {
	prefix, err := netip.ParsePrefix(pool)
	if err != nil {
		return nil, fmt.Errorf("sweep host: tenant network %q: %w", pool, err)
	}
	m, err := netns.New(netns.Config{Dir: filepath.Join(data, "local", "netns"), Net: prefix})
	if err != nil {
		return nil, fmt.Errorf("sweep host: %w", err)
	}
	var errs []error
	if namespaces && m.Available() {
		names, err := m.List()
		errs = append(errs, err)
		for _, n := range names {
			left = append(left, "network namespace "+n)
			// Removing the namespace takes its end of the veth pair,
			// and so the pair, with it.
			errs = append(errs, m.Remove(n, 0))
		}
		// A server stopped before its first tenant made no tables.
		if err := m.Destroy(); err != nil && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, err)
		}
	}

	parent := cgroup.ParentOf(filepath.Join(data, "local"))
	h := cgroup.Open(parent)
	names, err := h.List()
	errs = append(errs, err)
	for _, n := range names {
		left = append(left, "cgroup "+n)
		errs = append(errs, h.Remove(n))
	}
	for _, c := range []string{"memory", "cpu", "cpuacct", "pids", ""} {
		if err := os.Remove(filepath.Join("/sys/fs/cgroup", c, parent)); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	return left, errors.Join(errs...)
}
