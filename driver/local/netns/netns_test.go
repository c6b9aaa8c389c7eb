package netns

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// The test binary doubles as the processes run inside namespaces: with
// NETNS_TEST_CHILD=listen it listens on NETNS_TEST_ADDR and says "ready";
// with dial it connects to NETNS_TEST_ADDR (1s at most) and prints "ok"
// or the error.
func TestMain(m *testing.M) {
	switch os.Getenv("NETNS_TEST_CHILD") {
	case "listen":
		ln, err := net.Listen("tcp", os.Getenv("NETNS_TEST_ADDR"))
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println("ready")
		for {
			c, err := ln.Accept()
			if err != nil {
				os.Exit(1)
			}
			c.Close()
		}
	case "dial":
		c, err := net.DialTimeout("tcp", os.Getenv("NETNS_TEST_ADDR"), time.Second)
		if err != nil {
			fmt.Println(err)
			return
		}
		c.Close()
		fmt.Println("ok")
		return
	}
	os.Exit(m.Run())
}

var nextID atomic.Int64

// testID is a tenant number of this test process's own: host-side
// interface names come from it, and other test binaries run beside.
func testID() int { return 5_000_000 + (os.Getpid()%10_000)*100 + int(nextID.Add(1)) }

// manager returns a Manager on a pool of the tests' own (TEST-NET-2),
// whose rules go when the test ends.
func manager(t *testing.T) *Manager {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	m, err := New(Config{Dir: filepath.Join(t.TempDir(), "netns"), Net: netip.MustParsePrefix("198.51.100.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Available() {
		t.Skipf("no network namespaces: %s", m.Problem())
	}
	t.Cleanup(func() { m.Destroy() })
	return m
}

// ensure makes tenant's namespace and removes it when the test ends.
func ensure(t *testing.T, m *Manager, tenant string, outbound bool) (*Link, int) {
	t.Helper()
	id := testID()
	l, err := m.Ensure(tenant, id, outbound)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Remove(tenant, id) })
	return l, id
}

// child runs the test binary in mode with addr, started by start.
func child(t *testing.T, mode, addr string, start func(*exec.Cmd) error) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "NETNS_TEST_CHILD="+mode, "NETNS_TEST_ADDR="+addr)
	out, _ := cmd.StdoutPipe()
	if err := start(cmd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, bufio.NewReader(out)
}

// listen starts a listener on addr, in the tenant's namespace if tenant
// is not "", and waits until it is ready.
func listen(t *testing.T, m *Manager, tenant, addr string) {
	t.Helper()
	start := func(c *exec.Cmd) error { return c.Start() }
	if tenant != "" {
		start = func(c *exec.Cmd) error { return m.Start(tenant, c) }
	}
	_, out := child(t, "listen", addr, start)
	if line, _ := out.ReadString('\n'); strings.TrimSpace(line) != "ready" {
		t.Fatalf("listener on %s: %q", addr, line)
	}
}

// dial connects to addr from the tenant's namespace and returns "ok" or
// the error.
func dial(t *testing.T, m *Manager, tenant, addr string) string {
	t.Helper()
	cmd, out := child(t, "dial", addr, func(c *exec.Cmd) error { return m.Start(tenant, c) })
	line, _ := out.ReadString('\n')
	cmd.Wait()
	return strings.TrimSpace(line)
}

func TestTenantsCannotReachEachOther(t *testing.T) {
	m := manager(t)
	a, _ := ensure(t, m, "acme", true)
	b, _ := ensure(t, m, "globex", true)
	bAddr := netip.AddrPortFrom(b.TenantAddr, 8080).String()
	listen(t, m, "globex", bAddr)

	// The host (the router) reaches globex.
	c, err := net.DialTimeout("tcp", bAddr, time.Second)
	if err != nil {
		t.Fatalf("host to globex: %v", err)
	}
	c.Close()
	// acme does not, directly nor through globex's gateway.
	for _, addr := range []string{bAddr, netip.AddrPortFrom(b.HostAddr, 8080).String()} {
		if got := dial(t, m, "acme", addr); got == "ok" {
			t.Errorf("acme reached %s", addr)
		}
	}
	// Nor a service of the host bound to every address.
	hostLn, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer hostLn.Close()
	_, port, _ := net.SplitHostPort(hostLn.Addr().String())
	if got := dial(t, m, "acme", net.JoinHostPort(a.HostAddr.String(), port)); got == "ok" {
		t.Errorf("acme reached a service of the host at its gateway")
	}
	// Its own loopback is its own.
	listen(t, m, "acme", "127.0.0.1:9090")
	if got := dial(t, m, "acme", "127.0.0.1:9090"); got != "ok" {
		t.Errorf("acme to its own loopback: %s", got)
	}
	if got := dial(t, m, "globex", "127.0.0.1:9090"); got == "ok" {
		t.Errorf("globex reached acme's loopback")
	}
}

