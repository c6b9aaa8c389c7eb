package benchkit

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/postgres"
	"github.com/stamphq/stamp/store/sqlite"
)

// Store is one of the stores a Go benchmark runs against: its name, and
// how to open an empty one, failing tb, that lives until owner ends.
type Store struct {
	Name string
	Open func(tb testing.TB, owner *testing.B) stamp.Store
}

// Stores are SQLite, in owner's temporary directory, and PostgreSQL, a
// new database on the cluster STAMP_TEST_POSTGRES names (skipped when
// it is not set), dropped when owner ends.
var Stores = []Store{
	{"sqlite", func(tb testing.TB, owner *testing.B) stamp.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(owner.TempDir(), "stamp.db"))
		if err != nil {
			tb.Fatal(err)
		}
		owner.Cleanup(func() { closeStore(owner, s) })
		return s
	}},
	{"postgres", func(tb testing.TB, owner *testing.B) stamp.Store {
		s, err := postgres.Open(context.Background(), newDatabase(tb, owner))
		if err != nil {
			tb.Fatal(err)
		}
		owner.Cleanup(func() { closeStore(owner, s) })
		return s
	}},
}

func closeStore(tb testing.TB, s stamp.Store) {
	if err := s.Close(); err != nil {
		tb.Errorf("close store: %v", err)
	}
}

// newDatabase creates an empty database on the cluster STAMP_TEST_POSTGRES
// names (or skips), dropped when owner ends, and returns its URL.
func newDatabase(tb testing.TB, owner *testing.B) string {
	tb.Helper()
	admin := os.Getenv("STAMP_TEST_POSTGRES")
	if admin == "" {
		tb.Skip("STAMP_TEST_POSTGRES is not set: run scripts/postgres start DIR and export the URL it prints")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("connect to the test cluster: %v", err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("stamp_bench_%d", os.Getpid())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatal(err)
	}
	owner.Cleanup(func() {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			owner.Errorf("connect to the test cluster: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			owner.Errorf("drop benchmark database: %v", err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
