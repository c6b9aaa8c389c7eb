package sealed

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/keyring"
	"github.com/stamphq/stamp/store/postgres"
	"github.com/stamphq/stamp/store/sqlite"
	"github.com/stamphq/stamp/store/storetest"
)

// backends opens a new, empty store of each kind; PostgreSQL's only with
// STAMP_TEST_POSTGRES set.
var backends = []struct {
	name string
	open func(tb testing.TB) stamp.Store
}{
	{"sqlite", openSQLite},
	{"postgres", openPostgres},
}

func openSQLite(t testing.TB) stamp.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "stamp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var databases atomic.Int64

func openPostgres(t testing.TB) stamp.Store {
	t.Helper()
	admin := os.Getenv("STAMP_TEST_POSTGRES")
	if admin == "" {
		t.Skip("STAMP_TEST_POSTGRES is not set: run ./scripts/test, or scripts/postgres start DIR and export the URL it prints")
	}
	ctx := context.Background()
	name := fmt.Sprintf("stamp_sealed_%d_%d", os.Getpid(), databases.Add(1))
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to the test cluster: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	s, err := postgres.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("connect to the test cluster: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	return s
}

// forEachStore runs fn against a new store of each kind.
func forEachStore(t *testing.T, fn func(t *testing.T, raw stamp.Store)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b.open(t)) })
	}
}

