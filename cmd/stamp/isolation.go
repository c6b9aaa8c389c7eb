package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stamphq/stamp/driver/local"
	"github.com/stamphq/stamp/driver/local/cgroup"
	"github.com/stamphq/stamp/driver/local/netns"
	"github.com/stamphq/stamp/reconcile"
)

// isolation is how far this host lets the server keep tenants apart, as
// found at start: what is enforced, and a line for each thing that is not
// and why, so that nothing is left out silently.
type isolation struct {
	uids reconcile.UIDRange // zero: tenants run as the server's user
	// cgroups confines tenants to their plans' limits; nil: no limits.
	cgroups *cgroup.Host
	// network gives tenants network namespaces; nil: the host's loopback.
	network *netns.Manager
	// parts describe each part for the operator, in order.
	parts []isolationPart
}

// isolationPart is one line of what isolation holds: "users: ...".
type isolationPart struct {
	line string
	gap  bool // not enforced; line says why
}

// uidRange parses --tenant-uids: MIN-MAX, or "none".
func (c *serverConfig) uidRange() (reconcile.UIDRange, error) {
	if c.TenantUIDs == "none" {
		return reconcile.UIDRange{}, nil
	}
	a, b, ok := strings.Cut(c.TenantUIDs, "-")
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	// 65534 is nobody; tenants' users start above the usual system and
	// login users and stay below the 32-bit limit.
	if !ok || err1 != nil || err2 != nil || lo <= 65535 || hi >= 1<<31 || lo > hi {
		return reconcile.UIDRange{}, fmt.Errorf("--tenant-uids %q: want MIN-MAX with 65535 < MIN <= MAX < 2147483648 (e.g. 200000-299999), or none", c.TenantUIDs)
	}
	return reconcile.UIDRange{Min: lo, Max: hi}, nil
}

// detectIsolation finds what the host allows, given the server's data dir
// (made already). Running tenants as users of their own needs root and a
// data dir other users can pass through (to reach bundles and their own
// directories): the data dir itself is opened to them (0711: passing
// through, no listing), its parents are the operator's to open.
func detectIsolation(cfg serverConfig, data string) (*isolation, error) {
	iso := &isolation{}
	uids, err := cfg.uidRange()
	if err != nil {
		return nil, err
	}
	if cfg.Driver == driverKube {
		iso.onKubernetes(uids)
		return iso, nil
	}
	switch {
	case uids.Size() == 0:
		iso.gap("users", "off (--tenant-uids none): every tenant runs as the server's user and can read the others' files")
	case os.Geteuid() != 0:
		iso.gap("users", fmt.Sprintf("off: the server runs as uid %d, not root, so every tenant runs as that one user and can read the others' files", os.Geteuid()))
	default:
		if err := os.Chmod(data, 0o711); err != nil {
			return nil, fmt.Errorf("open data dir to tenants' users: %w", err)
		}
		if err := local.Reachable(data); err != nil {
			return nil, fmt.Errorf("tenants' users cannot reach the data dir (or start with --tenant-uids none): %w", err)
		}
		iso.uids = uids
		iso.enforced("users", fmt.Sprintf("one per tenant from %d-%d (%d), no supplementary groups", uids.Min, uids.Max, uids.Size()))
	}
	if cfg.TenantCgroups == "none" {
		iso.gap("limits", "off (--tenant-cgroups none): plans' memory, cpu and pids limits are not enforced (stamp tenant get shows none in force)")
	} else {
		iso.detectCgroups(data)
	}
	if err := iso.detectNetwork(cfg, data); err != nil {
		return nil, err
	}
	return iso, nil
}

// cgroupParent is where the cgroups of the tenants of data dir data live.
func cgroupParent(data string) string { return cgroup.ParentOf(filepath.Join(data, "local")) }

// netnsDir holds the network namespaces of the tenants of data dir data.
func netnsDir(data string) string { return filepath.Join(data, "local", "netns") }

// tenantNet parses --tenant-net: an IPv4 prefix, or "none".
func (c *serverConfig) tenantNet() (netip.Prefix, error) {
	if c.TenantNet == "none" {
		return netip.Prefix{}, nil
	}
	p, err := netip.ParsePrefix(c.TenantNet)
	if err != nil || !p.Addr().Is4() || p.Bits() > 30 {
		return netip.Prefix{}, fmt.Errorf("--tenant-net %q: want an IPv4 prefix of /30 or wider (e.g. 100.64.0.0/10), or none", c.TenantNet)
	}
	return p, nil
}

