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

// tenantNet is the server's default --tenant-net, which the bench's
// servers run with.
const tenantNet = "100.64.0.0/10"

// sweepHost removes what a stopped server of data dir data keeps on the
// host by design once its tenants are deleted and their processes gone:
// its network namespaces' nftables tables and its parent cgroup. A
// tenant's namespace or cgroup found there is removed too.
func sweepHost(data string) error {
	var errs []error
	if os.Geteuid() != 0 {
		return nil // a server not run as root makes neither
	}
	if m, err := netns.New(netns.Config{Dir: filepath.Join(data, "local", "netns"), Net: netip.MustParsePrefix(tenantNet)}); err != nil {
		errs = append(errs, err)
	} else if m.Available() {
		names, err := m.List()
		errs = append(errs, err)
		for _, n := range names {
			errs = append(errs, m.Remove(n, 0))
		}
		if err := m.Destroy(); err != nil && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, err)
		}
	}
	// cmd/stamp names the parent cgroup of a data dir's tenants so.
	sum := sha256.Sum256([]byte(filepath.Join(data, "local")))
	parent := "stamp/" + hex.EncodeToString(sum[:4])
	h := cgroup.Open(parent)
	names, err := h.List()
	errs = append(errs, err)
	for _, n := range names {
		errs = append(errs, h.Remove(n))
	}
	for _, c := range []string{"memory", "cpu", "cpuacct", "pids", ""} {
		if err := os.Remove(filepath.Join("/sys/fs/cgroup", c, parent)); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
