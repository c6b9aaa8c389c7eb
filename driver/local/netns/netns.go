// Package netns gives each tenant a network namespace of its own on this
// host, reached from the host (the router, health probes) over a veth
// pair, so that tenants cannot reach each other's instances, and nothing
// reaches a tenant from outside but through the host.
//
// Addresses: each tenant is known by a number unique on the host (the
// local driver uses its uid). The Manager's pool (Config.Net, e.g.
// 100.64.0.0/10) is cut into /30s; tenant n has the (n mod count)-th:
// .1 on the host's side (interface stv<n>), .2 in the tenant's namespace
// (eth0, with a default route via .1, and lo up). Servers on one host
// need pools or numbers that never meet: other pools, or ranges of
// numbers that differ by less than the pool's count. A namespace lives as long as its file, Config.Dir/<name>,
// a bind mount of it, so it outlives the process that made it.
//
// Filtering, in an nftables table of the Manager's own (inet
// stamp-<hash of Dir>) and a NAT table (ip stamp-<hash>-nat):
//   - forwarded traffic between tenant interfaces is dropped, and traffic
//     forwarded to a tenant only passes as the answer to a connection it
//     opened;
//   - a tenant opens no connection to the host itself (input from a tenant
//     interface passes only as an answer);
//   - of the Manager's tenants (set "members"), only those in the set
//     "outbound" may open connections to the host's other networks,
//     masqueraded behind the host's address; that needs
//     net.ipv4.ip_forward=1, a host-wide setting this package turns on
//     once a tenant has outbound access.
//
// Several Managers (with other Dirs and pools) may share a host: the
// first two rules hold for every tenant interface alike, the third only
// for a Manager's own members. The tables are made by the first Ensure;
// New only looks.
package netns

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"

	"github.com/google/nftables"
	"github.com/stamphq/stamp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ifPrefix starts the name of every host-side tenant interface, of every
// Manager: the filter rules match it.
const ifPrefix = "stv"

// Config configures a Manager.
type Config struct {
	// Dir holds the namespace files, one per tenant; created if missing.
	Dir string
	// Net is the pool of tenant addresses, cut into /30s, IPv4.
	Net netip.Prefix
}

// Manager makes, enters and removes tenants' network namespaces.
type Manager struct {
	cfg     Config
	table   string // nftables table name
	problem string

	mu    sync.Mutex
	rules bool // the tables are known to exist
}

// Link is a tenant's namespace as the host reaches it.
type Link struct {
	HostAddr   netip.Addr // the host's end, the tenant's gateway
	TenantAddr netip.Addr // where the tenant's instances listen
	HostIf     string     // the host's interface
}

// New returns a Manager. It never fails for want of namespaces: Problem
// says why they cannot be made (not root, no nftables) and Available is
// false.
func New(cfg Config) (*Manager, error) {
	if !cfg.Net.IsValid() || !cfg.Net.Addr().Is4() || cfg.Net.Bits() > 30 {
		return nil, fmt.Errorf("tenant network %s: want an IPv4 prefix of /30 or wider", cfg.Net)
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, err
	}
	cfg.Dir, cfg.Net = dir, cfg.Net.Masked()
	sum := sha256.Sum256([]byte(dir))
	m := &Manager{cfg: cfg, table: "stamp-" + hex.EncodeToString(sum[:4])}
	if os.Geteuid() != 0 {
		m.problem = fmt.Sprintf("the server runs as uid %d, not root, and may not make network namespaces", os.Geteuid())
		return m, nil
	}
	// Only looked at: New changes nothing on the host (stamp server
	// --check uses it); the tables are made by the first Ensure.
	c, err := nftables.New()
	if err == nil {
		_, err = c.ListTables()
	}
	if err != nil {
		m.problem = "nftables: " + err.Error()
	}
	return m, nil
}

// Available reports whether namespaces can be made.
func (m *Manager) Available() bool { return m.problem == "" }

// Problem says why namespaces cannot be made, or "".
func (m *Manager) Problem() string { return m.problem }

// Slots is how many tenants the pool has addresses for.
func (m *Manager) Slots() int { return 1 << (30 - m.cfg.Net.Bits()) }

