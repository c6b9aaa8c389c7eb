package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// env is a fake environment for run.
type env map[string]string

func (e env) get(key string) string { return e[key] }

// runLedger runs one ledger command in-process, as the release the test
// binary was built as, and returns what it wrote to stderr.
func runLedger(t *testing.T, e env, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr strings.Builder
	err := run(t.Context(), args, e.get, &stdout, &stderr)
	return stderr.String(), err
}

// runAs runs one ledger command in-process as release rel and returns what
// it wrote to stderr.
func runAs(t *testing.T, rel int, e env, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr strings.Builder
	err := runRelease(t.Context(), rel, args, e.get, &stdout, &stderr)
	return stderr.String(), err
}

// builtRelease returns the release the test binary was built as: the one
// runLedger runs.
func builtRelease(t *testing.T) int {
	t.Helper()
	rel, err := parseRelease(release)
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

// dialects are the databases the tests of the app's behaviour run on.
var dialects = []dialect{sqliteDialect, postgresDialect}

// forEachDialect runs test once per dialect, in a subtest named for it.
// PostgreSQL subtests skip unless STAMP_TEST_POSTGRES is set.
func forEachDialect(t *testing.T, test func(t *testing.T, d dialect)) {
	t.Helper()
	for _, d := range dialects {
		t.Run(string(d), func(t *testing.T) { test(t, d) })
	}
}

// tempURL returns the DATABASE_URL of a new, empty database of dialect d:
// a SQLite file in a temp dir, or a scratch database on the PostgreSQL
// server that STAMP_TEST_POSTGRES names, dropped when the test ends.
func tempURL(t *testing.T, d dialect) string {
	t.Helper()
	if d == sqliteDialect {
		return "sqlite:" + filepath.Join(t.TempDir(), "main.db")
	}
	admin := os.Getenv("STAMP_TEST_POSTGRES")
	if admin == "" {
		t.Skip("STAMP_TEST_POSTGRES is not set: run ./scripts/test, or scripts/postgres start DIR and export the URL it prints")
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("STAMP_TEST_POSTGRES is not a URL: %v", err)
	}
	conn, err := pgx.Connect(t.Context(), admin)
	if err != nil {
		t.Fatalf("connect to STAMP_TEST_POSTGRES: %v", err)
	}
	suffix := make([]byte, 6)
	rand.Read(suffix)
	name := fmt.Sprintf("ledger_test_%x", suffix)
	if _, err := conn.Exec(t.Context(), `CREATE DATABASE `+name); err != nil {
		conn.Close(t.Context())
		t.Fatalf("create scratch database: %v", err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP DATABASE `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop scratch database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// openTestDB opens url and closes it when the test ends.
func openTestDB(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, _, err := openDB(url)
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// migratedDB returns a new migrated database of dialect d and its URL.
func migratedDB(t *testing.T, d dialect) (*sql.DB, string) {
	t.Helper()
	url := tempURL(t, d)
	if out, err := runLedger(t, env{"DATABASE_URL": url}, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	return openTestDB(t, url), url
}

// testServer serves the handler of ledger over db on 127.0.0.1, port 0, as
// release cfg.release, or as builtRelease if that is zero.
func testServer(t *testing.T, db *sql.DB, cfg config) *httptest.Server {
	t.Helper()
	if cfg.release == 0 {
		cfg.release = builtRelease(t)
	}
	srv := httptest.NewServer(newServer(db, slog.New(slog.DiscardHandler), cfg))
	t.Cleanup(srv.Close)
	return srv
}

// call sends one request and returns the status and body of the answer.
func call(t *testing.T, baseURL, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, baseURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return res.StatusCode, string(b)
}

// mustCall is call that fails the test unless the status is want, and
// decodes a JSON answer into out when out is not nil.
func mustCall(t *testing.T, baseURL, method, path, body string, want int, out any) {
	t.Helper()
	got, b := call(t, baseURL, method, path, body)
	if got != want {
		t.Fatalf("%s %s: got status %d, want %d (body %q)", method, path, got, want, b)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(b), out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
}

func count(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func TestOpenDBRejects(t *testing.T) {
	tests := []struct {
		url, want string
	}{
		{"", "DATABASE_URL is not set"},
		{"main.db", "has no scheme"},
		{"postgres://app:hunter2@db.internal:port/main", "invalid port"},
		{"postgresql://app:hunter2@db.internal/main?sslmode=sometimes", "sslmode is invalid"},
		{"mysql://app:hunter2@db.internal/main", `unsupported scheme "mysql"`},
		{"sqlite:", "needs a file path"},
		{"sqlite://main.db", "not a host"},
		{"sqlite:main.db?mode=ro", "must not contain '?'"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			db, _, err := openDB(tt.url)
			if err == nil {
				db.Close()
				t.Fatalf("got no error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("got %q, which leaks the password", err)
			}
		})
	}
}

func TestOpenSQLitePragmas(t *testing.T) {
	tests := []struct {
		pragma, want string
	}{
		{"journal_mode", "wal"},
		{"busy_timeout", "5000"},
		{"foreign_keys", "1"},
	}
	db := openTestDB(t, tempURL(t, sqliteDialect))
	for _, tt := range tests {
		t.Run(tt.pragma, func(t *testing.T) {
			var got string
			if err := db.QueryRow("PRAGMA " + tt.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOpenSQLiteRelativePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if out, err := runLedger(t, env{"DATABASE_URL": "sqlite:relative.db"}, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "relative.db")); err != nil {
		t.Errorf("got %v, want relative.db in the working directory", err)
	}
}

func TestMigrationsMatch(t *testing.T) {
	versions := map[dialect][]string{}
	for _, d := range dialects {
		ms, err := loadMigrations(d, releaseBroken)
		if err != nil {
			t.Fatalf("load %s migrations: %v", d, err)
		}
		for _, m := range ms {
			versions[d] = append(versions[d], fmt.Sprintf("%04d_%s", m.version, m.name))
		}
	}
	got, want := strings.Join(versions[postgresDialect], " "), strings.Join(versions[sqliteDialect], " ")
	if got != want {
		t.Errorf("got postgres migrations %q, want the same as sqlite's %q", got, want)
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		url := tempURL(t, d)
		for i := range 2 {
			out, err := runLedger(t, env{"DATABASE_URL": url}, "migrate")
			if err != nil {
				t.Fatalf("migrate run %d: %v\n%s", i+1, err, out)
			}
			applied := strings.Contains(out, "applied migration")
			if want := i == 0; applied != want {
				t.Errorf("run %d: got applied %v, want %v (log %q)", i+1, applied, want, out)
			}
		}
		db := openTestDB(t, url)
		ms, err := loadMigrations(d, builtRelease(t))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := count(t, db, "schema_migrations"), len(ms); got != want {
			t.Errorf("got %d rows in schema_migrations, want %d", got, want)
		}
		for _, table := range []string{"customers", "invoices", "settings"} {
			if got := count(t, db, table); got != 0 {
				t.Errorf("got %d rows in %s, want 0", got, table)
			}
		}
		if err := checkMigrated(t.Context(), db, d, builtRelease(t)); err != nil {
			t.Errorf("checkMigrated: %v", err)
		}
	})
}

// TestMigrateConcurrent runs migrate as a rollout might: several at once on
// one empty database. Each must succeed and each migration apply once.
func TestMigrateConcurrent(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		url := tempURL(t, d)
		// The database exists before the hooks run, as Stamp's engines
		// create it. (Several first opens of a missing SQLite file can
		// still fail with SQLITE_BUSY while they switch it to WAL.)
		if err := openTestDB(t, url).PingContext(t.Context()); err != nil {
			t.Fatalf("create database: %v", err)
		}
		const n = 8
		outs := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { outs[i], errs[i] = runLedger(t, env{"DATABASE_URL": url}, "migrate") })
		}
		wg.Wait()
		applied := 0
		for i := range n {
			if errs[i] != nil {
				t.Errorf("migrate %d: %v\n%s", i, errs[i], outs[i])
			}
			applied += strings.Count(outs[i], "applied migration")
		}
		ms, err := loadMigrations(d, builtRelease(t))
		if err != nil {
			t.Fatal(err)
		}
		if applied != len(ms) {
			t.Errorf("got %d migrations applied across %d runs, want %d", applied, n, len(ms))
		}
		if got := count(t, openTestDB(t, url), "schema_migrations"); got != len(ms) {
			t.Errorf("got %d rows in schema_migrations, want %d", got, len(ms))
		}
	})
}

func TestMigrateFailure(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	_, err := runLedger(t, env{"DATABASE_URL": "sqlite:" + filepath.Join(dir, "main.db")}, "migrate")
	if err == nil {
		t.Fatal("got no error migrating a database in a missing directory")
	}
}

func TestSeed(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		tests := []struct {
			name              string
			args              []string
			admin, currency   string
			wantErrContaining string
		}{
			{name: "defaults", admin: "admin@example.com", currency: "EUR"},
			{name: "flags", args: []string{"--admin", "ops@acme.test", "--currency", "USD"}, admin: "ops@acme.test", currency: "USD"},
			{name: "lowercase currency", args: []string{"--currency", "usd"}, wantErrContaining: "three-letter code"},
			{name: "bad email", args: []string{"--admin", "nobody"}, wantErrContaining: "not an email address"},
			{name: "stray argument", args: []string{"extra"}, wantErrContaining: "unexpected arguments"},
			{name: "unknown flag", args: []string{"--plan", "gold"}, wantErrContaining: "flag provided but not defined"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				db, url := migratedDB(t, d)
				out, err := runLedger(t, env{"DATABASE_URL": url}, append([]string{"seed"}, tt.args...)...)
				if tt.wantErrContaining != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantErrContaining) {
						t.Fatalf("got error %v, want one containing %q", err, tt.wantErrContaining)
					}
					if got := count(t, db, "settings"); got != 0 {
						t.Errorf("got %d settings after a failed seed, want 0", got)
					}
					return
				}
				if err != nil {
					t.Fatalf("seed: %v\n%s", err, out)
				}
				for key, want := range map[string]string{"admin_email": tt.admin, "currency": tt.currency} {
					got, err := setting(t.Context(), db, key)
					if err != nil {
						t.Fatal(err)
					}
					if got != want {
						t.Errorf("setting %s: got %q, want %q", key, got, want)
					}
				}
				for _, table := range []string{"customers", "invoices"} {
					if got := count(t, db, table); got != 0 {
						t.Errorf("got %d rows in %s after seed, want 0", got, table)
					}
				}
			})
		}
	})
}

func TestSeedTwiceOverwrites(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		db, url := migratedDB(t, d)
		for _, currency := range []string{"GBP", "CHF"} {
			if out, err := runLedger(t, env{"DATABASE_URL": url}, "seed", "--currency", currency); err != nil {
				t.Fatalf("seed --currency %s: %v\n%s", currency, err, out)
			}
		}
		got, err := setting(t.Context(), db, "currency")
		if err != nil {
			t.Fatal(err)
		}
		if got != "CHF" {
			t.Errorf("got currency %q, want %q", got, "CHF")
		}
	})
}

func TestSeedNeedsMigratedSchema(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		_, err := runLedger(t, env{"DATABASE_URL": tempURL(t, d)}, "seed")
		if err == nil || !strings.Contains(err.Error(), "ledger migrate") {
			t.Errorf("got error %v, want one telling to run ledger migrate", err)
		}
	})
}

func TestCommandErrors(t *testing.T) {
	_, url := migratedDB(t, sqliteDialect)
	tests := []struct {
		name string
		env  env
		args []string
		want string
	}{
		{"no command", env{}, nil, "no command given"},
		{"unknown command", env{}, []string{"worker"}, `unknown command "worker"`},
		{"migrate with argument", env{"DATABASE_URL": url}, []string{"migrate", "now"}, "migrate takes no arguments"},
		{"migrate on unreachable postgres", env{"DATABASE_URL": "postgres://app:hunter2@127.0.0.1:1/main?sslmode=disable"}, []string{"migrate"}, "connection refused"},
		{"serve without PORT", env{"DATABASE_URL": url}, []string{"serve"}, "PORT is not set"},
		{"serve with bad PORT", env{"DATABASE_URL": url, "PORT": "http"}, []string{"serve"}, `PORT "http" is not a port number`},
		{"serve with bad CURRENCY", env{"DATABASE_URL": url, "PORT": "0", "CURRENCY": "euro"}, []string{"serve"}, `CURRENCY "euro"`},
		{"serve without DATABASE_URL", env{"PORT": "0"}, []string{"serve"}, "DATABASE_URL is not set"},
		{"serve unmigrated", env{"DATABASE_URL": tempURL(t, sqliteDialect), "PORT": "0"}, []string{"serve"}, "ledger migrate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runLedger(t, tt.env, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("got %q, which leaks the password", err)
			}
		})
	}
}

func TestAPI(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		db, url := migratedDB(t, d)
		if out, err := runLedger(t, env{"DATABASE_URL": url}, "seed", "--currency", "SEK"); err != nil {
			t.Fatalf("seed: %v\n%s", err, out)
		}
		srv := testServer(t, db, config{tenant: "acme", currency: "USD"})

		var invoices []invoice
		mustCall(t, srv.URL, "GET", "/api/invoices", "", http.StatusOK, &invoices)
		if len(invoices) != 0 {
			t.Fatalf("got %d invoices in a fresh tenant, want 0", len(invoices))
		}

		var c customer
		mustCall(t, srv.URL, "POST", "/api/customers", `{"name":" Ada Lovelace ","email":"ada@example.com"}`, http.StatusCreated, &c)
		if want := (customer{ID: c.ID, Name: "Ada Lovelace", Email: "ada@example.com"}); c != want || c.ID <= 0 {
			t.Errorf("got customer %+v, want %+v with a positive id", c, want)
		}

		var inv invoice
		mustCall(t, srv.URL, "POST", "/api/invoices", `{"customer_id":1,"amount_cents":12345}`, http.StatusCreated, &inv)
		if inv.ID <= 0 || inv.CustomerID != c.ID || inv.AmountCents != 12345 || inv.Currency != "SEK" || inv.Status != "open" {
			t.Errorf("got invoice %+v, want id > 0, customer %d, 12345 cents, SEK (the seeded currency), open", inv, c.ID)
		}
		if _, err := time.Parse(time.RFC3339, inv.CreatedAt); err != nil {
			t.Errorf("got created_at %q, want RFC 3339: %v", inv.CreatedAt, err)
		}
		if want := dueIn30Days(t, inv.CreatedAt); inv.DueOn != want {
			t.Errorf("got due_on %q, want %q (30 days after created_at %s)", inv.DueOn, want, inv.CreatedAt)
		}
		var explicit invoice
		mustCall(t, srv.URL, "POST", "/api/invoices", `{"customer_id":1,"amount_cents":500,"currency":"JPY","due_on":"2099-12-31"}`, http.StatusCreated, &explicit)
		if explicit.Currency != "JPY" || explicit.DueOn != "2099-12-31" {
			t.Errorf("got currency %q due %q, want JPY due 2099-12-31", explicit.Currency, explicit.DueOn)
		}

		var customers []customer
		mustCall(t, srv.URL, "GET", "/api/customers", "", http.StatusOK, &customers)
		if len(customers) != 1 || customers[0] != c {
			t.Errorf("got customers %+v, want [%+v]", customers, c)
		}
		mustCall(t, srv.URL, "GET", "/api/invoices", "", http.StatusOK, &invoices)
		if len(invoices) != 2 || invoices[0] != inv || invoices[1] != explicit {
			t.Errorf("got invoices %+v, want [%+v %+v]", invoices, inv, explicit)
		}
	})
}

func TestAPIErrors(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		db, _ := migratedDB(t, d)
		srv := testServer(t, db, config{})
		mustCall(t, srv.URL, "POST", "/api/customers", `{"name":"Ada","email":"ada@example.com"}`, http.StatusCreated, nil)

		tests := []struct {
			name, method, path, body string
			status                   int
			want                     string
		}{
			{"customer without name", "POST", "/api/customers", `{"email":"a@b.c"}`, 400, "name is required"},
			{"customer with blank name", "POST", "/api/customers", `{"name":"  ","email":"a@b.c"}`, 400, "name is required"},
			{"customer without email", "POST", "/api/customers", `{"name":"Ada"}`, 400, "email is required"},
			{"customer with bad email", "POST", "/api/customers", `{"name":"Ada","email":"ada"}`, 400, `email "ada" is not an email address`},
			{"customer with unknown field", "POST", "/api/customers", `{"name":"Ada","email":"a@b.c","vip":true}`, 400, `unknown field "vip"`},
			{"invoice without customer", "POST", "/api/invoices", `{"amount_cents":100}`, 400, "customer_id must be a positive integer"},
			{"invoice without amount", "POST", "/api/invoices", `{"customer_id":1}`, 400, "amount_cents must be a positive integer"},
			{"invoice with negative amount", "POST", "/api/invoices", `{"customer_id":1,"amount_cents":-5}`, 400, "amount_cents must be a positive integer"},
			{"invoice with fractional amount", "POST", "/api/invoices", `{"customer_id":1,"amount_cents":1.5}`, 400, "amount_cents must be an integer"},
			{"invoice with string customer", "POST", "/api/invoices", `{"customer_id":"1","amount_cents":100}`, 400, "customer_id must be an integer"},
			{"invoice with bad currency", "POST", "/api/invoices", `{"customer_id":1,"amount_cents":100,"currency":"eur"}`, 400, `currency "eur"`},
			{"invoice with bad due date", "POST", "/api/invoices", `{"customer_id":1,"amount_cents":100,"due_on":"2099-02-30"}`, 400, `due_on "2099-02-30" is not a date`},
			{"invoice with due date and time", "POST", "/api/invoices", `{"customer_id":1,"amount_cents":100,"due_on":"2099-01-01T00:00:00Z"}`, 400, `is not a date such as`},
			{"invoice due in the past", "POST", "/api/invoices", `{"customer_id":1,"amount_cents":100,"due_on":"2000-01-01"}`, 400, "due_on 2000-01-01 is before today"},
			{"invoice for unknown customer", "POST", "/api/invoices", `{"customer_id":42,"amount_cents":100}`, 422, "customer 42 does not exist"},
			{"empty body", "POST", "/api/invoices", ``, 400, "request body is empty"},
			{"malformed JSON", "POST", "/api/invoices", `{"customer_id":`, 400, "unexpected EOF"},
			{"array body", "POST", "/api/customers", `[]`, 400, "must be a JSON object"},
			{"two objects", "POST", "/api/customers", `{"name":"A","email":"a@b.c"}{}`, 400, "more than one JSON value"},
			{"body over 1 MiB", "POST", "/api/customers", `{"name":"` + strings.Repeat("a", maxBodyBytes) + `"}`, 413, "larger than 1 MiB"},
			{"PUT customers", "PUT", "/api/customers", `{}`, 405, "method PUT is not allowed"},
			{"DELETE invoices", "DELETE", "/api/invoices", ``, 405, "method DELETE is not allowed"},
			{"PATCH invoices", "PATCH", "/api/invoices", `{}`, 405, "method PATCH is not allowed"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				status, body := call(t, srv.URL, tt.method, tt.path, tt.body)
				if status != tt.status {
					t.Errorf("got status %d, want %d (body %q)", status, tt.status, body)
				}
				var got struct{ Error string }
				if err := json.Unmarshal([]byte(body), &got); err != nil {
					t.Fatalf("got body %q, want a JSON error: %v", body, err)
				}
				if !strings.Contains(got.Error, tt.want) {
					t.Errorf("got error %q, want it to contain %q", got.Error, tt.want)
				}
			})
		}
		if got := count(t, db, "invoices"); got != 0 {
			t.Errorf("got %d invoices after only failed requests, want 0", got)
		}
	})
}

func TestDefaultCurrency(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		tests := []struct {
			name, seeded, env, want string
		}{
			{"settings win", "SEK", "USD", "SEK"},
			{"env without settings", "", "USD", "USD"},
			{"neither", "", "", "EUR"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				db, _ := migratedDB(t, d)
				if tt.seeded != "" {
					if err := writeSettings(t.Context(), db, map[string]string{"currency": tt.seeded}); err != nil {
						t.Fatal(err)
					}
				}
				srv := testServer(t, db, config{currency: tt.env})
				mustCall(t, srv.URL, "POST", "/api/customers", `{"name":"Ada","email":"ada@example.com"}`, http.StatusCreated, nil)
				var inv invoice
				mustCall(t, srv.URL, "POST", "/api/invoices", `{"customer_id":1,"amount_cents":100}`, http.StatusCreated, &inv)
				if inv.Currency != tt.want {
					t.Errorf("got currency %q, want %q", inv.Currency, tt.want)
				}
			})
		}
	})
}

func TestHealthz(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		db, _ := migratedDB(t, d)
		srv := testServer(t, db, config{})
		if status, body := call(t, srv.URL, "GET", "/healthz", ""); status != http.StatusOK || body != "ok (release 2)" {
			t.Errorf("got %d %q, want 200 %q", status, body, "ok (release 2)")
		}
		db.Close()
		if status, _ := call(t, srv.URL, "GET", "/healthz", ""); status != http.StatusServiceUnavailable {
			t.Errorf("got status %d with the database closed, want 503", status)
		}
	})
}

func TestIndexPage(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		db, url := migratedDB(t, d)
		if out, err := runLedger(t, env{"DATABASE_URL": url}, "seed", "--currency", "GBP"); err != nil {
			t.Fatalf("seed: %v\n%s", err, out)
		}
		srv := testServer(t, db, config{tenant: "acme"})

		status, page := call(t, srv.URL, "GET", "/", "")
		if status != http.StatusOK {
			t.Fatalf("got status %d, want 200", status)
		}
		for _, want := range []string{"<h1>acme</h1>", "GBP", "No invoices yet."} {
			if !strings.Contains(page, want) {
				t.Errorf("got a fresh page without %q:\n%s", want, page)
			}
		}

		mustCall(t, srv.URL, "POST", "/api/customers", `{"name":"Smith & <Sons>","email":"s@example.com"}`, http.StatusCreated, nil)
		mustCall(t, srv.URL, "POST", "/api/invoices", `{"customer_id":1,"amount_cents":123456,"due_on":"2099-06-30"}`, http.StatusCreated, nil)
		_, page = call(t, srv.URL, "GET", "/", "")
		for _, want := range []string{"Smith &amp; &lt;Sons&gt;", "1234.56 GBP", "<td>open</td>", "<th>Due</th>", "<td>2099-06-30</td>"} {
			if !strings.Contains(page, want) {
				t.Errorf("got a page without %q:\n%s", want, page)
			}
		}
		if status, _ := call(t, srv.URL, "GET", "/nope", ""); status != http.StatusNotFound {
			t.Errorf("GET /nope: got status %d, want 404", status)
		}
	})
}

func TestMoney(t *testing.T) {
	tests := []struct {
		cents int64
		want  string
	}{
		{0, "0.00"},
		{5, "0.05"},
		{100, "1.00"},
		{123456, "1234.56"},
		{-250, "-2.50"},
	}
	for _, tt := range tests {
		if got := money(tt.cents); got != tt.want {
			t.Errorf("money(%d): got %q, want %q", tt.cents, got, tt.want)
		}
	}
}

// TestBinary builds ledger and runs it the way Stamp does, on each dialect:
// migrate, seed, then serve until SIGTERM.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildLedger(t, "")
	forEachDialect(t, func(t *testing.T, d dialect) {
		dbURL := tempURL(t, d)
		environ := ledgerEnviron(dbURL)
		for _, args := range [][]string{{"migrate"}, {"migrate"}, {"seed", "--admin", "ops@acme.test", "--currency", "NOK"}} {
			runBinary(t, bin, environ, args...)
		}

		srv := startServe(t, bin, environ)
		waitHealthy(t, srv.base)
		mustCall(t, srv.base, "POST", "/api/customers", `{"name":"Ada","email":"ada@example.com"}`, http.StatusCreated, nil)
		var inv invoice
		mustCall(t, srv.base, "POST", "/api/invoices", `{"customer_id":1,"amount_cents":4200}`, http.StatusCreated, &inv)
		if inv.ID != 1 || inv.Currency != "NOK" {
			t.Errorf("got invoice %+v, want id 1 in NOK", inv)
		}

		logs := srv.stop(t)
		if !strings.Contains(logs, "msg=stopped") {
			t.Errorf("got logs without msg=stopped:\n%s", logs)
		}
		if strings.Contains(logs, "c2VjcmV0") {
			t.Errorf("got logs that contain SESSION_KEY:\n%s", logs)
		}
		if u, err := url.Parse(dbURL); err == nil {
			if pw, ok := u.User.Password(); ok && strings.Contains(logs, pw) {
				t.Errorf("got logs that contain the database password:\n%s", logs)
			}
		}
	})
}

// buildLedger builds ledger into a temp dir, with -ldflags "-X
// main.release=REL" unless rel is "", and returns the binary's path.
func buildLedger(t *testing.T, rel string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ledger")
	args := []string{"build", "-o", bin}
	if rel != "" {
		args = append(args, "-ldflags", "-X main.release="+rel)
	}
	if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// ledgerEnviron is the environment Stamp gives ledger, on dbURL.
func ledgerEnviron(dbURL string) []string {
	return append(os.Environ(),
		"DATABASE_URL="+dbURL,
		"HOST=127.0.0.1", "PORT=0", "TENANT=acme", "CURRENCY=USD", "SESSION_KEY=c2VjcmV0LXNlc3Npb24ta2V5",
	)
}

// runBinary runs one command of bin to completion and returns its output;
// it fails the test if the command fails.
func runBinary(t *testing.T, bin string, environ []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = environ
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// serveProcess is a running `ledger serve`.
type serveProcess struct {
	base     string // http://127.0.0.1:PORT
	cmd      *exec.Cmd
	logs     *syncBuffer
	readDone chan struct{}
	exited   bool
}

// startServe starts `bin serve` and returns once it has logged the address
// it listens on. The process is killed when the test ends unless stop ran.
func startServe(t *testing.T, bin string, environ []string) *serveProcess {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = environ
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProcess{cmd: cmd, logs: &syncBuffer{}, readDone: make(chan struct{})}
	t.Cleanup(func() {
		if !p.exited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	addr := make(chan string, 1)
	go func() {
		defer close(p.readDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.logs.add(line)
			if a, ok := strings.CutPrefix(field(line, "addr="), "127.0.0.1:"); ok && strings.Contains(line, "msg=serving") {
				addr <- "http://127.0.0.1:" + a
			}
		}
	}()
	select {
	case p.base = <-addr:
	case <-p.readDone:
		t.Fatalf("serve exited before listening:\n%s", p.logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not log its address:\n%s", p.logs)
	}
	return p
}

// stop sends SIGTERM, waits for a clean exit and returns the process's logs.
func (p *serveProcess) stop(t *testing.T) string {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.readDone:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not exit after SIGTERM:\n%s", p.logs)
	}
	err := p.cmd.Wait()
	p.exited = true
	if err != nil {
		t.Fatalf("serve after SIGTERM: got %v, want exit status 0:\n%s", err, p.logs)
	}
	return p.logs.String()
}

// waitHealthy polls base/healthz until it answers 200.
func waitHealthy(t *testing.T, base string) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for range 300 {
		res, err := client.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
			err = errors.New(res.Status)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("ledger never became healthy: %v", last)
}

// field returns the value of the key=value pair in a slog text line that
// starts with prefix, or "".
func field(line, prefix string) string {
	for f := range strings.FieldsSeq(line) {
		if v, ok := strings.CutPrefix(f, prefix); ok {
			return v
		}
	}
	return ""
}

// syncBuffer collects log lines from one goroutine for another to read.
type syncBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *syncBuffer) add(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, line)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}

// dueIn30Days returns the date 30 days after the UTC day of createdAt, an
// RFC 3339 time: the due date of an invoice that names none.
func dueIn30Days(t *testing.T, createdAt string) string {
	t.Helper()
	c, err := time.Parse(time.RFC3339, createdAt)
	if err != nil {
		t.Fatalf("created_at %q: %v", createdAt, err)
	}
	return c.UTC().AddDate(0, 0, 30).Format(time.DateOnly)
}

// mustRunAs runs one ledger command in-process as release rel, fails the
// test if it fails, and returns its log.
func mustRunAs(t *testing.T, rel int, e env, args ...string) string {
	t.Helper()
	out, err := runAs(t, rel, e, args...)
	if err != nil {
		t.Fatalf("release %d: ledger %s: %v\n%s", rel, strings.Join(args, " "), err, out)
	}
	return out
}

// servedBy returns the release that the Ledger-Release header and the body
// of GET /version on base name, failing the test unless both agree.
func servedBy(t *testing.T, base string) string {
	t.Helper()
	res, err := http.Get(base + "/version")
	if err != nil {
		t.Fatalf("GET /version: %v", err)
	}
	defer res.Body.Close()
	var v struct{ Release int }
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
		t.Fatalf("GET /version: decode: %v", err)
	}
	header := res.Header.Get(releaseHeader)
	if res.StatusCode != http.StatusOK || header != fmt.Sprint(v.Release) {
		t.Fatalf("GET /version: got %s, header %s %q, body release %d; want 200 and the same release twice", res.Status, releaseHeader, header, v.Release)
	}
	return header
}

// invoiceFields returns the JSON fields of each invoice GET /api/invoices
// answers on base, so a test sees fields a release must not send.
func invoiceFields(t *testing.T, base string) []map[string]any {
	t.Helper()
	var invs []map[string]any
	mustCall(t, base, "GET", "/api/invoices", "", http.StatusOK, &invs)
	return invs
}

// tableExists reports whether db of dialect d has a table named name.
func tableExists(t *testing.T, db *sql.DB, d dialect, name string) bool {
	t.Helper()
	q := `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1`
	if d == postgresDialect {
		q = `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1`
	}
	var n int
	if err := db.QueryRow(q, name).Scan(&n); err != nil {
		t.Fatalf("look up table %s: %v", name, err)
	}
	return n > 0
}

func TestParseRelease(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"1", 1, false},
		{"2", 2, false},
		{"3", 3, false},
		{"0", 0, true},
		{"4", 0, true},
		{"", 0, true},
		{"v2", 0, true},
	}
	for _, tt := range tests {
		got, err := parseRelease(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseRelease(%q): got %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestMigrationReleases checks that each release loads the migrations of
// its own release and earlier ones, and nothing else.
func TestMigrationReleases(t *testing.T) {
	tests := []struct {
		rel  int
		want string
	}{
		{releaseOne, "0001_init"},
		{releaseDueDates, "0001_init 0002_invoice_due_on"},
		{releaseBroken, "0001_init 0002_invoice_due_on 0003_payments"},
	}
	for _, d := range dialects {
		for _, tt := range tests {
			ms, err := loadMigrations(d, tt.rel)
			if err != nil {
				t.Fatalf("load %s migrations of release %d: %v", d, tt.rel, err)
			}
			var got []string
			for _, m := range ms {
				got = append(got, fmt.Sprintf("%04d_%s", m.version, m.name))
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("%s, release %d: got migrations %q, want %q", d, tt.rel, strings.Join(got, " "), tt.want)
			}
		}
	}
	all, err := loadMigrations(sqliteDialect, releaseBroken)
	if err != nil {
		t.Fatal(err)
	}
	files := map[int]bool{}
	for _, m := range all {
		files[m.version] = true
	}
	for version := range migrationReleases {
		if !files[version] {
			t.Errorf("migrationReleases names version %d, which has no migration file", version)
		}
	}
}

// TestCheckMigratedByRelease checks that a binary requires the migrations
// of its own release and accepts those of later ones, the rule a blue/green
// upgrade rests on.
func TestCheckMigratedByRelease(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		for migratedBy := releaseOne; migratedBy <= releaseBroken; migratedBy++ {
			url := tempURL(t, d)
			mustRunAs(t, migratedBy, env{"DATABASE_URL": url}, "migrate")
			db := openTestDB(t, url)
			for rel := releaseOne; rel <= releaseBroken; rel++ {
				err := checkMigrated(t.Context(), db, d, rel)
				if wantErr := rel > migratedBy; (err != nil) != wantErr {
					t.Errorf("release %d on a database migrated by release %d: got error %v, want error %v", rel, migratedBy, err, wantErr)
				}
				if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("%04d_", migratedBy+1)) {
					t.Errorf("release %d on a database migrated by release %d: got %q, want it to name migration %04d", rel, migratedBy, err, migratedBy+1)
				}
			}
		}
	})
}

// TestUpgradeSideBySide runs a blue/green upgrade in-process on each
// dialect: release 1 migrates, seeds and takes invoices; release 2 migrates
// while release 1 keeps serving and writing; then the same with release 3,
// which migrates but is unhealthy.
func TestUpgradeSideBySide(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		dbURL := tempURL(t, d)
		if d == postgresDialect {
			// At UTC+14 a backfill that worked in the session's time zone
			// would land on the wrong day.
			u, err := url.Parse(dbURL)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			q.Set("timezone", "Pacific/Kiritimati")
			u.RawQuery = q.Encode()
			dbURL = u.String()
		}
		e := env{"DATABASE_URL": dbURL}
		mustRunAs(t, releaseOne, e, "migrate")
		mustRunAs(t, releaseOne, e, "seed")
		db := openTestDB(t, dbURL)
		v1 := testServer(t, openTestDB(t, dbURL), config{release: releaseOne})
		mustCall(t, v1.URL, "POST", "/api/customers", `{"name":"Ada","email":"ada@example.com"}`, http.StatusCreated, nil)
		mustCall(t, v1.URL, "POST", "/api/invoices", `{"customer_id":1,"amount_cents":100}`, http.StatusCreated, nil)
		mustCall(t, v1.URL, "POST", "/api/invoices", `{"customer_id":1,"amount_cents":200}`, http.StatusCreated, nil)
		// Issue times whose due dates cross a leap day and a year end.
		for id, createdAt := range map[int]string{1: "2024-01-31T23:30:00Z", 2: "2023-12-15T00:10:00Z"} {
			if _, err := db.Exec(`UPDATE invoices SET created_at = $1 WHERE id = $2`, createdAt, id); err != nil {
				t.Fatal(err)
			}
		}

		out := mustRunAs(t, releaseDueDates, e, "migrate")
		if !strings.Contains(out, "name=invoice_due_on") || strings.Contains(out, "name=payments") {
			t.Errorf("release 2 migrate: got log %q, want 0002_invoice_due_on applied and not 0003_payments", out)
		}

		// Release 1 keeps serving and writing on the release-2 schema.
		if got := servedBy(t, v1.URL); got != "1" {
			t.Errorf("got release %s serving, want 1", got)
		}
		if status, body := call(t, v1.URL, "GET", "/healthz", ""); status != http.StatusOK || body != "ok (release 1)" {
			t.Errorf("release 1 healthz: got %d %q, want 200 %q", status, body, "ok (release 1)")
		}
		var late invoice
		mustCall(t, v1.URL, "POST", "/api/invoices", `{"customer_id":1,"amount_cents":300}`, http.StatusCreated, &late)
		if late.ID != 3 || late.DueOn != "" {
			t.Errorf("release 1 created %+v, want invoice 3 without a due date", late)
		}
		mustCall(t, v1.URL, "POST", "/api/invoices", `{"customer_id":1,"amount_cents":300,"due_on":"2099-01-01"}`, http.StatusBadRequest, nil)
		for _, inv := range invoiceFields(t, v1.URL) {
			if _, ok := inv["due_on"]; ok {
				t.Errorf("release 1 listed %v, want no due_on", inv)
			}
		}

		// Release 2 sees the backfill, and the due date of what release 1
		// wrote after the migration.
		v2 := testServer(t, openTestDB(t, dbURL), config{release: releaseDueDates})
		if got := servedBy(t, v2.URL); got != "2" {
			t.Errorf("got release %s serving, want 2", got)
		}
		var own invoice
		mustCall(t, v2.URL, "POST", "/api/invoices", `{"customer_id":1,"amount_cents":400,"due_on":"2099-01-31"}`, http.StatusCreated, &own)
		var invs []invoice
		mustCall(t, v2.URL, "GET", "/api/invoices", "", http.StatusOK, &invs)
		want := []string{"2024-03-01", "2024-01-14", dueIn30Days(t, late.CreatedAt), "2099-01-31"}
		var got []string
		for _, inv := range invs {
			got = append(got, inv.DueOn)
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("release 2 listed due dates %q, want %q", got, want)
		}
		if n := len(invoiceFields(t, v1.URL)); n != 4 {
			t.Errorf("release 1 listed %d invoices after release 2 wrote one, want 4", n)
		}

		// Release 3 migrates, and fails its health check; 1 and 2 serve on.
		if tableExists(t, db, d, "payments") {
			t.Fatal("got a payments table before release 3 migrated")
		}
		mustRunAs(t, releaseBroken, e, "migrate")
		if !tableExists(t, db, d, "payments") {
			t.Error("got no payments table after release 3 migrated")
		}
		v3 := testServer(t, openTestDB(t, dbURL), config{release: releaseBroken})
		if status, body := call(t, v3.URL, "GET", "/healthz", ""); status != http.StatusInternalServerError || !strings.Contains(body, "release 3 is deliberately broken for rollback tests") {
			t.Errorf("release 3 healthz: got %d %q, want 500 saying it is deliberately broken", status, body)
		}
		for _, srv := range []*httptest.Server{v1, v2} {
			if status, body := call(t, srv.URL, "GET", "/healthz", ""); status != http.StatusOK {
				t.Errorf("healthz after release 3 migrated: got %d %q, want 200", status, body)
			}
			mustCall(t, srv.URL, "POST", "/api/invoices", `{"customer_id":1,"amount_cents":500}`, http.StatusCreated, nil)
		}
	})
}

// TestReleaseBinaries runs the upgrade that Stamp's fleet tests run, with
// real binaries of releases 1, 2 and 3 built with -ldflags: release 2
// migrates while release 1 serves, both serve side by side, then release 3
// migrates and answers its health check with 500.
func TestReleaseBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bins := map[string]string{}
	for _, rel := range []string{"1", "2", "3"} {
		bins[rel] = buildLedger(t, rel)
	}
	forEachDialect(t, func(t *testing.T, d dialect) {
		dbURL := tempURL(t, d)
		environ := ledgerEnviron(dbURL)
		runBinary(t, bins["1"], environ, "migrate")
		runBinary(t, bins["1"], environ, "seed")
		v1 := startServe(t, bins["1"], environ)
		waitHealthy(t, v1.base)
		mustCall(t, v1.base, "POST", "/api/customers", `{"name":"Ada","email":"ada@example.com"}`, http.StatusCreated, nil)
		var first invoice
		mustCall(t, v1.base, "POST", "/api/invoices", `{"customer_id":1,"amount_cents":100}`, http.StatusCreated, &first)

		if out := runBinary(t, bins["2"], environ, "migrate"); !strings.Contains(out, "name=invoice_due_on") {
			t.Errorf("release 2 migrate: got log %q, want 0002_invoice_due_on applied", out)
		}
		var second invoice
		mustCall(t, v1.base, "POST", "/api/invoices", `{"customer_id":1,"amount_cents":200}`, http.StatusCreated, &second)
		v2 := startServe(t, bins["2"], environ)
		waitHealthy(t, v2.base)
		for base, want := range map[string]string{v1.base: "1", v2.base: "2"} {
			if got := servedBy(t, base); got != want {
				t.Errorf("%s: got release %s serving, want %s", base, got, want)
			}
		}
		var invs []invoice
		mustCall(t, v2.base, "GET", "/api/invoices", "", http.StatusOK, &invs)
		if len(invs) != 2 || invs[0].DueOn != dueIn30Days(t, first.CreatedAt) || invs[1].DueOn != dueIn30Days(t, second.CreatedAt) {
			t.Errorf("release 2 listed %+v, want invoices 1 and 2 due 30 days after their issue", invs)
		}
		for _, inv := range invoiceFields(t, v1.base) {
			if _, ok := inv["due_on"]; ok {
				t.Errorf("release 1 listed %v, want no due_on", inv)
			}
		}

		runBinary(t, bins["3"], environ, "migrate")
		v3 := startServe(t, bins["3"], environ)
		if status, body := call(t, v3.base, "GET", "/healthz", ""); status != http.StatusInternalServerError || !strings.Contains(body, "deliberately broken") {
			t.Errorf("release 3 healthz: got %d %q, want 500 saying it is deliberately broken", status, body)
		}
		for _, p := range []*serveProcess{v1, v2} {
			if status, body := call(t, p.base, "GET", "/healthz", ""); status != http.StatusOK {
				t.Errorf("healthz after release 3 migrated: got %d %q, want 200", status, body)
			}
		}
		for _, p := range []*serveProcess{v1, v2, v3} {
			p.stop(t)
		}
	})
}
