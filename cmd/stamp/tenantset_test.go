package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/engine/postgres"
	"github.com/stamphq/stamp/httpapi"
	sqlitestore "github.com/stamphq/stamp/store/sqlite"
)

// seedLine is the example blueprint's seed hook, which writes the
// currency into the tenant's settings, where it would hide $CURRENCY.
const seedLine = `  seed: [bin/ledger, seed, --admin, "${param.admin_email}", --currency, "${param.currency}"]` + "\n"

// envOf returns the environment variable name of process pid.
func envOf(t *testing.T, pid int, name string) string {
	t.Helper()
	env, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range bytes.Split(env, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte(name+"=")); ok {
			return string(v)
		}
	}
	return ""
}

// TestTenantSetRollsWithoutFailedRequests changes a serving tenant's
// parameter and plan while requests flow through the router: none fails,
// the app sees the new value, the new plan's two replicas replace the old
// instance, and nothing was snapshotted or migrated.
func TestTenantSetRollsWithoutFailedRequests(t *testing.T) {
	s := startStampServer(t, "--drain", "300ms")
	s.mustCLI("blueprint", "push", blueprintDir(t, seedLine, ""))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger", "--param", "currency=EUR")
	if code, body := s.do("GET", "acme", "/", ""); code != http.StatusOK || !strings.Contains(body, "default currency EUR") {
		t.Fatalf("index before the change: %d, want default currency EUR in:\n%s", code, body)
	}

	tr := startTraffic(s, "acme")
	tr.await(t, 10, "before the change")
	out := s.mustCLI("tenant", "update", "acme", "--param", "currency=USD", "--plan", "business") // set, by its other name
	tr.await(t, 10, "after the change")
	tr.finish()

	if n := tr.failed.Load(); n > 0 || tr.sent.Load() == 0 {
		t.Errorf("%d of %d requests failed during the change: %q", n, tr.sent.Load(), tr.errors)
	}
	t.Logf("%d requests during the change", tr.sent.Load())
	for _, step := range []string{"check", "start", "health", "route", "retire"} {
		if !strings.Contains(out, "  "+step) {
			t.Errorf("set output lacks step %s:\n%s", step, out)
		}
	}
	if strings.Contains(out, "  snapshot") || strings.Contains(out, "  migrate") || !strings.Contains(out, "upgraded: from 2.0.0 to 2.0.0_c2") {
		t.Errorf("set output: want no snapshot or migrate and the move from 2.0.0 to 2.0.0_c2:\n%s", out)
	}
	if code, body := s.do("GET", "acme", "/", ""); code != http.StatusOK || !strings.Contains(body, "default currency USD") {
		t.Errorf("index after the change: %d, want default currency USD in:\n%s", code, body)
	}
	procs := tenantProcesses(t, s.data)
	if len(procs) != 2 {
		t.Fatalf("processes after the change: %v, want the business plan's two replicas", procs)
	}
	for _, p := range procs {
		if !strings.HasSuffix(p.id, "@2.0.0_c2") || envOf(t, p.pid, "CURRENCY") != "USD" {
			t.Errorf("process %s: CURRENCY %q, want an instance of 2.0.0_c2 with USD", p.id, envOf(t, p.pid, "CURRENCY"))
		}
	}
	got := s.mustCLI("tenant", "get", "acme")
	for _, re := range []string{`plan:\s+business`, `param:\s+currency=USD`, `generation:\s+2 \(observed 2\)`} {
		if !regexp.MustCompile(re).MatchString(got) {
			t.Errorf("tenant get lacks %s:\n%s", re, got)
		}
	}
	events := s.mustCLI("tenant", "events", "acme")
	if !strings.Contains(events, `tenant.changed`) || !strings.Contains(events, `plan starter to business; currency "EUR" to "USD"`) {
		t.Errorf("events lack the change:\n%s", events)
	}

	_, errOut, code := s.cli("tenant", "set", "acme", "--param", "currency=usd")
	if code == 0 || !strings.Contains(errOut, `parameter "currency": value "usd" does not match pattern "^[A-Z]{3}$"`) {
		t.Errorf("set with a bad value: exit %d, stderr %q; want a refusal naming the pattern", code, errOut)
	}
	if out := s.mustCLI("tenant", "set", "acme", "--param", "currency=USD"); !strings.Contains(out, "nothing changed") {
		t.Errorf("setting the same value again: %q, want nothing changed", out)
	}
}

