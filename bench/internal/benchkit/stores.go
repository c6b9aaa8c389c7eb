package benchkit

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/httpapi"
	"github.com/stamphq/stamp/store/postgres"
	"github.com/stamphq/stamp/store/sqlite"
)

// Store is one of the stores a Go benchmark runs against: its name, and
// how to open an empty one, failing tb, that lives until owner ends.
type Store struct {
	Name string
	Open func(tb testing.TB, owner *testing.B) stamp.Store
}

// stores are SQLite, in owner's temporary directory, and PostgreSQL, a
// new database on the cluster STAMP_TEST_POSTGRES names (skipped when
// it is not set), dropped when owner ends.
var stores = []Store{
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

// EachStore runs bench as a sub-benchmark of b per store, on a fixture
// setup builds in a new store of that kind. A sub-benchmark's function
// runs once per b.N tried, so the fixture is built on the first run,
// failing that run (tb), and lives until b ends (owner).
func EachStore[F any](b *testing.B, setup func(tb testing.TB, owner *testing.B, s stamp.Store) F, bench func(*testing.B, F)) {
	for _, st := range stores {
		var f F
		built := false
		b.Run(st.Name, func(sb *testing.B) {
			if !built {
				f, built = setup(sb, b, st.Open(sb, b)), true
			}
			bench(sb, f)
		})
	}
}

// CreateTenants stores n tenants, the one of index i made by tenant(i),
// sixteen at a time.
func CreateTenants(tb testing.TB, s stamp.TenantStore, n int, tenant func(i int) *stamp.Tenant) {
	tb.Helper()
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(16)
	for i := range n {
		g.Go(func() error { return s.CreateTenant(ctx, tenant(i)) })
	}
	if err := g.Wait(); err != nil {
		tb.Fatalf("create %d tenants: %v", n, err)
	}
}

// NewToken stores an API token of role in s and returns its secret.
func NewToken(tb testing.TB, s stamp.TokenStore, role stamp.Role) string {
	tb.Helper()
	secret := httpapi.NewToken()
	if err := s.CreateToken(context.Background(), &stamp.Token{ID: "bench", Name: "bench", Role: role, Hash: httpapi.HashToken(secret)}); err != nil {
		tb.Fatal(err)
	}
	return secret
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