// outside makes a namespace standing for the world beyond the host: a
// veth pair (not a tenant's) with 203.0.113.1 on the host and .2 inside,
// routing back through the host. It returns the namespace's path.
func outside(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("sto%d", testID()%100000)
	path := filepath.Join(t.TempDir(), "outside")
	m := &Manager{}
	if err := m.ensureNamespace(path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(path, syscall.MNT_DETACH) })
	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: name + "p"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(name); err == nil {
			netlink.LinkDel(l)
		}
	})
	host, _ := netlink.LinkByName(name)
	peer, _ := netlink.LinkByName(name + "p")
	if err := netlink.LinkSetNsFd(peer, int(ns)); err != nil {
		t.Fatal(err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	peer, _ = h.LinkByName(name + "p")
	ensureAddr(netlink.AddrReplace, host, netip.MustParseAddr("203.0.113.1"))
	ensureAddr(h.AddrReplace, peer, netip.MustParseAddr("203.0.113.2"))
	netlink.LinkSetUp(host)
	h.LinkSetUp(peer)
	h.RouteReplace(&netlink.Route{LinkIndex: peer.Attrs().Index, Gw: net.ParseIP("203.0.113.1")})
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
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		orig, _ := netns.Get()
		defer orig.Close()
		netns.Set(ns)
		defer netns.Set(orig)
		return cmd.Start()
	}
}

func TestOutboundAccessIsAPlanSetting(t *testing.T) {
	m := manager(t)
	out := outside(t)
	_, listener := child(t, "listen", "203.0.113.2:7000", inNamespace(out))
	if line, _ := listener.ReadString('\n'); strings.TrimSpace(line) != "ready" {
		t.Fatalf("outside listener: %q", line)
	}
	open, _ := ensure(t, m, "acme", true)
	ensure(t, m, "globex", false)
	if got := dial(t, m, "acme", "203.0.113.2:7000"); got != "ok" {
		t.Errorf("acme (outbound allowed) to the outside: %s", got)
	}
	if got := dial(t, m, "globex", "203.0.113.2:7000"); got == "ok" {
		t.Errorf("globex (no outbound) reached the outside")
	}
	// Nothing outside opens a connection to a tenant.
	listen(t, m, "acme", netip.AddrPortFrom(open.TenantAddr, 8080).String())
	cmd, reply := child(t, "dial", netip.AddrPortFrom(open.TenantAddr, 8080).String(), inNamespace(out))
	line, _ := reply.ReadString('\n')
	cmd.Wait()
	if strings.TrimSpace(line) == "ok" {
		t.Errorf("the outside reached acme")
	}
}

// TestRemoveLeavesNothing makes a namespace, forgets it (as a crash
// before the driver recorded it would), finds it with a new Manager on
// the same directory and removes it: no file, mount or interface stays.
func TestRemoveLeavesNothing(t *testing.T) {
	m := manager(t)
	id := testID()
	l, err := m.Ensure("acme", id, true)
	if err != nil {
		t.Fatal(err)
	}
	again, err := m.Ensure("acme", id, true) // idempotent
	if err != nil || *again != *l {
		t.Fatalf("second Ensure: %+v, %v; want %+v", again, err, l)
	}
	fresh, err := New(m.cfg)
	if err != nil {
		t.Fatal(err)
	}
	names, err := fresh.List()
	if err != nil || len(names) != 1 || names[0] != "acme" {
		t.Fatalf("List: %v, %v", names, err)
	}
	if err := fresh.Remove("acme", id); err != nil {
		t.Fatal(err)
	}
	if err := fresh.Remove("acme", id); err != nil {
		t.Errorf("second Remove: %v", err)
	}
	if _, err := netlink.LinkByName(l.HostIf); err == nil {
		t.Errorf("interface %s after Remove", l.HostIf)
	}
	if _, err := os.Stat(filepath.Join(m.cfg.Dir, "acme")); !os.IsNotExist(err) {
		t.Errorf("namespace file after Remove: %v", err)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), m.cfg.Dir) {
		t.Errorf("a mount under %s after Remove", m.cfg.Dir)
	}
}
