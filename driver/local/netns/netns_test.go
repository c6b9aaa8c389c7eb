package netns

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// The test binary doubles as the processes run inside namespaces: with
// NETNS_TEST_CHILD=listen it listens on NETNS_TEST_ADDR and says "ready".
func TestMain(m *testing.M) {
	if os.Getenv("NETNS_TEST_CHILD") == "listen" {
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
	}
	os.Exit(m.Run())
}

func TestAddressPlan(t *testing.T) {
	m := &Manager{cfg: Config{Net: netip.MustParsePrefix("100.64.0.0/10")}}
	tests := []struct {
		id             int
		host, tenant   string
		hostIf, errMsg string
	}{
		{id: 1, host: "100.64.0.5", tenant: "100.64.0.6", hostIf: "stv1"},
		{id: 1000, host: "100.64.15.161", tenant: "100.64.15.162", hostIf: "stv1000"},
		{id: 1 << 20, host: "100.64.0.1", tenant: "100.64.0.2", hostIf: "stv1048576"},
		{id: 1<<20 + 1, host: "100.64.0.5", tenant: "100.64.0.6", hostIf: "stv1048577"},
		{id: 4294967295, host: "100.127.255.253", tenant: "100.127.255.254", hostIf: "stv4294967295"},
		{id: 0, errMsg: "tenant number 0: want a positive number"},
	}
	for _, tt := range tests {
		l, err := m.link(tt.id)
		if tt.errMsg != "" {
			if err == nil || err.Error() != tt.errMsg {
				t.Errorf("link(%d): got %v, want %q", tt.id, err, tt.errMsg)
			}
			continue
		}
		if err != nil {
			t.Fatalf("link(%d): %v", tt.id, err)
		}
		got := fmt.Sprintf("%s %s %s", l.HostAddr, l.TenantAddr, l.HostIf)
		if want := tt.host + " " + tt.tenant + " " + tt.hostIf; got != want {
			t.Errorf("link(%d): got %q, want %q", tt.id, got, want)
		}
		if len(l.HostIf) > 15 || len(peerName(l.HostIf)) > 15 {
			t.Errorf("link(%d): interface names over 15 bytes", tt.id)
		}
	}
}

var nextID atomic.Int64

// testID is a tenant number of this test process's own: host-side
// interface names come from it, and other test binaries run beside.
func testID() int { return 5_000_000 + (os.Getpid()%10_000)*100 + int(nextID.Add(1)) }

