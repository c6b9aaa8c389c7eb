package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/engine/postgres"
)

// adminURL returns the URL of the test server's superuser, or skips.
func adminURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("STAMP_TEST_POSTGRES")
	if u == "" {
		t.Skip("STAMP_TEST_POSTGRES is not set: run ./scripts/test, or scripts/postgres start DIR and export the URL it prints")
	}
	return u
}

// newEngine returns an Engine on the test server, closed when the test ends.
func newEngine(t *testing.T, opts ...postgres.Option) *postgres.Engine {
	t.Helper()
	e, err := postgres.New(t.Context(), adminURL(t), opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(e.Close)
	return e
}

// random returns n random hex digits, to keep names of concurrent test runs
// on one server apart.
func random(n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// ensure ensures spec and drops it when the test ends.
func ensure(t *testing.T, e *postgres.Engine, spec stamp.DatabaseSpec) string {
	t.Helper()
	u, err := e.Ensure(t.Context(), spec)
	if err != nil {
		t.Fatalf("Ensure %s/%s: %v", spec.Tenant, spec.Name, err)
	}
	t.Cleanup(func() {
		if err := e.Drop(context.WithoutCancel(t.Context()), spec); err != nil {
			t.Errorf("Drop %s/%s: %v", spec.Tenant, spec.Name, err)
		}
	})
	return u
}

// spec returns a database spec of tenant with a unique database name.
func spec(tenant string) stamp.DatabaseSpec {
	return stamp.DatabaseSpec{Tenant: tenant, Name: "m" + random(8), Password: random(48)}
}

// connect connects to u and closes the connection when the test ends.
func connect(t *testing.T, u string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), u)
	if err != nil {
		t.Fatalf("connect with the app URL: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.WithoutCancel(t.Context())) })
	return conn
}

// exec runs sql on conn and fails the test on error.
func exec(t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()
	if _, err := conn.Exec(t.Context(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// pgCode returns the PostgreSQL error code of err, or "" if it has none.
func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// adminExists reports whether the server has a role or database (kind
// "pg_roles"/"rolname" or "pg_database"/"datname") called name.
func adminExists(t *testing.T, table, column, name string) bool {
	t.Helper()
	conn := connect(t, adminURL(t))
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM `+table+` WHERE `+column+` = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// withDatabase returns u with its database path replaced.
func withDatabase(t *testing.T, u, database string) string {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	parsed.Path = "/" + database
	return parsed.String()
}

// withPassword returns u with its password replaced.
func withPassword(t *testing.T, u, password string) string {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	parsed.User = url.UserPassword(parsed.User.Username(), password)
	return parsed.String()
}

func TestEnsureTwiceKeepsData(t *testing.T) {
	e := newEngine(t)
	s := spec("acme" + random(6))
	u := ensure(t, e, s)

	want := "postgres://" + postgres.ObjectName(s.Tenant, s.Name) + ":" + s.Password + "@"
	if !strings.HasPrefix(u, want) || !strings.HasSuffix(u, "/"+postgres.ObjectName(s.Tenant, s.Name)+"?sslmode=disable") {
		t.Errorf("got URL %q, want %q...?sslmode=disable", u, want)
	}
	conn := connect(t, u)
	// The app's migrations create tables in public, which PostgreSQL 15
	// closes to a NOINHERIT owner unless the schema is handed over.
	exec(t, conn, `CREATE TABLE invoices (id int PRIMARY KEY); INSERT INTO invoices VALUES (42)`)

	again, err := e.Ensure(t.Context(), s)
	if err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	if again != u {
		t.Errorf("second Ensure: got %q, want %q", again, u)
	}
	var id int
	if err := connect(t, again).QueryRow(t.Context(), `SELECT id FROM invoices`).Scan(&id); err != nil || id != 42 {
		t.Errorf("after second Ensure: got id %d, err %v, want 42", id, err)
	}
}

func TestEnsureNewPassword(t *testing.T) {
	e := newEngine(t)
	s := spec("acme" + random(6))
	old := ensure(t, e, s)
	s.Password = random(48)
	u, err := e.Ensure(t.Context(), s)
	if err != nil {
		t.Fatalf("Ensure with a new password: %v", err)
	}
	connect(t, u)
	if _, err := pgx.Connect(t.Context(), old); pgCode(err) != "28P01" {
		t.Errorf("old password: got %v, want invalid_password (28P01)", err)
	}
}

func TestEnsureConcurrent(t *testing.T) {
	e := newEngine(t)
	s := spec("acme" + random(6))
	t.Cleanup(func() { e.Drop(context.WithoutCancel(t.Context()), s) })
	const n = 8
	urls := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { urls[i], errs[i] = e.Ensure(t.Context(), s) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Ensure %d: %v", i, errs[i])
		} else if urls[i] != urls[0] {
			t.Errorf("Ensure %d: got %q, want %q", i, urls[i], urls[0])
		}
	}
	if t.Failed() {
		return
	}
	exec(t, connect(t, urls[0]), `CREATE TABLE t (x int)`)
}

func TestEnsureConcurrentEngines(t *testing.T) {
	// Two control planes share the server: their engines do not share a pool.
	engines := []*postgres.Engine{newEngine(t), newEngine(t)}
	s := spec("acme" + random(6))
	t.Cleanup(func() { engines[0].Drop(context.WithoutCancel(t.Context()), s) })
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { _, errs[i] = engines[i%2].Ensure(t.Context(), s) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Ensure %d: %v", i, err)
		}
	}
}

func TestDrop(t *testing.T) {
	e := newEngine(t)
	s := spec("acme" + random(6))
	u, err := e.Ensure(t.Context(), s)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	// An app still connected must not keep the database alive.
	conn := connect(t, u)
	exec(t, conn, `CREATE TABLE t (x int)`)

	if err := e.Drop(t.Context(), s); err != nil {
		t.Fatalf("Drop: %v", err)
	}
	name := postgres.ObjectName(s.Tenant, s.Name)
	if adminExists(t, "pg_database", "datname", name) {
		t.Errorf("database %s still exists after Drop", name)
	}
	if adminExists(t, "pg_roles", "rolname", name) {
		t.Errorf("role %s still exists after Drop", name)
	}
	if _, err := pgx.Connect(t.Context(), u); err == nil {
		t.Errorf("connect after Drop: got no error")
	}
	if err := e.Drop(t.Context(), s); err != nil {
		t.Errorf("second Drop: %v", err)
	}
}

func TestDropMissing(t *testing.T) {
	e := newEngine(t)
	if err := e.Drop(t.Context(), spec("never"+random(6))); err != nil {
		t.Errorf("Drop of a database never ensured: %v", err)
	}
}

func TestNames(t *testing.T) {
	long := strings.Repeat("t", 57) + random(6) // 63, the longest tenant name
	tests := []struct {
		name string
		spec stamp.DatabaseSpec
	}{
		{"select", stamp.DatabaseSpec{Tenant: "select", Name: "m" + random(8)}},
		{"user", stamp.DatabaseSpec{Tenant: "user", Name: "m" + random(8)}},
		{"a-b", stamp.DatabaseSpec{Tenant: "a-b", Name: "m" + random(8)}},
		{"drop-table", stamp.DatabaseSpec{Tenant: "drop-table", Name: "m" + random(8)}},
		{"hostile database", stamp.DatabaseSpec{Tenant: "t" + random(6), Name: "table"}},
		{"longest tenant", stamp.DatabaseSpec{Tenant: long, Name: "main"}},
		{"longest tenant, other database", stamp.DatabaseSpec{Tenant: long, Name: "audit"}},
		{"longest both", stamp.DatabaseSpec{Tenant: long, Name: strings.Repeat("d", 63)}},
	}
	e := newEngine(t)
	seen := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Password = random(48)
			u := ensure(t, e, tt.spec)
			name := postgres.ObjectName(tt.spec.Tenant, tt.spec.Name)
			if prev, ok := seen[name]; ok {
				t.Errorf("got name %q, which %s has too", name, prev)
			}
			seen[name] = tt.name
			conn := connect(t, u)
			var db, user string
			if err := conn.QueryRow(t.Context(), `SELECT current_database(), current_user`).Scan(&db, &user); err != nil {
				t.Fatal(err)
			}
			if db != name || user != name {
				t.Errorf("got database %q and user %q, want %q for both", db, user, name)
			}
			exec(t, conn, `CREATE TABLE "order" (x int)`)
		})
	}
}

func TestInvalid(t *testing.T) {
	e := newEngine(t)
	tests := []struct {
		name    string
		spec    stamp.DatabaseSpec
		want    string
		badName bool // Drop refuses it too
	}{
		{"empty tenant", stamp.DatabaseSpec{Name: "main", Password: "pw"}, "tenant name is empty", true},
		{"uppercase tenant", stamp.DatabaseSpec{Tenant: "Acme", Name: "main", Password: "pw"}, "uppercase", true},
		{"quote in tenant", stamp.DatabaseSpec{Tenant: `a"b`, Name: "main", Password: "pw"}, "position 2", true},
		{"underscore in database", stamp.DatabaseSpec{Tenant: "acme", Name: "a_b", Password: "pw"}, "database name", true},
		{"tenant too long", stamp.DatabaseSpec{Tenant: strings.Repeat("a", 64), Name: "main", Password: "pw"}, "at most 63", true},
		{"no password", stamp.DatabaseSpec{Tenant: "acme", Name: "main"}, "has no password", false},
		{"newline in password", stamp.DatabaseSpec{Tenant: "acme", Name: "main", Password: "a\nb"}, "outside printable ASCII", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Ensure(t.Context(), tt.spec)
			if code := stamp.ErrorCode(err); code != stamp.EINVALID || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Ensure: got %v (code %q), want %s containing %q", err, code, stamp.EINVALID, tt.want)
			}
			if !tt.badName {
				return
			}
			if err := e.Drop(t.Context(), tt.spec); stamp.ErrorCode(err) != stamp.EINVALID {
				t.Errorf("Drop: got %v, want %s", err, stamp.EINVALID)
			}
		})
	}
}

