package benchkit

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

// ReleaseHost removes what the local driver of a stopped server with data
// dir data keeps on the host by design, across restarts: its tenants'
// network namespaces (their bind mounts and veth pairs with them), its
// nftables table and its tenants' cgroups. The server's tenant processes
// must be gone (Server.Stop). Without root there is none of it.
func ReleaseHost(data string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	local, err := filepath.Abs(filepath.Join(data, "local"))
	if err != nil {
		return err
	}
	var errs []error
	// The prefix only has to be valid: the driver names its table and
	// namespaces by the directory.
	m, err := netns.New(netns.Config{Dir: filepath.Join(local, "netns"), Net: netip.MustParsePrefix("100.64.0.0/10")})
	if err != nil {
		return err
	}
	if m.Available() {
		names, err := m.List()
		errs = append(errs, err)
		for _, n := range names {
			errs = append(errs, m.Remove(n, 0))
		}
		if err := m.Destroy(); err != nil && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, err)
		}
	}
	// The driver's cgroup parent: "stamp/" and a hash of its directory.
	sum := sha256.Sum256([]byte(local))
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