// manager returns a Manager on a pool of the tests' own (TEST-NET-2),
// whose table goes when the test ends.
func manager(t *testing.T) *Manager {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root: run the tests as root to check tenants' isolation")
	}
	m, err := New(Config{Dir: filepath.Join(t.TempDir(), "netns"), Net: netip.MustParsePrefix("198.51.100.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Available() {
		t.Skipf("no network namespaces: %s", m.Problem())
	}
	t.Cleanup(func() {
		if err := m.Destroy(); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	})
	return m
}

// ensure makes tenant's namespace and removes it when the test ends.
func ensure(t *testing.T, m *Manager, tenant string, outbound bool, hostPorts ...int) (*Link, int) {
	t.Helper()
	id := testID()
	l, err := m.Ensure(tenant, id, outbound, hostPorts...)
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
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
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
	return dialIn(t, filepath.Join(m.cfg.Dir, tenant), addr)
}

// dialIn connects to addr from the namespace at path, from this process
// (the socket is the namespace's from its making on), and returns "ok"
// or the error. On veth and loopback an answer takes microseconds, but a
// first SYN sent while a new veth still comes up (seen on a loaded host)
// is lost and resent after 1s: the timeout leaves room for that one
// resend, so a reachable address is not taken for a blocked one.
func dialIn(t *testing.T, path, addr string) string {
	t.Helper()
	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	err = onThread(func() error { return netns.Set(ns) }, func() error {
		c, err := net.DialTimeout("tcp", addr, 1500*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err
	})
	if err != nil {
		return err.Error()
	}
	return "ok"
}

// hostListener listens on the host's loopback, as a service for the
// host alone does, and returns its port.
func hostListener(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
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
	return ln.Addr().(*net.TCPAddr).Port
}

func hostPort(a netip.Addr, port int) string { return netip.AddrPortFrom(a, uint16(port)).String() }

func TestTenantsCannotReachEachOther(t *testing.T) {
	m := manager(t)
	a, _ := ensure(t, m, "acme", true)
	b, _ := ensure(t, m, "globex", true)
	bAddr := hostPort(b.TenantAddr, 8080)
	listen(t, m, "globex", bAddr)

	// The host (the router) reaches globex.
	c, err := net.DialTimeout("tcp", bAddr, time.Second)
	if err != nil {
		t.Fatalf("host to globex: %v", err)
	}
	c.Close()
	// acme does not, directly nor through globex's gateway.
	for _, addr := range []string{bAddr, hostPort(b.HostAddr, 8080)} {
		if got := dial(t, m, "acme", addr); got == "ok" {
			t.Errorf("acme reached %s", addr)
		}
	}
	// Nor a service of the host bound to every address, nor one on the
	// host's loopback: 127.0.0.1 in a namespace is the namespace's own.
	all, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	if got := dial(t, m, "acme", hostPort(a.HostAddr, all.Addr().(*net.TCPAddr).Port)); got == "ok" {
		t.Errorf("acme reached a service of the host at its gateway")
	}
	if got := dial(t, m, "acme", hostPort(netip.MustParseAddr("127.0.0.1"), hostListener(t))); got == "ok" {
		t.Errorf("acme reached the host's loopback")
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

func TestOutboundAccessIsAPlanSetting(t *testing.T) {
	m := manager(t)
	out := outside(t)
	_, listener := child(t, "listen", "203.0.113.2:7000", inNamespace(out))
	if line, _ := listener.ReadString('\n'); strings.TrimSpace(line) != "ready" {
		t.Fatalf("outside listener: %q", line)
	}
	open, id := ensure(t, m, "acme", true)
	ensure(t, m, "globex", false)
	if got := dial(t, m, "acme", "203.0.113.2:7000"); got != "ok" {
		t.Errorf("acme (outbound allowed) to the outside: %s", got)
	}
	if got := dial(t, m, "globex", "203.0.113.2:7000"); got == "ok" {
		t.Errorf("globex (no outbound) reached the outside")
	}
	// Nothing outside opens a connection to a tenant.
	listen(t, m, "acme", hostPort(open.TenantAddr, 8080))
	if got := dialIn(t, out, hostPort(open.TenantAddr, 8080)); got == "ok" {
		t.Errorf("the outside reached acme")
	}
	// A plan that loses outbound access loses it at once.
	if _, err := m.Ensure("acme", id, false); err != nil {
		t.Fatal(err)
	}
	if got := dial(t, m, "acme", "203.0.113.2:7000"); got == "ok" {
		t.Errorf("acme reached the outside after outbound was taken away")
	}
}

func TestHostPorts(t *testing.T) {
	m := manager(t)
	given, other := hostListener(t), hostListener(t)
	a, id := ensure(t, m, "acme", false, given)
	b, _ := ensure(t, m, "globex", false)
	tests := []struct {
		tenant, addr string
		want         bool
	}{
		{"acme", hostPort(a.HostAddr, given), true},
		{"acme", hostPort(a.HostAddr, other), false},
		{"acme", hostPort(netip.MustParseAddr("127.0.0.1"), given), false}, // its own loopback
		{"acme", hostPort(b.HostAddr, given), false},
		{"globex", hostPort(a.HostAddr, given), false},
		{"globex", hostPort(b.HostAddr, given), false},
	}
	for _, tt := range tests {
		if got := dial(t, m, tt.tenant, tt.addr) == "ok"; got != tt.want {
			t.Errorf("%s to %s: reached %v, want %v", tt.tenant, tt.addr, got, tt.want)
		}
	}
	if got := sysctl(t, "net/ipv4/conf/"+a.HostIf+"/route_localnet"); got != "1" {
		t.Errorf("route_localnet of %s: got %q, want %q", a.HostIf, got, "1")
	}
	// Given no ports, the tenant reaches none.
	if _, err := m.Ensure("acme", id, false); err != nil {
		t.Fatal(err)
	}
	if got := dial(t, m, "acme", hostPort(a.HostAddr, given)); got == "ok" {
		t.Errorf("acme reached host port %d after it was taken away", given)
	}
	if got := sysctl(t, "net/ipv4/conf/"+a.HostIf+"/route_localnet"); got != "0" {
		t.Errorf("route_localnet of %s: got %q, want %q", a.HostIf, got, "0")
	}
	if _, err := m.Ensure("acme", id, false, 0); err == nil {
		t.Errorf("Ensure with host port 0: no error")
	}
}

func sysctl(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