func fileRing(t *testing.T, path string) *keyring.Ring {
	t.Helper()
	r, _, err := keyring.OpenFile(path, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newKeyText(t *testing.T) string {
	t.Helper()
	b := make([]byte, keyring.KeySize)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func envRing(t *testing.T, keys ...string) *keyring.Ring {
	t.Helper()
	r, err := keyring.Parse(strings.Join(keys, ","))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustCreateTenant(t *testing.T, s stamp.Store, name string) {
	t.Helper()
	err := s.CreateTenant(context.Background(), &stamp.Tenant{Name: name, Spec: stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0", Plan: "starter"}})
	if err != nil {
		t.Fatal(err)
	}
}

func mustPut(t *testing.T, s stamp.Store, tenant string, secrets map[string]string) {
	t.Helper()
	if err := s.PutSecrets(context.Background(), tenant, secrets); err != nil {
		t.Fatal(err)
	}
}

func mustSecrets(t *testing.T, s stamp.Store, tenant string) map[string]string {
	t.Helper()
	got, err := s.Secrets(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// The sealed store is a stamp.Store like any other.
func TestConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) stamp.Store {
				return New(b.open(t), envRing(t, newKeyText(t)))
			})
		})
	}
}

func TestSecretsAreSealedAtRest(t *testing.T) {
	forEachStore(t, func(t *testing.T, raw stamp.Store) {
		ctx := context.Background()
		s := New(raw, envRing(t, newKeyText(t)))
		mustCreateTenant(t, s, "acme")
		want := map[string]string{"session_key": "session-key-value-1", "db.main.password": "db-password-value-1"}
		mustPut(t, s, "acme", want)
		hook := &stamp.Webhook{ID: "wh-1", URL: "https://example.com/h", Events: []string{"tenant.*"}, Secret: "webhook-secret-value"}
		if err := s.CreateWebhook(ctx, hook); err != nil {
			t.Fatal(err)
		}
		if hook.Secret != "webhook-secret-value" || hook.ResourceVersion != 1 || hook.CreatedAt.IsZero() {
			t.Errorf("webhook after create: %+v", hook)
		}

		for name, v := range mustSecrets(t, raw, "acme") {
			if id, ok := keyring.SealedBy(v); !ok || id != s.ring.ActiveID() || strings.Contains(v, want[name]) {
				t.Errorf("stored %s = %q; want it sealed under %s", name, v, s.ring.ActiveID())
			}
		}
		if got := mustSecrets(t, s, "acme"); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Secrets = %v; want %v", got, want)
		}
		stored, err := raw.GetWebhook(ctx, "wh-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := keyring.SealedBy(stored.Secret); !ok {
			t.Errorf("stored webhook secret %q is not sealed", stored.Secret)
		}
		hook.Failures = 2
		if err := s.UpdateWebhook(ctx, hook); err != nil || hook.ResourceVersion != 2 || hook.Secret != "webhook-secret-value" {
			t.Fatalf("UpdateWebhook: %v, %+v", err, hook)
		}
		list, err := s.ListWebhooks(ctx)
		if err != nil || len(list) != 1 || list[0].Secret != "webhook-secret-value" || list[0].Failures != 2 {
			t.Errorf("ListWebhooks = %+v, %v", list, err)
		}
	})
}

func TestClearValuesReadAndAreSealedAtStart(t *testing.T) {
	forEachStore(t, func(t *testing.T, raw stamp.Store) {
		ctx := context.Background()
		mustCreateTenant(t, raw, "acme")
		mustPut(t, raw, "acme", map[string]string{"session_key": "clear-from-before"})
		if err := raw.CreateWebhook(ctx, &stamp.Webhook{ID: "wh-1", URL: "https://example.com/h", Events: []string{"*"}, Secret: "clear-hook"}); err != nil {
			t.Fatal(err)
		}
		s := New(raw, envRing(t, newKeyText(t)))
		if got := mustSecrets(t, s, "acme")["session_key"]; got != "clear-from-before" {
			t.Errorf("a clear value reads %q", got)
		}
		n, err := s.SealClear(ctx)
		if err != nil || n != 2 {
			t.Fatalf("SealClear = %d, %v; want 2 sealed", n, err)
		}
		if v := mustSecrets(t, raw, "acme")["session_key"]; strings.Contains(v, "clear-from-before") {
			t.Errorf("stored after SealClear: %q", v)
		}
		if got := mustSecrets(t, s, "acme")["session_key"]; got != "clear-from-before" {
			t.Errorf("after SealClear the value reads %q", got)
		}
		w, err := s.GetWebhook(ctx, "wh-1")
		if err != nil || w.Secret != "clear-hook" {
			t.Errorf("webhook after SealClear: %+v, %v", w, err)
		}
		if n, err := s.SealClear(ctx); err != nil || n != 0 {
			t.Errorf("SealClear again = %d, %v; want 0", n, err)
		}
	})
}

func TestValuesThatDoNotOpen(t *testing.T) {
	forEachStore(t, func(t *testing.T, raw stamp.Store) {
		ctx := context.Background()
		s := New(raw, envRing(t, newKeyText(t)))
		mustCreateTenant(t, s, "acme")
		mustPut(t, s, "acme", map[string]string{"a": "value-of-a", "b": "value-of-b"})

		other := New(raw, envRing(t, newKeyText(t)))
		_, err := other.Secrets(ctx, "acme")
		if !errors.Is(err, keyring.ErrUnknownKey) || !strings.Contains(err.Error(), "of tenant acme") {
			t.Errorf("Secrets under another key: %v", err)
		}
		if _, err := other.SealClear(ctx); err == nil || !strings.Contains(err.Error(), s.ring.ActiveID()) {
			t.Errorf("SealClear with the wrong key: %v; want it to name key %s", err, s.ring.ActiveID())
		}

		// Swapping two sealed values in the store does not pass.
		stored := mustSecrets(t, raw, "acme")
		mustPut(t, raw, "acme", map[string]string{"a": stored["b"], "b": stored["a"]})
		_, err = s.Secrets(ctx, "acme")
		if !errors.Is(err, keyring.ErrTampered) || !strings.Contains(err.Error(), "of tenant acme") {
			t.Errorf("Secrets after swapping values: %v", err)
		}
		for _, v := range []string{"value-of-a", "value-of-b"} {
			if err != nil && strings.Contains(err.Error(), v) {
				t.Errorf("error %q shows a value", err)
			}
		}
	})
}

// TestRotateKeys rotates the key of a key file with two servers sharing
// it and the store, while both read secrets all along: no read fails,
// every value is resealed under the new key, and the old key leaves the
// file.
func TestRotateKeys(t *testing.T) {
	forEachStore(t, func(t *testing.T, raw stamp.Store) {
		ctx := context.Background()
		path := filepath.Join(t.TempDir(), "master.key")
		a, b := New(raw, fileRing(t, path)), New(raw, fileRing(t, path))
		old := a.ring.ActiveID()
		want := map[string]map[string]string{}
		for i := range 20 {
			name := fmt.Sprintf("t%02d", i)
			mustCreateTenant(t, a, name)
			want[name] = map[string]string{"session_key": "key-of-" + name, "db.main.password": "pw-of-" + name}
			mustPut(t, a, name, want[name])
		}
		if err := a.CreateWebhook(ctx, &stamp.Webhook{ID: "wh-1", URL: "https://example.com/h", Events: []string{"*"}, Secret: "hook-secret"}); err != nil {
			t.Fatal(err)
		}

		stop := make(chan struct{})
		var wg sync.WaitGroup
		stopReads := sync.OnceFunc(func() { close(stop); wg.Wait() })
		defer stopReads()
		var reads atomic.Int64
		// waitReads waits for n more reads: the rotation must meet reads
		// under way, and reads must go on after it.
		waitReads := func(n int64) {
			target := reads.Load() + n
			eventually(t, 10*time.Second, fmt.Sprintf("%d more reads", n), func() bool { return reads.Load() >= target })
		}
		for _, s := range []*Store{a, b} {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					for name, w := range want {
						got, err := s.Secrets(ctx, name)
						if err != nil {
							t.Errorf("read during the rotation: %v", err)
							return
						}
						if got["session_key"] != w["session_key"] {
							t.Errorf("read during the rotation: %s session_key %q", name, got["session_key"])
						}
						reads.Add(1)
					}
				}
			})
		}
		waitReads(int64(2 * len(want)))
		rot, err := a.RotateKeys(ctx)
		waitReads(int64(2 * len(want)))
		stopReads()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d reads during the rotation", reads.Load())
		if !rot.Generated || rot.ActiveKey == old || rot.Resealed != 41 || rot.Total != 41 || fmt.Sprint(rot.Retired) != "["+old+"]" {
			t.Errorf("rotation: %+v; want a new key, 41 resealed, %s retired", rot, old)
		}
		for name, v := range mustSecrets(t, raw, "t07") {
			if id, _ := keyring.SealedBy(v); id != rot.ActiveKey {
				t.Errorf("t07's %s is sealed under %s after the rotation; want %s", name, id, rot.ActiveKey)
			}
		}
		fresh := New(raw, fileRing(t, path))
		if ids := fresh.ring.IDs(); fmt.Sprint(ids) != "["+rot.ActiveKey+"]" {
			t.Errorf("key file after the rotation holds %v", ids)
		}
		for name, w := range want {
			if got := mustSecrets(t, fresh, name); fmt.Sprint(got) != fmt.Sprint(w) {
				t.Errorf("%s after the rotation: %v; want %v", name, got, w)
			}
		}
		if w, err := fresh.GetWebhook(ctx, "wh-1"); err != nil || w.Secret != "hook-secret" {
			t.Errorf("webhook after the rotation: %+v, %v", w, err)
		}
		if n, err := fresh.SealClear(ctx); err != nil || n != 0 {
			t.Errorf("SealClear after the rotation = %d, %v", n, err)
		}
	})
}

