// Package netns gives each tenant a network namespace of its own on this
// host, reached from the host (the router, health probes) over a veth
// pair, so that tenants cannot reach each other's instances, and nothing
// reaches a tenant from outside but through the host. It owns, for the
// tenants of a Manager: the namespace files under Config.Dir, the veth
// pairs, the addresses and routes on both ends, and one nftables table.
//
// Addresses: each tenant is known by a number unique on the host (the
// local driver uses its uid). The Manager's pool (Config.Net, e.g.
// 100.64.0.0/10) is cut into /30s; tenant n has the (n mod Slots())-th:
// .1 on the host's side (interface stv<n>), .2 in the tenant's namespace
// (eth0, with a default route via .1, and lo up). Servers on one host
// need pools or numbers that never meet: other pools, or ranges of
// numbers that differ by less than Slots(). A namespace lives as long as
// its file, Config.Dir/<tenant>, a bind mount of it, so it outlives the
// process that made it; the host's loopback is another namespace's, so a
// tenant never reaches the host's 127.0.0.1 (but see Ensure's hostPorts).
//
// Filtering, in an nftables table of the Manager's own, inet
// stamp-<hash of Dir>, whose rules are the same for every tenant and
// whose sets hold the tenants (their host-side interfaces):
//   - forwarded traffic to a tenant interface passes only as the answer
//     to a connection the tenant opened: never from another tenant (of
//     any Manager) nor from outside;
//   - a tenant opens no connection to the host itself (input from a
//     tenant interface passes only as an answer), but to the host
//     loopback ports it was given (set "hostports", DNAT to 127.0.0.1);
//   - of the Manager's tenants (set "members"), only those in the set
//     "outbound" may open connections to the host's other networks,
//     masqueraded behind the host's address. That needs
//     net.ipv4.ip_forward=1, a host-wide setting (the host then forwards
//     between all its interfaces) that Ensure turns on when a tenant has
//     outbound access and never turns off.
//
// Several Managers (with other Dirs and pools) may share a host: the
// first two rules hold for every tenant interface alike, the third only
// for a Manager's own members. Ensure and Remove add and delete a
// tenant's set elements only; the rules go with the table (Destroy).
package netns

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/google/nftables"
	"github.com/stamphq/stamp"
	"github.com/vishvananda/netns"
)

// ifPrefix starts the name of every host-side tenant interface, of every
// Manager: the filter rules match it. peerPrefix names the other end
// until it is moved into the namespace and renamed eth0.
const (
	ifPrefix   = "stv"
	peerPrefix = "stp"
)

// Config configures a Manager.
type Config struct {
	// Dir holds the namespace files, one per tenant; created if missing.
	Dir string
	// Net is the pool of tenant addresses, cut into /30s, IPv4.
	Net netip.Prefix
}

// Manager makes, enters and removes tenants' network namespaces. Its
// methods may be called from several goroutines, but not for one tenant
// at a time.
type Manager struct {
	cfg     Config
	table   string // nftables table name
	problem string

	mu    sync.Mutex
	rules bool // the table is known to be current
}

// Link is a tenant's namespace as the host reaches it.
type Link struct {
	HostAddr   netip.Addr // the host's end, the tenant's gateway
	TenantAddr netip.Addr // where the tenant's instances listen
	HostIf     string     // the host's interface
}

// New returns a Manager. It never fails for want of namespaces: Problem
// says why they cannot be made (not root, no nftables) and Available is
// false. It changes nothing on the host (stamp server --check uses it).
func New(cfg Config) (*Manager, error) {
	if !cfg.Net.IsValid() || !cfg.Net.Addr().Is4() || cfg.Net.Bits() > 30 {
		return nil, fmt.Errorf("tenant network %s: want an IPv4 prefix of /30 or wider", cfg.Net)
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("network namespaces directory: %w", err)
	}
	cfg.Dir, cfg.Net = dir, cfg.Net.Masked()
	sum := sha256.Sum256([]byte(dir))
	m := &Manager{cfg: cfg, table: "stamp-" + hex.EncodeToString(sum[:4])}
	if os.Geteuid() != 0 {
		m.problem = fmt.Sprintf("the server runs as uid %d, not root, and may not make network namespaces", os.Geteuid())
		return m, nil
	}
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
// crash or a hand left half made (the file, the veth pair, addresses,
// routes, set elements). It lets the tenant out to the host's other
// networks if outbound, and makes exactly the host's loopback TCP ports
// hostPorts (say a PostgreSQL server on 127.0.0.1:5432) reachable from
// the tenant at Link.HostAddr. It is idempotent.
func (m *Manager) Ensure(tenant string, id int, outbound bool, hostPorts ...int) (*Link, error) {
	if !m.Available() {
		return nil, fmt.Errorf("network of %s: %s", tenant, m.problem)
	}
	l, err := m.link(id)
	if err != nil {
		return nil, fmt.Errorf("network of %s: %w", tenant, err)
	}
	path, err := m.path(tenant)
	if err != nil {
		return nil, err
	}
	for _, p := range hostPorts {
		if p <= 0 || p > 65535 {
			return nil, fmt.Errorf("host port %d for %s: want 1 to 65535", p, tenant)
		}
	}
	if err := m.setUpRules(); err != nil {
		return nil, fmt.Errorf("network of %s: nftables table %s: %w", tenant, m.table, err)
	}
	if err := os.MkdirAll(m.cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("network namespace of %s: %w", tenant, err)
	}
	if err := ensureNamespace(path); err != nil {
		return nil, fmt.Errorf("network namespace of %s: %w", tenant, err)
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("network namespace of %s: %w", tenant, err)
	}
	defer ns.Close()
	// Wired before it is a member: until then nothing runs inside (Start
	// follows Ensure), and a member's interface always exists but for a
	// crash, which the next Ensure of that number corrects.
	if err := wire(ns, l); err != nil {
		return nil, fmt.Errorf("network of %s: %w", tenant, err)
	}
	if err := m.setMember(l, outbound, hostPorts); err != nil {
		return nil, fmt.Errorf("network of %s: %w", tenant, err)
	}
	return l, nil
}

// Remove deletes the namespace of tenant, number id, its veth pair and
// its set elements. What is already gone is not an error. With id 0 (not
// known, as after a crash) the veth pair is found from the namespace.
func (m *Manager) Remove(tenant string, id int) error {
	path, err := m.path(tenant)
	if err != nil {
		return err
	}
	var names []string
	if l, err := m.link(id); err == nil {
		names = append(names, l.HostIf)
	}
	if name := hostEnd(path); name != "" && !slices.Contains(names, name) {
		names = append(names, name)
	}
	for _, name := range names {
		if err := unwire(name); err != nil {
			return fmt.Errorf("remove the network of %s: %w", tenant, err)
		}
		if err := m.dropMember(name); err != nil {
			return fmt.Errorf("remove the network of %s: %w", tenant, err)
		}
	}
	if err := removeNamespace(path); err != nil {
		return fmt.Errorf("remove the network namespace of %s: %w", tenant, err)
	}
	return nil
}

// List returns the tenants with a namespace file under Dir, made whole
// or not: after a crash, those to Ensure or Remove.
func (m *Manager) List() ([]string, error) {
	entries, err := os.ReadDir(m.cfg.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list network namespaces: %w", err)
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
