package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/sqlite"
)

// BenchmarkAuthorization serves GET /v1/tenants/{name}, a read, through
// its guard with a viewer's token, reading it from the store ("guarded")
// or from the TokenCache the server runs with ("guarded, cached"), and
// through the same handler with no guard ("open"), each behind the
// server's request middleware, over a real SQLite
// store holding the tenant and 100 tokens; the difference is what
// checking a token costs each request. The target (issue 16): under 5%.
//
//	go test -run '^$' -bench Authorization -count 6 ./httpapi/
func BenchmarkAuthorization(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "stamp.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateTenant(ctx, &stamp.Tenant{Name: "acme", Spec: stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0", Plan: "starter"}}); err != nil {
		b.Fatal(err)
	}
	var secret string
	for i := range 100 {
		secret = NewToken()
		name := "t" + string(rune('a'+i%26)) + randomHex(4)
		if err := st.CreateToken(ctx, &stamp.Token{ID: name, Name: name, Role: stamp.RoleViewer, Hash: HashToken(secret)}); err != nil {
			b.Fatal(err)
		}
	}
	cfg := Config{Store: st, Clock: stamp.SystemClock{}}
	cache := NewTokenCache(nil)
	watch, stop := context.WithCancel(ctx)
	defer stop()
	go cache.Watch(watch, st)
	var read route
	for _, rt := range routes(cfg, newBlueprintCache(1)) {
		if rt.pattern == "GET /v1/tenants/{name}" {
			read = rt
		}
	}
	for _, c := range []struct {
		name    string
		handler http.Handler
	}{
		{"open", read.handler},
		{"guarded", guard(tokenSource{store: st}, cfg.Clock, read.access)(read.handler)},
		{"guarded, cached", guard(tokenSource{store: st, cache: cache}, cfg.Clock, read.access)(read.handler)},
	} {
		mux := http.NewServeMux()
		mux.Handle(read.pattern, c.handler)
		srv := withRequest(slog.New(slog.DiscardHandler), st, 0, mux) // as NewServer serves
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/v1/tenants/acme", nil)
			req.Header.Set("Authorization", "Bearer "+secret)
			for b.Loop() {
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