// TestRotateKeysFromTheEnvironment: with STAMP_MASTER_KEY="new,old" a
// rotation reseals under the new key and names the old one as unused.
func TestRotateKeysFromTheEnvironment(t *testing.T) {
	forEachStore(t, func(t *testing.T, raw stamp.Store) {
		oldKey, newKey := newKeyText(t), newKeyText(t)
		before := New(raw, envRing(t, oldKey))
		mustCreateTenant(t, before, "acme")
		mustPut(t, before, "acme", map[string]string{"session_key": "v1"})
		mustPut(t, raw, "acme", map[string]string{"legacy": "clear-value"})

		s := New(raw, envRing(t, newKey, oldKey))
		rot, err := s.RotateKeys(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		ids := s.ring.IDs()
		if rot.Generated || rot.ActiveKey != ids[0] || rot.Resealed != 2 || fmt.Sprint(rot.Unused) != "["+ids[1]+"]" || rot.Retired != nil {
			t.Errorf("rotation: %+v; want 2 resealed under %s, %s unused", rot, ids[0], ids[1])
		}
		after := New(raw, envRing(t, newKey))
		if got := mustSecrets(t, after, "acme"); got["session_key"] != "v1" || got["legacy"] != "clear-value" {
			t.Errorf("secrets under the new key alone: %v", got)
		}
	})
}

func TestOneRotationAtATime(t *testing.T) {
	raw := openSQLite(t)
	s := New(raw, fileRing(t, filepath.Join(t.TempDir(), "master.key")))
	if ok, err := raw.TryLease(context.Background(), rotateLease, "another-server", time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	before, _ := os.ReadFile(s.ring.Path())
	_, err := s.RotateKeys(context.Background())
	if stamp.ErrorCode(err) != stamp.ECONFLICT {
		t.Errorf("rotation while another runs: %v; want ECONFLICT", err)
	}
	if after, _ := os.ReadFile(s.ring.Path()); !bytes.Equal(before, after) {
		t.Error("a refused rotation changed the key file")
	}
}

// BenchmarkSealClear is the check every start makes: 1,000 tenants with
// two sealed secrets each, nothing left in clear.
func BenchmarkSealClear(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			ctx := context.Background()
			ring, err := keyring.New(bytes.Repeat([]byte{1}, keyring.KeySize))
			if err != nil {
				b.Fatal(err)
			}
			s := New(be.open(b), ring)
			fillTenants(b, s, 1000)
			for b.Loop() {
				if n, err := s.SealClear(ctx); err != nil || n != 0 {
					b.Fatal(n, err)
				}
			}
		})
	}
}