func TestIsolation(t *testing.T) {
	e := newEngine(t)
	a, b := spec("a"+random(6)), spec("b"+random(6))
	urlA, urlB := ensure(t, e, a), ensure(t, e, b)
	exec(t, connect(t, urlB), `CREATE TABLE secrets (s text); INSERT INTO secrets VALUES ('b only')`)
	connA := connect(t, urlA)

	t.Run("A connects to B's database", func(t *testing.T) {
		_, err := pgx.Connect(t.Context(), withDatabase(t, urlA, postgres.ObjectName(b.Tenant, b.Name)))
		if pgCode(err) != "42501" || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("got %v, want permission denied (42501)", err)
		}
	})
	t.Run("B connects to A's database", func(t *testing.T) {
		_, err := pgx.Connect(t.Context(), withDatabase(t, urlB, postgres.ObjectName(a.Tenant, a.Name)))
		if pgCode(err) != "42501" {
			t.Errorf("got %v, want permission denied (42501)", err)
		}
	})
	t.Run("A logs in with B's password", func(t *testing.T) {
		_, err := pgx.Connect(t.Context(), withPassword(t, urlA, b.Password))
		if pgCode(err) != "28P01" {
			t.Errorf("got %v, want invalid_password (28P01)", err)
		}
	})
	for _, stmt := range []string{
		`CREATE ROLE intruder LOGIN`,
		`CREATE DATABASE intruder`,
		`ALTER ROLE ` + pgx.Identifier{postgres.ObjectName(a.Tenant, a.Name)}.Sanitize() + ` CONNECTION LIMIT -1`,
		`ALTER ROLE ` + pgx.Identifier{postgres.ObjectName(b.Tenant, b.Name)}.Sanitize() + ` PASSWORD 'taken'`,
		`GRANT CONNECT ON DATABASE ` + pgx.Identifier{postgres.ObjectName(b.Tenant, b.Name)}.Sanitize() + ` TO PUBLIC`,
	} {
		t.Run(stmt, func(t *testing.T) {
			if _, err := connA.Exec(t.Context(), stmt); pgCode(err) != "42501" {
				t.Errorf("got %v, want permission denied (42501)", err)
			}
		})
	}
	t.Run("role attributes", func(t *testing.T) {
		conn := connect(t, adminURL(t))
		var super, createDB, createRole, inherit bool
		var limit int
		err := conn.QueryRow(t.Context(), `SELECT rolsuper, rolcreatedb, rolcreaterole, rolinherit, rolconnlimit
			FROM pg_roles WHERE rolname = $1`, postgres.ObjectName(a.Tenant, a.Name)).Scan(&super, &createDB, &createRole, &inherit, &limit)
		if err != nil {
			t.Fatal(err)
		}
		if super || createDB || createRole || inherit || limit != postgres.ConnectionLimit {
			t.Errorf("got super %v, createdb %v, createrole %v, inherit %v, limit %d; want false, false, false, false, %d",
				super, createDB, createRole, inherit, limit, postgres.ConnectionLimit)
		}
	})
	t.Run("A owns its database", func(t *testing.T) {
		exec(t, connA, `CREATE TABLE invoices (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY); CREATE INDEX ON invoices (id); DROP TABLE invoices`)
		exec(t, connA, `CREATE SCHEMA reporting; CREATE TABLE reporting.t (x int)`)
	})
}

