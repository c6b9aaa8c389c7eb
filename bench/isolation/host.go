package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"

	"github.com/stamphq/stamp/driver/local/cgroup"
	"github.com/stamphq/stamp/driver/local/netns"
)

// Tenant users and addresses of the isolated server. The users are far
// from the server's default (200000-299999) and the tests' blocks (from
// 3,000,000 and 4,000,000-4,999,999), so that no server or test running
// beside the bench meets its users or their interfaces (stv<uid>);
// 198.18.0.0/15 is the block set aside for benchmarks (RFC 2544), so no
// other server's routes meet its addresses.
const (
	isolatedUIDs = "6000000-6000999"
	isolatedNet  = "198.18.0.0/15"
)

// serverFlags are each server's flags beyond its data dir and listen
// addresses: the isolated server's users, network and (by default)
// cgroups, and the plain server without any of the three. Each has a
// block of tenant ports of its own, away from the default block and the
// tests' (20000-24999).
var serverFlags = map[string][]string{
	isolated: {"--tenant-uids", isolatedUIDs, "--tenant-net", isolatedNet, "--ports", "25000-25499"},
	plain:    {"--tenant-uids", "none", "--tenant-cgroups", "none", "--tenant-net", "none", "--ports", "25500-25999"},
}

// cgroupParent is where the cgroups of the tenants of the server with
// data dir data live, as cmd/stamp names it.
func cgroupParent(data string) string {
	sum := sha256.Sum256([]byte(filepath.Join(data, "local")))
	return "stamp/" + hex.EncodeToString(sum[:4])
}

// sweepHost removes what the stopped server of data dir data left on the
// host and names what it found beyond what a stopped server keeps by
// design: network namespaces (with their bind mounts and veth pairs) and
// cgroups. Its tenant processes must be gone already. The isolated server's nftables tables,
// which it keeps across restarts, are deleted without being named.
func sweepHost(data string, isolatedServer bool) (left []string, err error) {
	var errs []error
	m, err := netns.New(netns.Config{Dir: filepath.Join(data, "local", "netns"), Net: netip.MustParsePrefix(isolatedNet)})
	if err != nil {
		return left, errors.Join(append(errs, err)...)
	}
	if isolatedServer && m.Available() {
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

	parent := cgroupParent(data)
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

// errLeftovers says the deletes through the API left something on the
// host that the bench then had to remove.
var errLeftovers = errors.New("left on the host after every tenant was deleted")
