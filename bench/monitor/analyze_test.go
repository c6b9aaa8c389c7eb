package main

import (
	"fmt"
	"maps"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	stamp "github.com/stamphq/stamp"
)

// t0 is the start of every synthetic event log.
var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// at returns t0 plus ms milliseconds.
func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// ev is an event of tenant of type typ about incident inc, at ms.
func ev(tenant, typ, inc string, ms int) *stamp.Event {
	return &stamp.Event{Time: at(ms), Type: typ, Tenant: tenant, Incident: inc}
}

func TestAnalyze(t *testing.T) {
	const opened, resolved = stamp.EventIncidentOpened, stamp.EventIncidentResolved
	tests := []struct {
		name         string
		events       []*stamp.Event
		wantOpenings []int     // per kill: a (at 0 ms), b (at 5000 ms)
		wantDetected []int     // ms, per kill with an opening
		wantResolved []int     // ms from the kill, per kill; -1 for never
		wantSpurious []string  // tenants
		wantIncident [2]string // per kill
	}{
		{
			name: "one incident each",
			events: []*stamp.Event{
				ev("a", opened, "i1", 600), ev("a", stamp.EventIncidentUpdated, "i1", 900), ev("a", resolved, "i1", 1700),
				ev("b", opened, "i2", 5300), ev("b", resolved, "i2", 6300),
			},
			wantOpenings: []int{1, 1}, wantDetected: []int{600, 300}, wantResolved: []int{1700, 1300},
			wantIncident: [2]string{"i1", "i2"},
		},
		{
			name: "opened twice for one kill, one never",
			events: []*stamp.Event{
				ev("a", opened, "i1", 400), ev("a", resolved, "i1", 1400), ev("a", opened, "i3", 2400),
			},
			wantOpenings: []int{2, 0}, wantDetected: []int{400}, wantResolved: []int{1400, -1},
			wantIncident: [2]string{"i1", ""},
		},
		{
			name: "never resolved; another incident's resolution does not count",
			events: []*stamp.Event{
				ev("a", opened, "i1", 700), ev("a", resolved, "i0", 800),
				ev("b", opened, "i2", 5100), ev("b", resolved, "i2", 6000),
			},
			wantOpenings: []int{1, 1}, wantDetected: []int{700, 100}, wantResolved: []int{-1, 1000},
			wantIncident: [2]string{"i1", "i2"},
		},
		{
			name: "spurious: another tenant, and b before its kill; before since ignored",
			events: []*stamp.Event{
				ev("c", opened, "i0", -10), // before since
				ev("c", opened, "i5", 200), ev("b", opened, "i6", 3000), ev("b", resolved, "i6", 4000),
				ev("a", opened, "i1", 900), ev("a", resolved, "i1", 1900),
				ev("b", opened, "i2", 5500), ev("b", resolved, "i2", 6500),
			},
			wantOpenings: []int{1, 1}, wantDetected: []int{900, 500}, wantResolved: []int{1900, 1500},
			wantSpurious: []string{"c", "b"}, wantIncident: [2]string{"i1", "i2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kills := []*kill{{tenant: "a", at: at(0)}, {tenant: "b", at: at(5000)}}
			for i, e := range tt.events {
				e.Seq = int64(i + 1)
			}
			spurious := analyze(kills, tt.events, at(0))
			var gotSpurious []string
			for _, s := range spurious {
				gotSpurious = append(gotSpurious, strings.SplitN(s, ":", 2)[0])
			}
			if !slices.Equal(gotSpurious, tt.wantSpurious) {
				t.Errorf("spurious: got %q, want tenants %q", spurious, tt.wantSpurious)
			}
			var detected []int
			for i, k := range kills {
				if k.openings != tt.wantOpenings[i] {
					t.Errorf("kill of %s: got %d openings, want %d", k.tenant, k.openings, tt.wantOpenings[i])
				}
				if k.incident != tt.wantIncident[i] {
					t.Errorf("kill of %s: got incident %q, want %q", k.tenant, k.incident, tt.wantIncident[i])
				}
				if k.openings > 0 {
					detected = append(detected, int(k.detected().Milliseconds()))
				}
				wantRes := tt.wantResolved[i]
				switch {
				case wantRes < 0 && !k.resolved.IsZero():
					t.Errorf("kill of %s: resolved at %s, want never", k.tenant, k.resolved)
				case wantRes >= 0 && k.recovered() != time.Duration(wantRes)*time.Millisecond:
					t.Errorf("kill of %s: resolved %s after, want %dms", k.tenant, k.recovered(), wantRes)
				}
			}
			if !slices.Equal(detected, tt.wantDetected) {
				t.Errorf("detected (ms): got %v, want %v", detected, tt.wantDetected)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name       string
		stack      []string // innermost first
		want       string
		wantDetail string
	}{
		{"a check, in the store", []string{
			"modernc.org/sqlite.(*conn).step", "github.com/stamphq/stamp/store/sqlite.(*Store).GetBundle",
			"github.com/stamphq/stamp/reconcile.(*Reconciler).Blueprint", "github.com/stamphq/stamp/monitor.(*Monitor).check",
			"github.com/stamphq/stamp/monitor.(*Monitor).tick.func1"}, parts[0].name, "monitor.(*Monitor).check → reconcile.(*Reconciler).Blueprint"},
		{"a probe's dial", []string{"syscall.Syscall", "net.(*netFD).connect", "net/http.(*Transport).dialConnFor"}, parts[1].name,
			"net/http.(*Transport).dialConnFor"},
		{"a reconcile pass probing health", []string{
			"github.com/stamphq/stamp/health.Probe", "github.com/stamphq/stamp/reconcile.(*Reconciler).pass",
			"github.com/stamphq/stamp/reconcile.(*Reconciler).worker"}, "reconciler (lease renewals, resyncs, passes)", ""},
		{"the monitor itself, started from main's errgroup", []string{
			"github.com/stamphq/stamp/monitor.(*Monitor).tick", "github.com/stamphq/stamp/monitor.(*Monitor).Run", "main.startServer.func7",
			"golang.org/x/sync/errgroup.(*Group).Go.func1"}, parts[0].name, "monitor.(*Monitor).tick (itself)"},
		{"a GC worker", []string{"runtime.scanobject", "runtime.gcDrain", "runtime.gcBgMarkWorker"}, "Go runtime: garbage collector", ""},
		{"the scheduler", []string{"do_syscall_64", "runtime.futex", "runtime.findRunnable", "runtime.schedule", "runtime.mcall"}, runtimePart.name, ""},
		{"kernel only", []string{"native_safe_halt", "[unknown]"}, otherPart.name, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, detail := classify(tt.stack)
			if got.name != tt.want || detail != tt.wantDetail {
				t.Errorf("got %q, %q; want %q, %q", got.name, detail, tt.want, tt.wantDetail)
			}
		})
	}
}

// perfScript is `perf script -F comm,tid,ip,sym` of three samples.
const perfScript = `stamp 4242 
	          4a5b6c runtime.mallocgc
	          4a5b00 github.com/stamphq/stamp/monitor.(*Monitor).check
	          4a5a00 github.com/stamphq/stamp/monitor.(*Monitor).tick.func1

stamp 4243 
	ffffffff8133c9e3 tcp_v4_connect
	          4a0000 net.(*netFD).connect
	          4a0100 net/http.(*Transport).dialConnFor

stamp 4244 
	          4b0000 runtime.gcDrain
	          4b0100 runtime.gcBgMarkWorker
`

func TestParseProfileAndMonitorShare(t *testing.T) {
	p, err := parseProfile(strings.NewReader(perfScript))
	if err != nil {
		t.Fatal(err)
	}
	if p.total != 3 || p.samples[parts[0].name] != 1 || p.samples[parts[1].name] != 1 || p.samples["Go runtime: garbage collector"] != 1 {
		t.Fatalf("got %d samples %v, want 3: one check, one probe dial, one GC", p.total, p.samples)
	}
	if p.monitor["monitor.(*Monitor).check → runtime.mallocgc"] != 1 || p.monitor["net/http.(*Transport).dialConnFor"] != 1 {
		t.Errorf("monitor's samples by where: got %v", p.monitor)
	}
	direct, est := p.monitorShare()
	if direct != 2.0/3 || est != 1 {
		t.Errorf("monitorShare: got %.3f, %.3f; want 0.667 of all samples and 1 of those not shared", direct, est)
	}
}

func TestFitFleet(t *testing.T) {
	const mib = 1 << 10
	tests := []struct {
		name        string
		asked       int
		availMiB    int64
		want        int
		wantScaled  bool
		wantRefusal bool
	}{
		{"fits", 1000, 24000, 1000, false, false},
		{"exactly fits", 1000, 1000*20 + 1024, 1000, false, false},
		{"scaled to a multiple of 50", 1000, 1024 + 20*733, 700, true, false},
		{"small cut exact", 100, 1024 + 20*73, 73, true, false},
		{"too small for the kills", 1000, 1024 + 20*40, 0, false, true},
		{"nothing available", 10, 100, 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why, err := fitFleet(tt.asked, 50, tt.availMiB*mib)
			if (err != nil) != tt.wantRefusal {
				t.Fatalf("got error %v, want refusal %t", err, tt.wantRefusal)
			}
			if got != tt.want || (why != "") != tt.wantScaled {
				t.Errorf("got %d tenants, why %q; want %d, scaled %t", got, why, tt.want, tt.wantScaled)
			}
		})
	}
}

func TestSNMPField(t *testing.T) {
	const snmp = "Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: RtoAlgorithm RtoMin ActiveOpens PassiveOpens\nTcp: 1 200 31 4242\nUdp: InDatagrams\nUdp: 7\n"
	if got, err := snmpField(snmp, "Tcp", "PassiveOpens"); err != nil || got != 4242 {
		t.Errorf("Tcp PassiveOpens: got %d, %v; want 4242", got, err)
	}
	if _, err := snmpField(snmp, "Tcp", "Missing"); err == nil {
		t.Error("a missing field: got no error")
	}
}

func TestParseSSAndReceived(t *testing.T) {
	// Two connections to tenant ports, the second with no data received
	// yet (ss leaves the field out).
	const before = "0      0      127.0.0.1:25001 127.0.0.1:41000\n" +
		"\t bbr wscale:10,10 rto:204 bytes_received:125 segs_out:6 segs_in:12 data_segs_out:5 data_segs_in:5 lastsnd:112\n" +
		"0      0      127.0.0.1:25002 127.0.0.1:41001\n" +
		"\t bbr wscale:10,10 rto:204 segs_out:1 segs_in:1\n"
	// At the end: the first received 3 more, the second 2, the first
	// connection's tenant has a second one, and one closed connection is
	// gone; a connection whose count went down is a new one.
	const after = "0      0      127.0.0.1:25001 127.0.0.1:41000\n" +
		"\t bbr data_segs_out:8 data_segs_in:8 lastsnd:12\n" +
		"0      0      127.0.0.1:25002 127.0.0.1:41001\n" +
		"\t bbr data_segs_in:2\n" +
		"0      0      127.0.0.1:25001 127.0.0.1:41002\n" +
		"\t bbr data_segs_in:1\n"
	b, err := parseSS(before)
	if err != nil {
		t.Fatal(err)
	}
	a, err := parseSS(after)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int64{"127.0.0.1:25001 127.0.0.1:41000": 5, "127.0.0.1:25002 127.0.0.1:41001": 0}; !maps.Equal(b, want) {
		t.Errorf("before: got %v, want %v", b, want)
	}
	if got := received(b, a); got != 3+2+1 {
		t.Errorf("received: got %d, want 6", got)
	}
	if got := received(map[string]int64{"127.0.0.1:25002 127.0.0.1:41001": 7}, a); got != 8+2+1 {
		t.Errorf("received with a count gone down: got %d, want 11", got)
	}
	if _, err := parseSS("\t data_segs_in:3\n"); err == nil {
		t.Error("an info line before any connection: got no error")
	}
	if _, err := parseSS("0      0      127.0.0.1:25001 127.0.0.1:41000\n\t data_segs_in:x\n"); err == nil {
		t.Error("a count that is no number: got no error")
	}
}

// TestTenantRequests counts the requests a listener on loopback received
// over one kept connection, with the real ss.
func TestTenantRequests(t *testing.T) {
	if _, err := exec.LookPath("ss"); err != nil {
		t.Skip("no ss on PATH")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	ports := fmt.Sprintf("%d-%d", port, port)
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	exchange := func() {
		t.Helper()
		buf := make([]byte, 64)
		if _, err := client.Write([]byte("GET /healthz HTTP/1.1\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		if _, err := server.Read(buf); err != nil {
			t.Fatal(err)
		}
		if _, err := server.Write([]byte("ok")); err != nil {
			t.Fatal(err)
		}
		if _, err := client.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
	exchange()
	before, err := tenantRequests(t.Context(), ports)
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != 1 {
		t.Fatalf("before: got %v, want the one connection to port %d", before, port)
	}
	for range 3 {
		exchange()
	}
	after, err := tenantRequests(t.Context(), ports)
	if err != nil {
		t.Fatal(err)
	}
	if got := received(before, after); got != 3 {
		t.Errorf("got %d requests received, want 3 (before %v, after %v)", got, before, after)
	}
}