// TestSecretParameters creates a tenant with a secret parameter (an
// initial admin password): it reaches the app, is sealed at rest, shown
// redacted by tenant get, hidden in its logs and in the server's; tenant
// secrets lists it hidden, reveals it to the admin with a recorded event,
// and refuses a token that is not an admin's.
func TestSecretParameters(t *testing.T) {
	const password = "Hunter2-initial-Admin-42"
	s := startStampServer(t)
	dir := blueprintDir(t,
		"parameters:\n", "parameters:\n  admin_password: { required: true, secret: true, pattern: \"^.{12,}$\" }\n",
		"      TENANT: ${tenant.name}\n", "      TENANT: ${tenant.name}\n      ADMIN_PASSWORD: ${param.admin_password}\n")
	s.mustCLI("blueprint", "push", dir)
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger", "--param", "admin_password="+password)

	procs := tenantProcesses(t, s.data)
	if len(procs) != 1 || envOf(t, procs[0].pid, "ADMIN_PASSWORD") != password {
		t.Fatalf("the app does not see its admin password: %v", procs)
	}
	get := s.mustCLI("tenant", "get", "acme")
	if !strings.Contains(get, "admin_password=[redacted]") {
		t.Errorf("tenant get: want admin_password=[redacted]:\n%s", get)
	}
	raw, clear := storedSecrets(t, s.data, "acme")
	if !strings.HasPrefix(raw["param.admin_password"], "sealed:v1:") || clear["param.admin_password"] != password {
		t.Errorf("stored admin_password: raw %q; want it sealed, opening to the password", raw["param.admin_password"])
	}
	// The app logs the paths it is asked for: this one holds the password.
	if code, _ := s.do("GET", "acme", "/"+password, ""); code != http.StatusNotFound {
		t.Fatalf("GET /<password>: %d, want 404", code)
	}
	waitFor(t, "the request in the tenant's logs", 10*time.Second, func() bool {
		return strings.Contains(s.mustCLI("tenant", "logs", "acme"), "path=/[redacted]")
	})

	hidden := s.mustCLI("tenant", "secrets", "acme")
	if !regexp.MustCompile(`param\.admin_password\s+parameter\s+\(hidden`).MatchString(hidden) || !strings.Contains(hidden, "session_key") {
		t.Errorf("tenant secrets:\n%s", hidden)
	}
	var shown httpapi.TenantSecrets
	if err := json.Unmarshal([]byte(s.mustCLI("tenant", "secrets", "acme", "--reveal", "-o", "json")), &shown); err != nil {
		t.Fatal(err)
	}
	values := map[string]string{}
	for _, sec := range shown.Secrets {
		values[sec.Name] = sec.Value
	}
	if values["param.admin_password"] != password || values["session_key"] == "" {
		t.Errorf("revealed secrets: %+v", shown)
	}

	ci := httpapi.NewToken()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(s.data, "stamp.db"))
	if err != nil {
		t.Fatal(err)
	}
	err = st.CreateToken(context.Background(), &stamp.Token{ID: "ci", Name: "ci", Role: stamp.RoleOperator, Hash: httpapi.HashToken(ci), CreatedAt: time.Now()})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := s.cli("tenant", "secrets", "acme", "--reveal", "--token", ci)
	if code == 0 || strings.Contains(out, password) || !strings.Contains(errOut, "token ci is operator") {
		t.Errorf("a non-admin token: exit %d, stdout %q, stderr %q; want refused", code, out, errOut)
	}

	// A new password through tenant set reaches the app the same way.
	const newPassword = "Correct-Horse-Battery-99"
	s.mustCLI("tenant", "set", "acme", "--param", "admin_password="+newPassword)
	procs = tenantProcesses(t, s.data)
	if len(procs) != 1 || envOf(t, procs[0].pid, "ADMIN_PASSWORD") != newPassword {
		t.Errorf("after tenant set, the app's admin password is not the new one: %v", procs)
	}

	events := s.mustCLI("tenant", "events", "acme", "-o", "json")
	if n := strings.Count(events, stamp.EventTenantSecretsRevealed); n != 1 || !strings.Contains(events, "by admin: ") {
		t.Errorf("events hold %d reveals, want 1 by admin:\n%s", n, events)
	}
	for what, text := range map[string]string{"events": events, "server log": s.log(), "tenant get -o json": s.mustCLI("tenant", "get", "acme", "-o", "json")} {
		if strings.Contains(text, password) || strings.Contains(text, newPassword) {
			t.Errorf("the %s hold an admin password", what)
		}
	}
}

// TestConnectionLimitFromThePlan runs a tenant on PostgreSQL whose plan
// allows 4 connections: its role's limit is 8 (two versions) and the app
// is told its share; a plan change raises the limit to 20, and a move to
// a smaller plan holds 10+3 while both versions run, then 6.
func TestConnectionLimitFromThePlan(t *testing.T) {
	_, tenantPG := tenantCluster(t)
	s := startStampServer(t, "--tenant-postgres", tenantPG, "--drain", "500ms")
	s.mustCLI("blueprint", "push", pgBlueprintDir(t,
		"  starter:  { memory: 128Mi, cpu: 0.25, replicas: 1, idle: 15m }", "  starter:  { replicas: 1, connections: 4 }\n  mid: { replicas: 1, connections: 10 }\n  tiny: { replicas: 1, connections: 3 }",
		"      TENANT: ${tenant.name}\n", "      TENANT: ${tenant.name}\n      POOL: ${db.main.connections}\n"))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger-pg")
	role := postgres.ObjectName("acme", "main")
	limit := func() int {
		return count(t, tenantPG, `SELECT rolconnlimit FROM pg_roles WHERE rolname = $1`, role)
	}
	if got := limit(); got != 8 {
		t.Errorf("role limit with 4 connections: got %d, want 8", got)
	}
	if procs := tenantProcesses(t, s.data); len(procs) != 1 || envOf(t, procs[0].pid, "POOL") != "4" {
		t.Errorf("POOL of the app: want 4 (%v)", procs)
	}
	s.mustCLI("tenant", "set", "acme", "--plan", "mid")
	if got := limit(); got != 20 {
		t.Errorf("role limit after moving to 10 connections: got %d, want 20", got)
	}

	// Watch the limit while the tenant moves to a smaller plan.
	ctx, cancel := context.WithCancel(context.Background())
	var peak atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := pgx.Connect(ctx, tenantPG)
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		for ctx.Err() == nil {
			var n int64
			if conn.QueryRow(ctx, `SELECT rolconnlimit FROM pg_roles WHERE rolname = $1`, role).Scan(&n) == nil && n > peak.Load() && n != 20 {
				peak.Store(n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	s.mustCLI("tenant", "set", "acme", "--plan", "tiny")
	cancel()
	<-done
	if got := peak.Load(); got != 13 {
		t.Errorf("role limit while 10- and 3-connection versions ran: got %d, want 13", got)
	}
	if got := limit(); got != 6 {
		t.Errorf("role limit after the move to 3 connections: got %d, want 6", got)
	}
}
