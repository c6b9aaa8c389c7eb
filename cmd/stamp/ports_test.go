package main

import (
	"context"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"

	stamp "github.com/stamphq/stamp"
)

// TestHealthSaysWhereTheAppListens runs an app that ignores the port it
// is given and listens on one of its own: the failed health step, the
// output of create, the tenant's status and its incident name where it
// listens next to where it was expected to.
func TestHealthSaysWhereTheAppListens(t *testing.T) {
	dir := blueprintDir(t, "command: [bin/ledger, serve]",
		`command: [sh, -c, 'HOST=0.0.0.0 PORT=9999 exec "$STAMP_BUNDLE/bin/ledger" serve']`)
	s := startStampServer(t, "--health-timeout", "2s")
	s.mustCLI("blueprint", "push", dir)
	_, errOut, code := s.cli("tenant", "create", "acme", "--blueprint", "ledger", "--timeout", "60s")
	// Go listens on every address with one IPv6 socket that takes IPv4 too.
	listens := regexp.MustCompile(`expected web to listen on [0-9.]+:[0-9]+, but its processes listen on (0\.0\.0\.0|\[::\]):9999`)
	if code == 0 || !listens.MatchString(errOut) {
		t.Fatalf("create: exit %d, stderr:\n%s", code, errOut)
	}
	tn, err := s.client().GetTenant(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if !listens.MatchString(tn.Status.Message) {
		t.Errorf("status message %q lacks where the app listens", tn.Status.Message)
	}
	waitIncident(t, s, "acme", "an incident naming where the app listens", func(i *stamp.Incident) bool {
		return i.Cause == stamp.CauseStep && listens.MatchString(i.Message)
	})
}

// fixedPort is the example app made to listen on port 8080 of every
// address, whatever port it is given: an app with a fixed port of its own.
const fixedPort = `command: [sh, -c, 'HOST=0.0.0.0 PORT=8080 exec "$STAMP_BUNDLE/bin/ledger" serve']`

// fixedLoopbackPort is fixedPort on port of loopback, for a tenant on the
// host's network.
func fixedLoopbackPort(port string) string {
	return `command: [sh, -c, 'HOST=127.0.0.1 PORT=` + port + ` exec "$STAMP_BUNDLE/bin/ledger" serve']`
}

// TestDeclaredPortInANetworkNamespace runs an app fixed on its declared
// port (8080) for two tenants, each in a network namespace of its own:
// each instance listens on 8080 at its tenant's address, and both serve.
func TestDeclaredPortInANetworkNamespace(t *testing.T) {
	requireRoot(t)
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", blueprintDir(t, "command: [bin/ledger, serve]", fixedPort))
	for _, name := range []string{"acme", "globex"} {
		s.mustCLI("tenant", "create", name, "--blueprint", "ledger")
		tn, err := s.client().GetTenant(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		if len(tn.Status.Endpoints) != 1 || !strings.HasSuffix(tn.Status.Endpoints[0], ":8080") {
			t.Errorf("endpoints of %s: %q, want its address and the declared port 8080", name, tn.Status.Endpoints)
		}
		if code, body := s.do("GET", name, "/api/invoices", ""); code != http.StatusOK {
			t.Errorf("GET invoices of %s: %d %s", name, code, body)
		}
	}
}

// TestDeclaredPortOnASharedNetwork pushes and creates the app fixed on
// its declared port on a server whose tenants share the host's network:
// the push says the port cannot be given and how the app learns its
// port, and the failed health step says the same.
func TestDeclaredPortOnASharedNetwork(t *testing.T) {
	s := startStampServer(t, "--tenant-net", "none", "--health-timeout", "2s")
	_, port, _ := net.SplitHostPort(freePort(t))
	dir := blueprintDir(t, "command: [bin/ledger, serve]", fixedLoopbackPort(port), "port: 8080", "port: "+port)
	_, errOut, code := s.cli("blueprint", "push", dir)
	if code != 0 || !strings.Contains(errOut, "note: service web declares port "+port+", which this server cannot give it") || !strings.Contains(errOut, "${listen}") {
		t.Fatalf("push: exit %d, stderr:\n%s", code, errOut)
	}
	_, errOut, code = s.cli("tenant", "create", "acme", "--blueprint", "ledger", "--timeout", "60s")
	want := regexp.MustCompile(`expected web to listen on 127\.0\.0\.1:[0-9]+, but its processes listen on 127\.0\.0\.1:` + port +
		`; web-0@2\.0\.0 was given port [0-9]+, not its declared port ` + port + `, .*\$\{listen\}`)
	if code == 0 || !want.MatchString(errOut) {
		t.Fatalf("create: exit %d, stderr:\n%s", code, errOut)
	}
}