// link returns the addresses and interface of tenant number id.
func (m *Manager) link(id int) (*Link, error) {
	if id <= 0 {
		return nil, fmt.Errorf("tenant number %d: want a positive number", id)
	}
	slot := id % m.Slots()
	base := m.cfg.Net.Addr().As4()
	n := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	n += uint32(slot) * 4
	addr := func(i uint32) netip.Addr {
		v := n + i
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	return &Link{HostAddr: addr(1), TenantAddr: addr(2), HostIf: ifPrefix + strconv.Itoa(id)}, nil
}

// path is the namespace file of tenant.
func (m *Manager) path(tenant string) (string, error) {
	if err := stamp.ValidateName("tenant", tenant); err != nil {
		return "", err
	}
	return filepath.Join(m.cfg.Dir, tenant), nil
}

// Ensure makes the namespace of tenant, number id, or repairs what a
// crash left half made (the file, the veth pair, addresses, routes), and
// lets it out to the host's other networks if outbound. It is idempotent.
func (m *Manager) Ensure(tenant string, id int, outbound bool) (*Link, error) {
	if !m.Available() {
		return nil, errors.New(m.problem)
	}
	l, err := m.link(id)
	if err != nil {
		return nil, err
	}
	path, err := m.path(tenant)
	if err != nil {
		return nil, err
	}
	if err := m.setUpRules(); err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	if err := os.MkdirAll(m.cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	if err := m.ensureNamespace(path); err != nil {
		return nil, fmt.Errorf("network namespace of %s: %w", tenant, err)
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("network namespace of %s: %w", tenant, err)
	}
	defer ns.Close()
	if err := m.wire(ns, l); err != nil {
		return nil, fmt.Errorf("network of %s: %w", tenant, err)
	}
	if err := m.setMember(l.HostIf, true, outbound); err != nil {
		return nil, fmt.Errorf("outbound access of %s: %w", tenant, err)
	}
	return l, nil
}

// ensureNamespace makes a network namespace and binds it to path, unless
// path is one already.
func (m *Manager) ensureNamespace(path string) error {
	if isNamespace(path) {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	// unshare(2) moves only the calling thread into the new namespace:
	// it is locked, and given back to the scheduler only once it is in
	// the original namespace again.
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	ns, err := netns.New()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("unshare: %w", err)
	}
	defer ns.Close()
	mountErr := unix.Mount(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), path, "", unix.MS_BIND, "")
	if err := netns.Set(orig); err != nil {
		return fmt.Errorf("back to the host's namespace: %w", err) // the thread stays locked and dies with its goroutine
	}
	runtime.UnlockOSThread()
	if mountErr != nil {
		return fmt.Errorf("bind %s: %w", path, mountErr)
	}
	return nil
}

// isNamespace reports whether path is a bound network namespace.
func isNamespace(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

// wire gives the namespace ns its end of the veth pair of l, addresses,
// loopback and a default route, making what is missing.
func (m *Manager) wire(ns netns.NsHandle, l *Link) error {
	inside, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer inside.Close()
	if _, err := inside.LinkByName("eth0"); err != nil {
		// No pair, or a host end left by a crash whose other end is gone
		// or still in the host's namespace: start over.
		if old, err := netlink.LinkByName(l.HostIf); err == nil {
			netlink.LinkDel(old)
		}
		peer := "stp" + l.HostIf[len(ifPrefix):]
		if old, err := netlink.LinkByName(peer); err == nil {
			netlink.LinkDel(old)
		}
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: l.HostIf}, PeerName: peer}
		if err := netlink.LinkAdd(veth); err != nil {
			return fmt.Errorf("add veth %s: %w", l.HostIf, err)
		}
		p, err := netlink.LinkByName(peer)
		if err != nil {
			return err
		}
		if err := netlink.LinkSetNsFd(p, int(ns)); err != nil {
			return fmt.Errorf("move %s into the namespace: %w", peer, err)
		}
		p, err = inside.LinkByName(peer)
		if err != nil {
			return err
		}
		if err := inside.LinkSetName(p, "eth0"); err != nil {
			return err
		}
	}
	host, err := netlink.LinkByName(l.HostIf)
	if err != nil {
		return err
	}
	if err := ensureAddr(netlink.AddrReplace, host, l.HostAddr); err != nil {
		return err
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return err
	}
	eth, err := inside.LinkByName("eth0")
	if err != nil {
		return err
	}
	if err := ensureAddr(inside.AddrReplace, eth, l.TenantAddr); err != nil {
		return err
	}
	for _, link := range []netlink.Link{eth, mustLo(inside)} {
		if link == nil {
			return errors.New("no loopback in the namespace")
		}
		if err := inside.LinkSetUp(link); err != nil {
			return err
		}
	}
	gw := net.IP(l.HostAddr.AsSlice())
	return inside.RouteReplace(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: gw})
}

func mustLo(h *netlink.Handle) netlink.Link {
	lo, _ := h.LinkByName("lo")
	return lo
}

// ensureAddr gives link addr/30.
func ensureAddr(replace func(netlink.Link, *netlink.Addr) error, link netlink.Link, addr netip.Addr) error {
	a := &netlink.Addr{IPNet: &net.IPNet{IP: addr.AsSlice(), Mask: net.CIDRMask(30, 32)}}
	if err := replace(link, a); err != nil {
		return fmt.Errorf("address %s on %s: %w", addr, link.Attrs().Name, err)
	}
	return nil
}

// Start starts cmd in tenant's namespace: the child of a fork inherits
// the network namespace of the forking thread, and os/exec forks on the
// thread of the goroutine calling Start, which is locked to it here and
// switched to the tenant's namespace for the call only.
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
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter the network namespace of %s: %w", tenant, err)
	}
	startErr := cmd.Start()
	if err := netns.Set(orig); err != nil {
		return fmt.Errorf("back to the host's namespace: %w", err) // the thread stays locked and dies
	}
	runtime.UnlockOSThread()
	return startErr
}

// Remove deletes the namespace of tenant, number id, its veth pair and
// its outbound access. What is already gone is not an error; id 0 (not
// known) removes the namespace only.
func (m *Manager) Remove(tenant string, id int) error {
	path, err := m.path(tenant)
	if err != nil {
		return err
	}
	if l, err := m.link(id); err == nil {
		if link, err := netlink.LinkByName(l.HostIf); err == nil {
			// Deleting one end deletes the pair.
			if err := netlink.LinkDel(link); err != nil {
				return fmt.Errorf("remove the network of %s: %w", tenant, err)
			}
		}
		if m.Available() && m.setUpRules() == nil {
			if err := m.setMember(l.HostIf, false, false); err != nil {
				return fmt.Errorf("remove the network of %s: %w", tenant, err)
			}
		}
	}
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove the network namespace of %s: %w", tenant, err)
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove the network namespace of %s: %w", tenant, err)
	}
	return nil
}

// List returns the tenants with a namespace file under Dir.
func (m *Manager) List() ([]string, error) {
	entries, err := os.ReadDir(m.cfg.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if stamp.ValidateName("tenant", e.Name()) == nil {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}
