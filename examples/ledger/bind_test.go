package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// bindBody is the body of a bind request carrying env.
func bindBody(t *testing.T, env map[string]string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"env": env})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// bind sends a bind request with token as bearer ("" for none) and
// returns the status of the answer.
func bind(t *testing.T, baseURL, token, body string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "POST", baseURL+"/stamp/bind", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /stamp/bind: %v", err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestBind(t *testing.T) {
	db, url := migratedDB(t, sqliteDialect)
	const token = "s3cr3t-token-of-the-driver"
	started := map[string]string{"DATABASE_URL": url, "HOST": "127.0.0.1", "PORT": "8080"}
	srv := testServer(t, db, config{tenant: "pool-0123456789", currency: "EUR", bindToken: token, started: started})
	newEnv := map[string]string{
		"DATABASE_URL": url, "HOST": "127.0.0.1", "PORT": "8080", "STAMP_BIND_TOKEN": token,
		"TENANT": "acme", "STAMP_TENANT": "acme", "CURRENCY": "GBP", "SESSION_KEY": "same-or-not",
	}
	with := func(k, v string) map[string]string {
		env := make(map[string]string, len(newEnv))
		for key, val := range newEnv {
			env[key] = val
		}
		env[k] = v
		return env
	}
	homeShows := func(want ...string) {
		t.Helper()
		_, page := call(t, srv.URL, "GET", "/", "")
		for _, w := range want {
			if !strings.Contains(page, w) {
				t.Errorf("home page lacks %q:\n%s", w, page)
			}
		}
	}

	for _, tt := range []struct {
		name, token, body string
		want              int
	}{
		{"no token", "", bindBody(t, newEnv), http.StatusUnauthorized},
		{"wrong token", "s3cr3t-token-of-the-drivex", bindBody(t, newEnv), http.StatusUnauthorized},
		{"new database", token, bindBody(t, with("DATABASE_URL", "sqlite:/elsewhere.db")), http.StatusConflict},
		{"new port", token, bindBody(t, with("PORT", "8081")), http.StatusConflict},
		{"bad currency", token, bindBody(t, with("CURRENCY", "euro")), http.StatusBadRequest},
		{"no env", token, `{}`, http.StatusBadRequest},
	} {
		if got := bind(t, srv.URL, tt.token, tt.body); got != tt.want {
			t.Errorf("bind with %s: got status %d, want %d", tt.name, got, tt.want)
		}
	}
	homeShows("<h1>pool-0123456789</h1>", "default currency EUR")

	if got := bind(t, srv.URL, token, bindBody(t, newEnv)); got != http.StatusNoContent {
		t.Fatalf("bind with the token: got status %d, want 204", got)
	}
	homeShows("<h1>acme</h1>", "default currency GBP")

	// STAMP_TENANT names the tenant where TENANT is not set.
	env := with("TENANT", "")
	env["STAMP_TENANT"] = "globex"
	if got := bind(t, srv.URL, token, bindBody(t, env)); got != http.StatusNoContent {
		t.Fatalf("bind without TENANT: got status %d, want 204", got)
	}
	homeShows("<h1>globex</h1>")
}

func TestBindWithoutToken(t *testing.T) {
	db, _ := migratedDB(t, sqliteDialect)
	srv := testServer(t, db, config{tenant: "acme"})
	for _, token := range []string{"", " ", "anything"} {
		if got := bind(t, srv.URL, token, bindBody(t, map[string]string{"TENANT": "evil"})); got != http.StatusUnauthorized {
			t.Errorf("bind with %q to an app started without a token: got status %d, want 401", token, got)
		}
	}
}