func TestNewErrors(t *testing.T) {
	admin := adminURL(t)
	parsed, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	password, _ := parsed.User.Password()

	wrong := *parsed
	wrong.User = url.UserPassword(parsed.User.Username(), "wrong-hunter2")
	unreachable := *parsed
	unreachable.Host = "127.0.0.1:1"

	conn := connect(t, admin)
	plain := "plain" + random(6)
	exec(t, conn, `CREATE ROLE `+plain+` LOGIN CREATEROLE CREATEDB PASSWORD 'hunter2-plain'`)
	t.Cleanup(func() { conn.Exec(context.WithoutCancel(t.Context()), `DROP ROLE `+plain) })
	notSuper := *parsed
	notSuper.User = url.UserPassword(plain, "hunter2-plain")

	tests := []struct {
		name, url, want string
		code            string
	}{
		{"not a URL", "host=127.0.0.1 password=hunter2", "not a postgres://", stamp.EINVALID},
		{"bad port", "postgres://u:hunter2@127.0.0.1:port/db", "not a postgres://", stamp.EINVALID},
		{"bad sslmode", "postgres://u:hunter2@127.0.0.1/db?sslmode=sometimes", "sslmode", stamp.EINVALID},
		{"wrong password", wrong.String(), "password authentication failed", stamp.EINTERNAL},
		{"unreachable", unreachable.String(), "connection refused", stamp.EINTERNAL},
		{"not a superuser", notSuper.String(), "not a superuser", stamp.EINTERNAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := postgres.New(t.Context(), tt.url)
			if err == nil {
				e.Close()
				t.Fatalf("got no error, want one containing %q", tt.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) || stamp.ErrorCode(err) != tt.code {
				t.Errorf("got %q (code %q), want %s containing %q", msg, stamp.ErrorCode(err), tt.code, tt.want)
			}
			if strings.Contains(msg, "hunter2") || strings.Contains(msg, password) {
				t.Errorf("got %q, which holds a password", msg)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("got %q, want one line", msg)
			}
		})
	}
}
