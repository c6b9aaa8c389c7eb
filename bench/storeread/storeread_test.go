package storeread

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
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

// tenants is how many tenants the store holds, as in the figure.
const tenants = 10_000

// fixture is a store full of tenants behind the API.
type fixture struct {
	url   string // of the API server
	token string // bearer secret
}

func BenchmarkGetTenantAPI(b *testing.B) {
	// A sub-benchmark's function runs once per b.N tried, so the fixture
	// is built on the first run, failing that run (tb), and lives until
	// the parent benchmark ends (owner).
	stores := []struct {
		name string
		open func(tb testing.TB, owner *testing.B) stamp.Store
	}{
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
	for _, st := range stores {
		var f *fixture
		b.Run(st.name, func(sb *testing.B) {
			if f == nil {
				f = newFixture(sb, b, st.open(sb, b))
			}
			benchGet(sb, f)
		})
	}
}

func closeStore(tb testing.TB, s stamp.Store) {
	if err := s.Close(); err != nil {
		tb.Errorf("close store: %v", err)
	}
}

// benchGet sends GET /v1/tenants/NAME for random tenants from 8 clients
// per CPU and reports reads/s.
func benchGet(b *testing.B, f *fixture) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/v1/tenants/t%05d", f.url, rand.IntN(tenants)), nil)
			if err != nil {
				b.Error(err)
				return
			}
			req.Header.Set("Authorization", "Bearer "+f.token)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Errorf("GET %s: status %d, %v", req.URL.Path, resp.StatusCode, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}

// newFixture fills s with tenants t00000... and a token, and serves the API
// on loopback until owner ends.
func newFixture(tb testing.TB, owner *testing.B, s stamp.Store) *fixture {
	tb.Helper()
	ctx := context.Background()
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := range tenants {
		g.Go(func() error {
			return s.CreateTenant(ctx, &stamp.Tenant{
				Name:       fmt.Sprintf("t%05d", i),
				Spec:       stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0", Plan: "starter", Desired: stamp.DesiredRunning, Params: map[string]string{"currency": "EUR"}},
				Status:     stamp.TenantStatus{Phase: stamp.PhaseReady, ObservedGeneration: 1, Endpoints: []string{"127.0.0.1:40000"}, URL: "http://t.localhost:7080"},
				Generation: 1,
			})
		})
	}
	if err := g.Wait(); err != nil {
		tb.Fatalf("create %d tenants: %v", tenants, err)
	}
	secret := httpapi.NewToken()
	if err := s.CreateToken(context.Background(), &stamp.Token{ID: "bench", Name: "bench", Role: stamp.RoleAdmin, Hash: httpapi.HashToken(secret)}); err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.NewServer(httpapi.Config{Store: s, Logger: slog.New(slog.DiscardHandler)}))
	owner.Cleanup(srv.Close)
	return &fixture{url: srv.URL, token: secret}
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
	name := fmt.Sprintf("stamp_storeread_%d", os.Getpid())
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
