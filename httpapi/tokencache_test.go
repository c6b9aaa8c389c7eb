package httpapi

import (
	"context"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// TestTokenCacheForgetsRevoked: with the cache watching the store, a
// token once used is kept, and revoked (through the API, or through the
// store by another part of the process) it fails at the next request.
func TestTokenCacheForgetsRevoked(t *testing.T) {
	cache := NewTokenCache(nil)
	env := newTestEnv(t, func(c *Config) { c.TokenCache = cache })
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go cache.Watch(ctx, env.store.(stamp.TokenWatcher))

	for _, via := range []string{"api", "store"} {
		made, err := env.client.CreateToken(ctx, CreateTokenRequest{Name: "ci-" + via, Role: stamp.RoleViewer})
		if err != nil {
			t.Fatal(err)
		}
		c := NewClient(env.url, made.Secret)
		eventually(t, "the token to be cached", func() bool {
			c.ListTenants(ctx)
			cached, _ := cache.get(HashToken(made.Secret))
			return cached != nil
		})
		if via == "api" {
			_, err = env.client.RevokeToken(ctx, made.Token.Name)
		} else {
			_, err = env.store.RevokeToken(ctx, made.Token.Name, time.Now())
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ListTenants(ctx); stamp.ErrorCode(err) != stamp.EUNAUTHORIZED {
			t.Errorf("revoked through the %s: got %v, want it refused", via, err)
		}
	}
}

// eventually polls cond for up to 5 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
