package netns

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// halfMade are states a crash (or a hand) leaves a tenant's network in.
var halfMade = []struct {
	name  string
	leave func(t *testing.T, m *Manager, id int)
}{
	{"file not bound", func(t *testing.T, m *Manager, id int) {
		mustDo(t, os.MkdirAll(m.cfg.Dir, 0o700))
		mustDo(t, os.WriteFile(filepath.Join(m.cfg.Dir, "acme"), nil, 0o600))
	}},
	{"namespace without veth", func(t *testing.T, m *Manager, id int) {
		mustDo(t, os.MkdirAll(m.cfg.Dir, 0o700))
		mustDo(t, ensureNamespace(filepath.Join(m.cfg.Dir, "acme")))
	}},
	{"veth never moved in", func(t *testing.T, m *Manager, id int) {
		mustDo(t, os.MkdirAll(m.cfg.Dir, 0o700))
		mustDo(t, ensureNamespace(filepath.Join(m.cfg.Dir, "acme")))
		name := ifPrefix + fmt.Sprint(id)
		mustDo(t, netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peerName(name)}))
	}},
	{"addresses and routes gone", func(t *testing.T, m *Manager, id int) {
		l, err := m.Ensure("acme", id, true, 5432)
		mustDo(t, err)
		host, err := netlink.LinkByName(l.HostIf)
		mustDo(t, err)
		mustDo(t, netlink.LinkSetDown(host))
		addrs, _ := netlink.AddrList(host, netlink.FAMILY_V4)
		for _, a := range addrs {
			mustDo(t, netlink.AddrDel(host, &a))
		}
		inside := handle(t, m, "acme")
		for _, name := range []string{"eth0", "lo"} {
			link, err := inside.LinkByName(name)
			mustDo(t, err)
			mustDo(t, inside.LinkSetDown(link)) // the default route goes too
		}
	}},
	{"host end deleted", func(t *testing.T, m *Manager, id int) {
		l, err := m.Ensure("acme", id, true, 5432)
		mustDo(t, err)
		mustDo(t, unwire(l.HostIf))
	}},
	{"paired under another number", func(t *testing.T, m *Manager, id int) {
		_, err := m.Ensure("acme", id+1_000_000, true)
		mustDo(t, err)
		t.Cleanup(func() { unwire(ifPrefix + fmt.Sprint(id+1_000_000)); m.dropMember(ifPrefix + fmt.Sprint(id+1_000_000)) })
	}},
}

// TestEnsureRepairs leaves each half-made state, then Ensure makes the
// network whole (the host reaches a listener inside) and Remove, not
// told the tenant's number, leaves nothing behind.
func TestEnsureRepairs(t *testing.T) {
	for _, tt := range halfMade {
		t.Run(tt.name, func(t *testing.T) {
			m := manager(t)
			id := testID()
			t.Cleanup(func() { m.Remove("acme", id) })
			tt.leave(t, m, id)
			l, err := m.Ensure("acme", id, true, 5432)
			if err != nil {
				t.Fatalf("Ensure: %v", err)
			}
			checkWired(t, m, "acme", l)
			if err := m.Remove("acme", 0); err != nil {
				t.Fatalf("Remove: %v", err)
			}
			checkGone(t, m, "acme", l.HostIf)
		})
	}
}

// TestRemoveHalfMade removes each half-made state as it is.
func TestRemoveHalfMade(t *testing.T) {
	for _, tt := range halfMade {
		t.Run(tt.name, func(t *testing.T) {
			m := manager(t)
			id := testID()
			t.Cleanup(func() { m.Remove("acme", id) })
			tt.leave(t, m, id)
			if err := m.Remove("acme", id); err != nil {
				t.Fatalf("Remove: %v", err)
			}
			checkGone(t, m, "acme", ifPrefix+fmt.Sprint(id))
		})
	}
}

