package router

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stamphq/stamp"
)

// echo is what a test backend answers: who it is and what it was sent.
type echo struct {
	Tenant         string `json:"tenant"`
	Host           string `json:"host"`
	URI            string `json:"uri"`
	ForwardedFor   string `json:"forwardedFor"`
	ForwardedHost  string `json:"forwardedHost"`
	ForwardedProto string `json:"forwardedProto"`
}

// backend starts a tenant's app: it answers every request with an echo.
func backend(t *testing.T, tenant string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echo{
			Tenant:         tenant,
			Host:           r.Host,
			URI:            r.RequestURI,
			ForwardedFor:   r.Header.Get("X-Forwarded-For"),
			ForwardedHost:  r.Header.Get("X-Forwarded-Host"),
			ForwardedProto: r.Header.Get("X-Forwarded-Proto"),
		})
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// deadEndpoint returns a loopback address where nothing listens.
func deadEndpoint(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// ready returns a ready tenant served at endpoints (none if empty).
func ready(name string, endpoints ...string) *stamp.Tenant {
	if len(endpoints) == 1 && endpoints[0] == "" {
		endpoints = nil
	}
	return &stamp.Tenant{
		Name:   name,
		Spec:   stamp.TenantSpec{Blueprint: "ledger", Desired: stamp.DesiredRunning},
		Status: stamp.TenantStatus{Phase: stamp.PhaseReady, Endpoints: endpoints},
	}
}

func inPhase(name, phase string) *stamp.Tenant {
	return &stamp.Tenant{
		Name:   name,
		Spec:   stamp.TenantSpec{Blueprint: "ledger", Desired: stamp.DesiredRunning},
		Status: stamp.TenantStatus{Phase: phase},
	}
}

// upgrading returns a tenant moving to another version whose old version
// serves at endpoints (none if empty).
func upgrading(name string, endpoints ...string) *stamp.Tenant {
	t := ready(name, endpoints...)
	t.Status.Phase = stamp.PhaseUpgrading
	return t
}

func deleting(name, endpoint string) *stamp.Tenant {
	t := ready(name, endpoint)
	t.Spec.Desired = stamp.DesiredDeleted
	return t
}

var quiet = slog.New(slog.DiscardHandler)

// serve starts a router over src, loaded by a first Sync, behind a real
// HTTP server.
func serve(t *testing.T, src Source) (*Router, *httptest.Server) {
	t.Helper()
	r := New(Config{Source: src, Logger: quiet})
	if err := r.Sync(context.Background()); err != nil {
		t.Fatalf("first Sync: %v", err)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

type answer struct {
	status int
	header http.Header
	body   string
}

// get sends GET path to srv with the given Host and Accept headers.
func get(t *testing.T, srv *httptest.Server, host, path, accept string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("GET %s%s: %v", host, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read answer of %s%s: %v", host, path, err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

// decodeEcho reads a backend's echo out of a proxied answer.
func decodeEcho(t *testing.T, a answer) echo {
	t.Helper()
	var e echo
	if err := json.Unmarshal([]byte(a.body), &e); err != nil {
		t.Fatalf("answer %d %q is not a backend echo: %v", a.status, a.body, err)
	}
	return e
}

func TestServeHTTP(t *testing.T) {
	src := newFakeSource()
	src.put(ready("acme", backend(t, "acme")))
	src.put(ready("globex", backend(t, "globex")))
	src.put(inPhase("initech", stamp.PhaseProvisioning))
	src.put(inPhase("hooli", ""))
	src.put(inPhase("umbrella", stamp.PhaseFailed))
	src.put(ready("noendpoint", ""))
	src.put(deleting("gone", backend(t, "gone")))
	src.put(ready("dead", deadEndpoint(t)))
	src.put(upgrading("wayne", backend(t, "wayne")))
	src.put(upgrading("stark", ""))
	_, srv := serve(t, src)

	tests := []struct {
		name       string
		host       string
		wantStatus int
		wantTenant string // for proxied answers
		wantBody   string // plain-text body, for the router's own answers
	}{
		{name: "acme", host: "acme.localhost:7080", wantStatus: 200, wantTenant: "acme"},
		{name: "globex", host: "globex.localhost:7080", wantStatus: 200, wantTenant: "globex"},
		{name: "upgrading", host: "wayne.localhost:7080", wantStatus: 200, wantTenant: "wayne"},
		{name: "uppercase and port", host: "GLOBEX.LocalHost:7080", wantStatus: 200, wantTenant: "globex"},
		{name: "no port", host: "acme.localhost", wantStatus: 200, wantTenant: "acme"},
		{name: "trailing dot", host: "acme.localhost.:7080", wantStatus: 200, wantTenant: "acme"},
		{name: "unknown tenant", host: "nobody.localhost:7080", wantStatus: 404, wantBody: `tenant "nobody" does not exist`},
		{name: "bare base domain", host: "localhost:7080", wantStatus: 404, wantBody: "no tenant at this address"},
		{name: "empty label", host: ".localhost:7080", wantStatus: 404, wantBody: "no tenant at this address"},
		{name: "nested subdomain", host: "www.acme.localhost:7080", wantStatus: 404, wantBody: "no tenant at this address"},
		{name: "other domain", host: "acme.example.com", wantStatus: 404, wantBody: "no tenant at this address"},
		{name: "suffix without dot", host: "acmelocalhost:7080", wantStatus: 404, wantBody: "no tenant at this address"},
		{name: "IPv4 host", host: "127.0.0.1:7080", wantStatus: 404, wantBody: "no tenant at this address"},
		{name: "IPv6 host", host: "[::1]:7080", wantStatus: 404, wantBody: "no tenant at this address"},
		{name: "provisioning", host: "initech.localhost:7080", wantStatus: 503, wantBody: `tenant "initech" is not ready yet (phase: provisioning)`},
		{name: "no phase yet", host: "hooli.localhost:7080", wantStatus: 503, wantBody: `tenant "hooli" is not ready yet (phase: pending)`},
		{name: "failed", host: "umbrella.localhost:7080", wantStatus: 503, wantBody: `tenant "umbrella" failed and does not serve until an operator retries it (phase: failed)`},
		{name: "ready without endpoint", host: "noendpoint.localhost:7080", wantStatus: 503, wantBody: `tenant "noendpoint" is not ready yet (phase: ready)`},
		{name: "upgrading without endpoint", host: "stark.localhost:7080", wantStatus: 503, wantBody: `tenant "stark" is not ready yet (phase: upgrading)`},
		{name: "desired deleted", host: "gone.localhost:7080", wantStatus: 503, wantBody: `tenant "gone" is being deleted (phase: ready)`},
		{name: "backend down", host: "dead.localhost:7080", wantStatus: 502, wantBody: "tenant dead is not answering"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := get(t, srv, tt.host, "/invoices?page=2", "")
			if a.status != tt.wantStatus {
				t.Fatalf("got status %d (%q), want %d", a.status, a.body, tt.wantStatus)
			}
			if tt.wantTenant != "" {
				e := decodeEcho(t, a)
				if e.Tenant != tt.wantTenant {
					t.Errorf("got answer from %q, want %q", e.Tenant, tt.wantTenant)
				}
				if want := "/invoices?page=2"; e.URI != want {
					t.Errorf("got backend URI %q, want %q", e.URI, want)
				}
				return
			}
			if got, want := a.body, tt.wantBody+"\n"; got != want {
				t.Errorf("got body %q, want %q", got, want)
			}
			wantRetry := ""
			if tt.wantStatus == http.StatusServiceUnavailable {
				wantRetry = "2"
			}
			if got := a.header.Get("Retry-After"); got != wantRetry {
				t.Errorf("got Retry-After %q, want %q", got, wantRetry)
			}
		})
	}
}

func TestForwardedHeaders(t *testing.T) {
	src := newFakeSource()
	src.put(ready("acme", backend(t, "acme")))
	_, srv := serve(t, src)

	req, err := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "Acme.localhost:7080"
	req.Header.Set("X-Forwarded-For", "203.0.113.9") // a client's claim, not to be trusted
	req.Header.Set("X-Forwarded-Host", "evil.example")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	e := decodeEcho(t, answer{status: resp.StatusCode, body: string(body)})
	for _, c := range []struct{ what, got, want string }{
		{"Host", e.Host, "Acme.localhost:7080"},
		{"X-Forwarded-For", e.ForwardedFor, "127.0.0.1"},
		{"X-Forwarded-Host", e.ForwardedHost, "Acme.localhost:7080"},
		{"X-Forwarded-Proto", e.ForwardedProto, "http"},
	} {
		if c.got != c.want {
			t.Errorf("got %s %q, want %q", c.what, c.got, c.want)
		}
	}
}

func TestErrorFormats(t *testing.T) {
	src := newFakeSource()
	src.put(inPhase("initech", stamp.PhaseProvisioning))
	_, srv := serve(t, src)
	const browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

	tests := []struct {
		name        string
		host        string
		accept      string
		wantType    string
		wantStatus  int
		wantInBody  []string
		wantNotBody []string
	}{
		{name: "json", host: "nobody.localhost", accept: "application/json", wantType: "application/json", wantStatus: 404,
			wantInBody: []string{`{"error":{"code":"not_found","message":"tenant \"nobody\" does not exist"}}`}},
		{name: "json among others", host: "initech.localhost", accept: "text/html;q=0.5, application/json", wantType: "application/json", wantStatus: 503,
			wantInBody: []string{`{"error":{"code":"unavailable","message":"tenant \"initech\" is not ready yet (phase: provisioning)"}}`}},
		{name: "browser 404", host: "nobody.localhost", accept: browser, wantType: "text/html; charset=utf-8", wantStatus: 404,
			wantInBody:  []string{"<!doctype html>", "<title>Nothing here · Stamp</title>", "<p>tenant &#34;nobody&#34; does not exist</p>"},
			wantNotBody: []string{"http-equiv"}},
		{name: "browser 503 refreshes", host: "initech.localhost", accept: browser, wantType: "text/html; charset=utf-8", wantStatus: 503,
			wantInBody: []string{"<title>Not ready yet · Stamp</title>", `<meta http-equiv="refresh" content="2">`, "(phase: provisioning)"}},
		{name: "curl", host: "nobody.localhost", accept: "*/*", wantType: "text/plain; charset=utf-8", wantStatus: 404,
			wantInBody: []string{"tenant \"nobody\" does not exist\n"}},
		{name: "no accept", host: "nobody.localhost", wantType: "text/plain; charset=utf-8", wantStatus: 404,
			wantInBody: []string{"tenant \"nobody\" does not exist\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := get(t, srv, tt.host, "/", tt.accept)
			if a.status != tt.wantStatus {
				t.Errorf("got status %d, want %d", a.status, tt.wantStatus)
			}
			if got := a.header.Get("Content-Type"); got != tt.wantType {
				t.Errorf("got Content-Type %q, want %q", got, tt.wantType)
			}
			if got, want := a.header.Get("Cache-Control"), "no-store"; got != want {
				t.Errorf("got Cache-Control %q, want %q", got, want)
			}
			for _, want := range tt.wantInBody {
				if !strings.Contains(a.body, want) {
					t.Errorf("got body %q, want it to contain %q", a.body, want)
				}
			}
			for _, bad := range tt.wantNotBody {
				if strings.Contains(a.body, bad) {
					t.Errorf("got body %q, want it not to contain %q", a.body, bad)
				}
			}
		})
	}
}

func TestNotLoadedYet(t *testing.T) {
	src := newFakeSource()
	src.put(ready("acme", backend(t, "acme")))
	srv := httptest.NewServer(New(Config{Source: src, Logger: quiet})) // no Sync
	t.Cleanup(srv.Close)

	a := get(t, srv, "acme.localhost", "/", "")
	if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") != "2" {
		t.Errorf("got status %d, Retry-After %q, want 503, %q", a.status, a.header.Get("Retry-After"), "2")
	}
	if want := "the router is starting; routes are not loaded yet\n"; a.body != want {
		t.Errorf("got body %q, want %q", a.body, want)
	}
}

func TestBaseDomain(t *testing.T) {
	src := newFakeSource()
	src.put(ready("acme", backend(t, "acme")))
	r := New(Config{Source: src, BaseDomain: ".Stamp.Example.", Logger: quiet})
	if err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	for host, want := range map[string]int{
		"acme.stamp.example":     200,
		"ACME.STAMP.EXAMPLE:443": 200,
		"acme.localhost":         404,
		"stamp.example":          404,
	} {
		if a := get(t, srv, host, "/", ""); a.status != want {
			t.Errorf("%s: got status %d, want %d", host, a.status, want)
		}
	}
}

func TestReplicasTakeTurns(t *testing.T) {
	src := newFakeSource()
	src.put(ready("acme", backend(t, "acme-0"), backend(t, "acme-1")))
	_, srv := serve(t, src)
	hits := map[string]int{}
	for range 10 {
		hits[decodeEcho(t, get(t, srv, "acme.localhost", "/", "")).Tenant]++
	}
	if hits["acme-0"] != 5 || hits["acme-1"] != 5 {
		t.Errorf("10 requests over two instances went %v, want 5 each", hits)
	}
}

// TestAcceptEncodingUntouched checks that the router asks the backend for
// the encodings the client asked for and no other: Go's Transport would
// otherwise ask for gzip on behalf of a client that did not, and inflate
// the answer itself (CPU, and an answer of unknown length).
func TestAcceptEncodingUntouched(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Header.Get("Accept-Encoding"))
	}))
	t.Cleanup(app.Close)
	src := newFakeSource()
	src.put(ready("acme", app.Listener.Addr().String()))
	_, srv := serve(t, src)
	// A client that leaves Accept-Encoding to the caller, as curl does.
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableCompression: true}}
	t.Cleanup(client.CloseIdleConnections)

	for _, sent := range []string{"", "gzip, br"} {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "acme.localhost"
		if sent != "" {
			req.Header.Set("Accept-Encoding", sent)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != sent {
			t.Errorf("client sent Accept-Encoding %q, backend got %q", sent, got)
		}
	}
}
