package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestSuspendResume suspends a tenant holding data: its processes stop,
// the router answers 503 with the suspended page (HTML or JSON by
// Accept), changes are refused, its process count is zero; resumed, it
// serves the same data.
func TestSuspendResume(t *testing.T) {
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", blueprintDir(t))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger")
	if code, body := s.do("POST", "acme", "/api/customers", `{"name":"Wile E.","email":"wile@acme.test"}`); code != http.StatusCreated {
		t.Fatalf("POST customer: %d %s", code, body)
	}

	if out := s.mustCLI("tenant", "suspend", "acme"); !strings.Contains(out, "suspended: its instances are stopped") {
		t.Errorf("suspend output:\n%s", out)
	}
	if procs := tenantProcesses(t, s.data); len(procs) != 0 {
		t.Errorf("processes of the suspended tenant: %v, want none", procs)
	}
	page := func(accept string) (int, string) {
		t.Helper()
		req, err := http.NewRequest("GET", "http://"+s.router+"/api/customers", nil)
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(s.router)
		req.Host = "acme.localhost:" + port
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := page("text/html"); code != http.StatusServiceUnavailable || !strings.Contains(body, "<title>Suspended · Stamp</title>") ||
		!strings.Contains(body, "is suspended: its service is paused") {
		t.Errorf("HTML while suspended: %d\n%s", code, body)
	}
	if code, body := page("application/json"); code != http.StatusServiceUnavailable ||
		body != `{"error":{"code":"unavailable","message":"tenant \"acme\" is suspended: its service is paused by its operator, and its data is kept"}}`+"\n" {
		t.Errorf("JSON while suspended: %d %s", code, body)
	}
	if out := s.mustCLI("tenant", "list"); !strings.Contains(out, "suspended") {
		t.Errorf("tenant list does not show it suspended:\n%s", out)
	}
	if _, errOut, code := s.cli("tenant", "set", "acme", "--param", "currency=USD"); code == 0 || !strings.Contains(errOut, `tenant "acme" is suspended; resume it first`) {
		t.Errorf("a change while suspended: exit %d, stderr %q; want refused", code, errOut)
	}
	if out := s.mustCLI("tenant", "suspend", "acme"); !strings.Contains(out, "suspended already") {
		t.Errorf("suspend again:\n%s", out)
	}

	if out := s.mustCLI("tenant", "resume", "acme"); !strings.Contains(out, "ready: http://acme.localhost:") {
		t.Errorf("resume output:\n%s", out)
	}
	if code, body := s.do("GET", "acme", "/api/customers", ""); code != http.StatusOK || !strings.Contains(body, "Wile E.") {
		t.Errorf("customers after resume: %d %s", code, body)
	}
}
