package httpapi

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/keyring"
	"github.com/stamphq/stamp/store/sealed"
)

func TestRotateKeys(t *testing.T) {
	ctx := context.Background()
	wantError(t, func() error { _, err := newTestEnv(t).client.RotateKeys(ctx); return err }(),
		stamp.EUNAVAILABLE, "this server does not encrypt secrets, so it has no key to rotate")

	ring, _, err := keyring.OpenFile(filepath.Join(t.TempDir(), "master.key"), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	old := ring.ActiveID()
	env := newTestEnv(t, func(c *Config) {
		// newTestEnv's store is a whole stamp.Store, Close included.
		keys := sealed.New(c.Store.(stamp.Store), ring)
		c.Store, c.Keys = keys, keys
	})
	if err := env.store.CreateTenant(ctx, &stamp.Tenant{Name: "acme", Spec: stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0", Plan: "starter"}}); err != nil {
		t.Fatal(err)
	}
	if err := env.store.PutSecrets(ctx, "acme", map[string]string{"session_key": "s3cr3t-value"}); err != nil {
		t.Fatal(err)
	}
	rot, err := env.client.RotateKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rot.Generated || rot.ActiveKey == old || rot.Resealed != 1 || rot.Total != 1 || len(rot.Retired) != 1 || rot.Retired[0] != old {
		t.Errorf("rotation: %+v", rot)
	}
	events, err := env.client.Events(ctx, stamp.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Type != stamp.EventKeysRotated || events[0].Message != rot.Summary() {
		t.Fatalf("events: %+v; want one %s", events, stamp.EventKeysRotated)
	}
	if want := "1 of 1 secrets resealed under key " + rot.ActiveKey + "; retired key " + old; events[0].Message != want {
		t.Errorf("event message %q; want %q", events[0].Message, want)
	}
	env.logs.mu.Lock()
	defer env.logs.mu.Unlock()
	if strings.Contains(env.logs.buf.String(), "s3cr3t") {
		t.Error("the API's log holds the secret")
	}
}