// TestRemoveForgotten makes a namespace, forgets it (as a crash before
// the driver recorded it would), finds it with a new Manager on the same
// directory and removes it, its number lost too: no file, mount,
// interface or set element stays.
func TestRemoveForgotten(t *testing.T) {
	m := manager(t)
	id := testID()
	t.Cleanup(func() { m.Remove("acme", id) })
	l, err := m.Ensure("acme", id, true, 5432)
	if err != nil {
		t.Fatal(err)
	}
	again, err := m.Ensure("acme", id, true, 5432)
	if err != nil || *again != *l {
		t.Fatalf("second Ensure: got %+v, %v; want %+v", again, err, l)
	}
	fresh, err := New(m.cfg)
	if err != nil {
		t.Fatal(err)
	}
	names, err := fresh.List()
	if err != nil || !slices.Equal(names, []string{"acme"}) {
		t.Fatalf("List: got %q, %v; want [acme]", names, err)
	}
	for range 2 { // the second finds nothing to do
		if err := fresh.Remove("acme", 0); err != nil {
			t.Fatalf("Remove: %v", err)
		}
	}
	checkGone(t, m, "acme", l.HostIf)
}

// TestStaleRulesRewritten: a table whose rules are not this version's
// (an older Stamp's, or edited by hand) is written anew, its tenants
// kept; after Destroy, Remove still works.
func TestStaleRulesRewritten(t *testing.T) {
	m := manager(t)
	l, id := ensure(t, m, "acme", false)
	c, err := nftables.New()
	mustDo(t, err)
	forward := &nftables.Chain{Name: "forward", Table: m.nftTable()}
	c.FlushChain(forward)
	c.AddRule(&nftables.Rule{Table: m.nftTable(), Chain: forward, Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}}})
	mustDo(t, c.Flush())

	fresh, err := New(m.cfg)
	mustDo(t, err)
	if _, err := fresh.Ensure("acme", id, false); err != nil {
		t.Fatal(err)
	}
	rules, err := c.GetRules(m.nftTable(), forward)
	mustDo(t, err)
	if !current(rules, 3) {
		t.Errorf("forward chain not rewritten: %d rules", len(rules))
	}
	if got := elements(t, m, membersSet, l.HostIf); got != 1 {
		t.Errorf("acme's elements in %s: got %d, want 1", membersSet, got)
	}
	mustDo(t, fresh.Destroy())
	if err := fresh.Remove("acme", id); err != nil {
		t.Errorf("Remove without a table: %v", err)
	}
}

// checkWired checks that l is up on both ends, with addresses and the
// default route, that the host reaches a listener inside at
// TenantAddr, and that it is a member of the Manager's tenants.
func checkWired(t *testing.T, m *Manager, tenant string, l *Link) {
	t.Helper()
	host, err := netlink.LinkByName(l.HostIf)
	if err != nil {
		t.Fatalf("host end: %v", err)
	}
	if host.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("%s is down", l.HostIf)
	}
	inside := handle(t, m, tenant)
	eth, err := inside.LinkByName("eth0")
	if err != nil {
		t.Fatalf("eth0: %v", err)
	}
	routes, _ := inside.RouteList(eth, netlink.FAMILY_V4)
	if !slices.ContainsFunc(routes, func(r netlink.Route) bool {
		return (r.Dst == nil || r.Dst.String() == "0.0.0.0/0") && r.Gw.Equal(l.HostAddr.AsSlice())
	}) {
		t.Errorf("no default route via %s in %v", l.HostAddr, routes)
	}
	ln := listenIn(t, m, tenant, hostPort(l.TenantAddr, 0))
	c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
	if err != nil {
		t.Fatalf("host to %s: %v", tenant, err)
	}
	c.Close()
	if got := elements(t, m, membersSet, l.HostIf); got != 1 {
		t.Errorf("%s's elements in %s: got %d, want 1", tenant, membersSet, got)
	}
}

