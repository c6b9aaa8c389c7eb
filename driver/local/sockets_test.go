package local

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stamphq/stamp"
)

func TestParseProcAddr(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0100007F:1F90", "127.0.0.1:8080"},
		{"00000000:0050", "0.0.0.0:80"},
		{"0201A8C0:01BB", "192.168.1.2:443"},
		{"00000000000000000000000001000000:1F90", "[::1]:8080"},
		{"00000000000000000000000000000000:0016", "[::]:22"},
		{"0000000000000000FFFF00000100007F:1F90", "127.0.0.1:8080"}, // v4-mapped
	}
	for _, tt := range tests {
		got, err := parseProcAddr(tt.in)
		if err != nil || got != netip.MustParseAddrPort(tt.want) {
			t.Errorf("parseProcAddr(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "0100007F", "0100007F:XYZ", "01007F:0050", "0100007F:10000"} {
		if _, err := parseProcAddr(bad); err == nil {
			t.Errorf("parseProcAddr(%q): no error", bad)
		}
	}
}

// TestExposed checks that an instance bound to every address is reported
// (it is reachable without the router) and one bound to loopback is not.
func TestExposed(t *testing.T) {
	d := open(t, newDir(t))
	apply(t, d, runtime("acme", web(1, "serve")))
	apply(t, d, runtime("globex", web(1, "serve-any")))
	for tenant, want := range map[string]string{"acme": "", "globex": "listens on [::]:"} {
		ep := running(t, d, tenant, "web", 1)[0].Endpoint
		waitHealthy(t, ep)
		lines, err := d.Exposed(context.Background(), tenant)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(lines, "\n")
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("Exposed(%s) = %q, want %q", tenant, got, want)
		}
	}
}

// TestListening checks that an instance's listening sockets are reported
// as they are, and that an instance with no process is ENOTFOUND.
func TestListening(t *testing.T) {
	d := open(t, newDir(t))
	apply(t, d, runtime("acme", web(1, "serve")))
	inst := running(t, d, "acme", "web", 1)[0]
	waitHealthy(t, inst.Endpoint)
	got, err := d.Listening(context.Background(), "acme", inst.ID)
	if err != nil || len(got) != 1 || got[0] != inst.Endpoint {
		t.Errorf("Listening(acme, %s) = %q, %v; want [%s]", inst.ID, got, err, inst.Endpoint)
	}
	if _, err := d.Listening(context.Background(), "acme", "web-1"); stamp.ErrorCode(err) != stamp.ENOTFOUND {
		t.Errorf("Listening of an instance that does not run: %v, want ENOTFOUND", err)
	}
}

// TestListenersStopAtTheConnections reads a table as the kernel writes it,
// its listening sockets first: the connections after them are not read,
// however many (a line there in state LISTEN would be the kernel's
// business, not the table's order).
func TestListenersStopAtTheConnections(t *testing.T) {
	table := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
		"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 101 1 0000000000000000 100 0 0 10 0\n" +
		"   1: 00000000:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 999 1 0000000000000000 100 0 0 10 0\n" +
		"   2: 0100007F:1F90 0100007F:D431 06 00000000:00000000 03:00000BB8 00000000     0        0 0 3 0000000000000000\n" +
		"   3: 0100007F:1F92 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 102 1 0000000000000000 100 0 0 10 0\n"
	path := filepath.Join(t.TempDir(), "tcp")
	if err := os.WriteFile(path, []byte(table), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := listeners(path, map[string]bool{"101": true, "102": true})
	if err != nil {
		t.Fatal(err)
	}
	if want := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:8080")}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v: inode 101's listener, not 999's (another process's), nor what follows the connections", got, want)
	}
}
