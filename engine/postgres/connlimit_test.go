package postgres_test

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stamphq/stamp/engine/postgres"
)

// TestConnectionLimitFollowsTheSpec ensures a database with a connection
// limit, changes it (as a plan change or an upgrade does) and checks the
// role's limit in the catalog and that the server enforces it: one
// connection past the limit is refused.
func TestConnectionLimitFollowsTheSpec(t *testing.T) {
	e := newEngine(t)
	db := spec("acme" + random(6))
	db.ConnectionLimit = 3
	u := ensure(t, e, db)
	admin := connect(t, adminURL(t))
	name := postgres.ObjectName(db.Tenant, db.Name)
	limit := func() int {
		t.Helper()
		var n int
		if err := admin.QueryRow(t.Context(), `SELECT rolconnlimit FROM pg_roles WHERE rolname = $1`, name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := limit(); got != 3 {
		t.Fatalf("limit after create: got %d, want 3", got)
	}
	for range 3 {
		connect(t, u) // held until the test ends
	}
	if _, err := pgx.Connect(t.Context(), u); pgCode(err) != "53300" {
		t.Errorf("a 4th connection with a limit of 3: got %v, want too_many_connections (53300)", err)
	}
	for _, want := range []int{6, 2, 0} {
		db.ConnectionLimit = want
		if _, err := e.Ensure(t.Context(), db); err != nil {
			t.Fatal(err)
		}
		if want == 0 {
			want = postgres.ConnectionLimit // unset: the engine's default
		}
		if got := limit(); got != want {
			t.Errorf("limit after Ensure with %d: got %d, want %d", db.ConnectionLimit, got, want)
		}
	}
	db.ConnectionLimit = 4
	if _, err := e.Ensure(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	connect(t, u)
	if _, err := pgx.Connect(t.Context(), u); pgCode(err) != "53300" {
		t.Errorf("a 5th connection after raising the limit to 4: got %v, want too_many_connections (53300)", err)
	}
}