// checkGone checks that nothing of tenant's network is left: no file or
// mount under Dir, no interface named for hostIf, no set element.
func checkGone(t *testing.T, m *Manager, tenant, hostIf string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(m.cfg.Dir, tenant)); !os.IsNotExist(err) {
		t.Errorf("namespace file: got %v, want none", err)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	mustDo(t, err)
	if strings.Contains(string(mounts), m.cfg.Dir) {
		t.Errorf("a mount under %s", m.cfg.Dir)
	}
	for _, name := range []string{hostIf, peerName(hostIf)} {
		if _, err := netlink.LinkByName(name); err == nil {
			t.Errorf("interface %s still there", name)
		}
	}
	for _, set := range []string{membersSet, outboundSet, hostPortsSet} {
		if got := elements(t, m, set, hostIf); got != 0 {
			t.Errorf("%d elements of %s in %s", got, hostIf, set)
		}
	}
}

// elements counts hostIf's elements in the set name.
func elements(t *testing.T, m *Manager, name, hostIf string) int {
	t.Helper()
	c, err := nftables.New()
	mustDo(t, err)
	if _, err := c.ListTableOfFamily(m.table, nftables.TableFamilyINet); errors.Is(err, unix.ENOENT) {
		return 0
	}
	set, err := c.GetSetByName(m.nftTable(), name)
	mustDo(t, err)
	elems, err := c.GetSetElements(set)
	mustDo(t, err)
	n := 0
	for _, e := range elems {
		if bytes.HasPrefix(e.Key, ifKey(hostIf)) {
			n++
		}
	}
	return n
}

// handle returns a netlink handle in tenant's namespace.
func handle(t *testing.T, m *Manager, tenant string) *netlink.Handle {
	t.Helper()
	ns, err := netns.GetFromPath(filepath.Join(m.cfg.Dir, tenant))
	mustDo(t, err)
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	mustDo(t, err)
	t.Cleanup(h.Close)
	return h
}

// listenIn listens on addr in tenant's namespace from this process, and
// accepts until the test ends.
func listenIn(t *testing.T, m *Manager, tenant, addr string) net.Listener {
	t.Helper()
	ns, err := netns.GetFromPath(filepath.Join(m.cfg.Dir, tenant))
	mustDo(t, err)
	defer ns.Close()
	var ln net.Listener
	mustDo(t, onThread(func() error { return netns.Set(ns) }, func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	}))
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln
}

// outside makes a namespace standing for the world beyond the host: a
// veth pair (not a tenant's) with 203.0.113.1 on the host and .2 inside,
// routing back through the host. It returns the namespace's path.
func outside(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("sto%d", testID()%100000)
	path := filepath.Join(t.TempDir(), "outside")
	mustDo(t, ensureNamespace(path))
	t.Cleanup(func() { syscall.Unmount(path, syscall.MNT_DETACH) })
	ns, err := netns.GetFromPath(path)
	mustDo(t, err)
	defer ns.Close()
	mustDo(t, netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: name + "p"}))
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(name); err == nil {
			netlink.LinkDel(l)
		}
	})
	host, err := netlink.LinkByName(name)
	mustDo(t, err)
	peer, err := netlink.LinkByName(name + "p")
	mustDo(t, err)
	mustDo(t, netlink.LinkSetNsFd(peer, int(ns)))
	h, err := netlink.NewHandleAt(ns)
	mustDo(t, err)
	defer h.Close()
	peer, err = h.LinkByName(name + "p")
	mustDo(t, err)
	mustDo(t, ensureAddr(netlink.AddrReplace, host, netip.MustParseAddr("203.0.113.1")))
	mustDo(t, ensureAddr(h.AddrReplace, peer, netip.MustParseAddr("203.0.113.2")))
	mustDo(t, netlink.LinkSetUp(host))
	mustDo(t, h.LinkSetUp(peer))
	mustDo(t, h.RouteReplace(&netlink.Route{LinkIndex: peer.Attrs().Index, Gw: net.ParseIP("203.0.113.1")}))
	return path
}

// inNamespace starts cmd in the namespace at path.
func inNamespace(path string) func(*exec.Cmd) error {
	return func(cmd *exec.Cmd) error {
		ns, err := netns.GetFromPath(path)
		if err != nil {
			return err
		}
		defer ns.Close()
		return onThread(func() error { return netns.Set(ns) }, cmd.Start)
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
