package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// TestRateLimit: a token past its rate of changes gets 429 with
// Retry-After, saying so; its reads and another token's changes go on.
func TestRateLimit(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.RateLimit = 1 }) // bursts of 2
	ctx := context.Background()
	other, err := env.client.CreateToken(ctx, CreateTokenRequest{Name: "other", Role: stamp.RoleOperator}) // the admin's first change
	if err != nil {
		t.Fatal(err)
	}
	change := func(secret string) (int, http.Header, errorDetail) {
		return env.raw(t, "POST", "/v1/tenants/nobody/wake", secret, nil)
	}
	if status, _, _ := change(env.token); status != http.StatusNotFound {
		t.Fatalf("the admin's second change: got %d, want 404 (let in)", status)
	}
	status, header, e := change(env.token)
	if status != http.StatusTooManyRequests || !strings.Contains(e.Message, "token admin made more than 1 changes a second (bursts of 2): try again in") {
		t.Errorf("the admin's third change at once: got %d %q, want 429 saying why", status, e.Message)
	}
	if s, err := strconv.Atoi(header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("Retry-After %q: want a whole number of seconds", header.Get("Retry-After"))
	}
	if status, _, _ := env.raw(t, "GET", "/v1/tenants", env.token, nil); status != http.StatusOK {
		t.Errorf("a read past the limit: got %d, want 200", status)
	}
	if status, _, _ := change(other.Secret); status != http.StatusNotFound {
		t.Errorf("another token's change: got %d, want 404 (let in)", status)
	}
}

// TestCreateGate: with one create at a time and none waiting, a create
// arriving while one runs is refused with 503; the one running ends well.
func TestCreateGate(t *testing.T) {
	inClaim, release := make(chan struct{}), make(chan struct{})
	env := newTestEnv(t, func(c *Config) {
		c.MaxCreates, c.CreateQueue = 1, 0
		c.Claim = func(ctx context.Context, _ *stamp.Tenant, _ ...*stamp.Event) (bool, error) {
			close(inClaim)
			<-release
			return false, nil
		}
	})
	env.push(t, ledgerYAML)
	done := make(chan error, 1)
	go func() {
		_, err := env.client.CreateTenant(context.Background(), CreateTenantRequest{Name: "acme", Blueprint: "ledger", Params: map[string]string{"admin_email": "a@b.c"}})
		done <- err
	}()
	select {
	case <-inClaim:
	case <-time.After(10 * time.Second):
		t.Fatal("the first create never reached its claim")
	}
	status, header, e := env.raw(t, "POST", "/v1/tenants", env.token, strings.NewReader(`{"name":"globex","blueprint":"ledger"}`))
	if status != http.StatusServiceUnavailable || header.Get("Retry-After") != "1" || e.Message != "too many tenant creates at once (1 running, 0 waiting): try again shortly" {
		t.Errorf("a create while one runs: got %d %q (Retry-After %q), want 503", status, e.Message, header.Get("Retry-After"))
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("the create let in: %v", err)
	}
}

// TestBodyLimitOnEveryRoute: a body over the limit is refused with 413 on
// a route that reads no body as on one that does; a bundle upload has a
// limit of its own.
func TestBodyLimitOnEveryRoute(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.MaxBodyBytes = 1024 })
	big := strings.Repeat("x", 2048)
	for _, path := range []string{"/v1/tenants/nobody/wake", "/v1/tenants", "/v1/incidents/nope/ack"} {
		if status, _, e := env.raw(t, "POST", path, env.token, strings.NewReader(big)); status != http.StatusRequestEntityTooLarge {
			t.Errorf("POST %s with 2 KiB: got %d %q, want 413", path, status, e.Message)
		}
	}
	if status, _, e := env.raw(t, "POST", "/v1/blueprints", env.token, strings.NewReader(big)); status == http.StatusRequestEntityTooLarge {
		t.Errorf("a 2 KiB bundle: got 413 %q, want the bundle limit, not the JSON one", e.Message)
	}
}

// TestAnonymousAuditBounded: calls without a valid token leave audit
// records only up to the rate of their client address; calls with one
// are all recorded.
func TestAnonymousAuditBounded(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.AnonymousAuditRate = 1 }) // bursts of 2
	for range 20 {
		env.raw(t, "POST", "/v1/tenants/nobody/wake", "", nil)
		env.raw(t, "POST", "/v1/tenants/nobody/wake", env.token, nil)
	}
	recs, err := env.store.ListAudit(context.Background(), stamp.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	anonymous, named := 0, 0
	for _, r := range recs {
		if r.TokenName == "" {
			anonymous++
		} else {
			named++
		}
	}
	if anonymous < 2 || anonymous > 4 || named != 20 {
		t.Errorf("records: %d without a token (want the burst of 2, give or take a second's), %d with one (want 20)", anonymous, named)
	}
}
