package storeread

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bench/internal/benchkit"
	"github.com/stamphq/stamp/httpapi"
)

// tenants is how many tenants the store holds, as in the figure.
const tenants = 10_000

// fixture is a store full of tenants behind the API.
type fixture struct {
	url   string // of the API server
	token string // bearer secret
}

func BenchmarkGetTenantAPI(b *testing.B) {
	benchkit.EachStore(b, newFixture, benchGet)
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
	benchkit.CreateTenants(tb, s, tenants, func(i int) *stamp.Tenant {
		return &stamp.Tenant{
			Name:       fmt.Sprintf("t%05d", i),
			Spec:       stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0", Plan: "starter", Desired: stamp.DesiredRunning, Params: map[string]string{"currency": "EUR"}},
			Status:     stamp.TenantStatus{Phase: stamp.PhaseReady, ObservedGeneration: 1, Endpoints: []string{"127.0.0.1:40000"}, URL: "http://t.localhost:7080"},
			Generation: 1,
		}
	})
	secret := benchkit.NewToken(tb, s, stamp.RoleAdmin)
	srv := httptest.NewServer(httpapi.NewServer(httpapi.Config{Store: s, Logger: slog.New(slog.DiscardHandler)}))
	owner.Cleanup(srv.Close)
	return &fixture{url: srv.URL, token: secret}
}
