package main

import (
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stamphq/stamp/internal/certfile/testcert"
)

// TestTLS serves the API and the router over TLS: the CLI (trusting the
// CA by --ca-file) drives the server, a plain HTTPS client reaches a
// tenant through the router, the tenant's URL says https, a client not
// trusting the certificate is refused, and a new certificate written
// over the files is served without a restart.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key, ca := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, testcert.Write(t, cert, key, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startStampServerTLS(t, cert, key, ca)
	s.mustCLI("blueprint", "push", blueprintDir(t))
	out := s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger")
	if !strings.Contains(out, "ready: https://acme.localhost:") {
		t.Errorf("create output lacks an https URL:\n%s", out)
	}

	req, err := http.NewRequest("GET", "https://"+s.router+"/healthz", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "acme.localhost"
	resp, err := s.httpClient().Do(req)
	if err != nil {
		t.Fatalf("GET /healthz of acme through the router over TLS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz of acme through the router over TLS: %d", resp.StatusCode)
	}

	if out, err := runCLI("tenant", "list", "--url", s.url(), "--data", s.data, "--ca-file", key); err == nil || !strings.Contains(err.Error(), "no PEM certificate in it") {
		t.Errorf("--ca-file of a key: %v, %q; want refused", err, out)
	}
	cmdOut, err := runCLI("tenant", "list", "--url", s.url(), "--data", s.data)
	if err == nil || !strings.Contains(err.Error()+cmdOut, "certificate") {
		t.Errorf("the CLI without --ca-file: %v, %q; want refused for the certificate", err, cmdOut)
	}

	// A new pair over the files: served from the next handshakes of both.
	testcert.Write(t, cert, key, 2)
	later := time.Now().Add(2 * time.Second)
	os.Chtimes(cert, later, later)
	for _, addr := range []string{s.api, s.router} {
		waitFor(t, "the new certificate on "+addr, 10*time.Second, func() bool {
			// Which certificate is served is all that is checked here.
			conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
			if err != nil {
				return false
			}
			defer conn.Close()
			return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64() == 2
		})
	}
}

// TestListenBeyondLoopback: without TLS, a server refuses an address
// beyond loopback unless --insecure says so; loopback needs neither.
func TestListenBeyondLoopback(t *testing.T) {
	for _, tt := range []struct {
		flags tlsFlags
		addr  string
		want  string
	}{
		{tlsFlags{}, "127.0.0.1:7070", ""},
		{tlsFlags{}, "[::1]:7070", ""},
		{tlsFlags{}, "localhost:7070", ""},
		{tlsFlags{}, "0.0.0.0:7070", "--listen 0.0.0.0:7070 is beyond loopback: give --tls-cert and --tls-key to serve TLS there, or --insecure to serve plain HTTP anyway"},
		{tlsFlags{}, ":7070", "--listen :7070 is beyond loopback"},
		{tlsFlags{}, "10.1.2.3:7070", "--listen 10.1.2.3:7070 is beyond loopback"},
		{tlsFlags{insecure: true}, "0.0.0.0:7070", ""},
		{tlsFlags{cert: "c", key: "k"}, "0.0.0.0:7070", ""},
		{tlsFlags{cert: "c"}, "127.0.0.1:7070", "--tls-cert and --tls-key go together"},
	} {
		got := strings.Join(tt.flags.problems(map[string]string{"--listen": tt.addr}), "; ")
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("%+v on %s: got %q, want %q", tt.flags, tt.addr, got, tt.want)
		}
	}
}