// detectNetwork finds whether tenants can have network namespaces: it
// needs users of their own (a tenant's uid numbers its interface and
// address), root and nftables, and a tenant PostgreSQL server they can
// reach (one on the host's loopback is not, from a namespace).
func (iso *isolation) detectNetwork(cfg serverConfig, data string) error {
	const loopback = "each tenant's instances listen on the host's loopback: tenants can connect to each other's ports (apps are told to bind ${host}, and one that listens beyond loopback is reported with a tenant.exposed event)"
	pool, err := cfg.tenantNet()
	if err != nil {
		return err
	}
	switch {
	case !pool.IsValid():
		iso.gap("network", "off (--tenant-net none): "+loopback)
		return nil
	case iso.uids.Size() == 0:
		iso.gap("network", "off (tenants have no users of their own): "+loopback)
		return nil
	case isLoopbackURL(cfg.TenantPG):
		iso.gap("network", "off (--tenant-postgres is on the host's loopback, which tenants in namespaces of their own cannot reach; give it an address they can): "+loopback)
		return nil
	}
	m, err := netns.New(netns.Config{Dir: netnsDir(data), Net: pool})
	if err != nil {
		return fmt.Errorf("--tenant-net: %w", err)
	}
	if !m.Available() {
		iso.gap("network", "off ("+m.Problem()+"): "+loopback)
		return nil
	}
	iso.network = m
	iso.enforced("network", fmt.Sprintf("a namespace per tenant, a /30 of %s each over a veth pair; tenants reach neither each other nor the host, and the outside (if their plan allows, the default) only through the host's NAT", pool))
	return nil
}

// isLoopbackURL reports whether the URL u names a host on loopback.
func isLoopbackURL(u string) bool {
	if u == "" {
		return false
	}
	parsed, err := url.Parse(u)
	if err != nil {
		return false
	}
	host := parsed.Hostname()
	if host == "localhost" {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.IsLoopback()
}

// detectCgroups finds the control groups that enforce plans' limits. The
// driver's groups live under stamp/<hash of the data dir>: servers on one
// data dir share them, servers on others never touch them.
func (iso *isolation) detectCgroups(data string) {
	h := cgroup.Open(cgroupParent(data))
	if h.Mode() == cgroup.ModeNone {
		iso.gap("limits", "off: "+h.Problem()+"; plans' memory, cpu and pids limits are not enforced (stamp tenant get shows none in force)")
		return
	}
	iso.cgroups = h
	iso.enforced("limits", fmt.Sprintf("cgroup %s (%s), one group per tenant", h.Mode(), strings.Join(h.Controllers(), ", ")))
	if p := h.Problem(); p != "" {
		iso.gap("limits", p)
	}
}

// enforced records part as enforced, as how says.
func (iso *isolation) enforced(part, how string) {
	iso.parts = append(iso.parts, isolationPart{line: part + ": " + how})
}

// gap records part as not enforced, for why.
func (iso *isolation) gap(part, why string) {
	iso.parts = append(iso.parts, isolationPart{line: part + ": " + why, gap: true})
}

// log says once, at start, what is enforced and what is not.
func (iso *isolation) log(logger *slog.Logger) {
	for _, p := range iso.parts {
		if p.gap {
			logger.Warn("isolation not enforced", "part", p.line)
		} else {
			logger.Info("isolation", "part", p.line)
		}
	}
}

// print writes one line per part for `stamp server --check`.
func (iso *isolation) print(w io.Writer) {
	for _, p := range iso.parts {
		fmt.Fprintln(w, p.line)
	}
}

// releaseHost removes every tenant the server's driver holds something
// for (processes, cgroups, network namespaces, directories) and the
// server's nftables tables: what a data dir about to be deleted leaves on
// the host. The store is not touched.
func (s *server) releaseHost(ctx context.Context) error {
	names, err := s.driver.Tenants(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		errs = append(errs, s.driver.Remove(ctx, name))
	}
	if s.iso.network != nil {
		errs = append(errs, s.iso.network.Destroy())
	}
	return errors.Join(errs...)
}