// BenchmarkRotateKeys rotates the key of 1,000 tenants with two secrets
// each: 2,000 values resealed and written.
func BenchmarkRotateKeys(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			ring, _, err := keyring.OpenFile(filepath.Join(b.TempDir(), "master.key"), rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			s := New(be.open(b), ring)
			fillTenants(b, s, 1000)
			for b.Loop() {
				if rot, err := s.RotateKeys(context.Background()); err != nil || rot.Resealed != 2000 {
					b.Fatal(rot, err)
				}
			}
		})
	}
}

// fillTenants stores n tenants with two secrets each.
func fillTenants(b *testing.B, s stamp.Store, n int) {
	ctx := context.Background()
	for i := range n {
		name := fmt.Sprintf("t%04d", i)
		if err := s.CreateTenant(ctx, &stamp.Tenant{Name: name, Spec: stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0", Plan: "starter"}}); err != nil {
			b.Fatal(err)
		}
		if err := s.PutSecrets(ctx, name, map[string]string{"session_key": "k-" + name, "db.main.password": "pw-" + name}); err != nil {
			b.Fatal(err)
		}
	}
}

var (
	_ Compactor = (*sqlite.Store)(nil)
	_ Compactor = (*postgres.Store)(nil)
)

// Once SealClear has sealed clear values, no copy of them is left in the
// SQLite file or its write-ahead log (free pages, old frames).
func TestSealClearLeavesNoClearCopy(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "stamp.db")
	raw, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	clear := map[string]string{}
	for i := range 50 {
		name := fmt.Sprintf("t%02d", i)
		mustCreateTenant(t, raw, name)
		clear[name] = fmt.Sprintf("clear-secret-%02d-from-before", i)
		mustPut(t, raw, name, map[string]string{"session_key": clear[name]})
	}
	s := New(raw, envRing(t, newKeyText(t)))
	if n, err := s.SealClear(ctx); err != nil || n != 50 {
		t.Fatalf("SealClear = %d, %v", n, err)
	}
	for _, f := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("-from-before")) {
			t.Errorf("%s still holds a clear value", filepath.Base(f))
		}
	}
	if got := mustSecrets(t, s, "t07")["session_key"]; got != clear["t07"] {
		t.Errorf("t07's session_key after SealClear: %q", got)
	}
}

// A rotation meeting a value that does not open stops, naming it, and
// leaves every value opening as before: the old key stays in the file.
func TestRotationStopsAtAValueThatDoesNotOpen(t *testing.T) {
	ctx := context.Background()
	raw := openSQLite(t)
	s := New(raw, fileRing(t, filepath.Join(t.TempDir(), "master.key")))
	old := s.ring.ActiveID()
	mustCreateTenant(t, s, "acme")
	mustPut(t, s, "acme", map[string]string{"a": "value-of-a", "b": "value-of-b"})
	mustCreateTenant(t, s, "globex")
	mustPut(t, s, "globex", map[string]string{"a": "globex-a"})
	stored := mustSecrets(t, raw, "acme")
	mustPut(t, raw, "acme", map[string]string{"a": stored["b"], "b": stored["a"]})

	_, err := s.RotateKeys(ctx)
	if stamp.ErrorCode(err) != stamp.EUNPROCESSABLE || !strings.Contains(stamp.ErrorMessage(err), "of tenant acme does not open") {
		t.Fatalf("rotation over a swapped value: %v", err)
	}
	if strings.Contains(err.Error(), "value-of") {
		t.Errorf("error %q shows a value", err)
	}
	if ids := s.ring.IDs(); len(ids) != 2 || ids[1] != old {
		t.Errorf("keys after the stopped rotation: %v; want the new one and %s", ids, old)
	}
	if got := mustSecrets(t, s, "globex")["a"]; got != "globex-a" {
		t.Errorf("globex's secret after the stopped rotation: %q", got)
	}
}

// eventually waits until cond holds, polling it, and fails the test if
// it does not within timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", timeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}
