package reconcile

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bundle"
	sqliteengine "github.com/stamphq/stamp/engine/sqlite"
	"github.com/stamphq/stamp/store/sqlite"
)

// The executor's tests run a Reconciler, its worker pool and queue
// included, against a real SQLite store and the real SQLite engine; only
// the driver is a fake (fakeDriver), whose instances all serve at one
// loopback HTTP server of the test.

// shopBlueprint is the blueprint of each version of the test bundle.
const shopBlueprint = `name: shop
version: %s
databases:
  main: { engine: sqlite }
secrets:
  key: { generate: 16 }
services:
  web:
    command: [bin/shop, serve]
    port: 8080
    public: true
    env:
      DATABASE_URL: ${db.main.url}
      KEY: ${secret.key}
    health: { http: /healthz, interval: 1s, timeout: 2s }
hooks:
  migrate: [bin/shop, migrate]
  seed: [bin/shop, seed]
`

// waitLimit bounds every wait of these tests; generous, only so that a
// broken reconciler fails the test instead of hanging it.
const waitLimit = 20 * time.Second

type fixture struct {
	t   *testing.T
	ctx context.Context
	st  *sqlite.Store
	d   *fakeDriver
	dbs string // the engine's directory
	r   *Reconciler

	mu     sync.Mutex
	passes []string // "kind outcome" of each pass that took steps (Config.Observe)
	moved  []string // tenants Config.Moved was called for
}

// newFixture returns a fixture holding versions 1.0.0 and 2.0.0 of
// shop; its reconciler runs from start until the test ends.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureOf(t, func(d *fakeDriver) stamp.Driver { return d })
}

// newFixtureOf is newFixture whose reconciler drives what driver makes
// of the fixture's fake driver (the fake with a capability more).
func newFixtureOf(t *testing.T, driver func(*fakeDriver) stamp.Driver) *fixture {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "stamp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(app.Close)
	f := &fixture{t: t, ctx: ctx, st: st, d: newFakeDriver(strings.TrimPrefix(app.URL, "http://")), dbs: t.TempDir()}
	for _, v := range []string{"1.0.0", "2.0.0"} {
		f.push(v)
	}
	f.r = New(Config{
		Store: st, Driver: driver(f.d), Engines: map[string]stamp.Engine{"sqlite": sqliteengine.New(f.dbs)},
		URL:           func(tenant string) string { return "http://" + tenant + ".shop.test" },
		Holder:        "test",
		WatchInterval: 10 * time.Millisecond,
		Workers:       2,
		HealthTimeout: 5 * time.Second,
		DrainDelay:    time.Millisecond,
		Observe: func(kind, outcome string, _ time.Duration) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.passes = append(f.passes, kind+" "+outcome)
		},
		Moved: func(tenant string) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.moved = append(f.moved, tenant)
		},
	})
	return f
}

// push stores version v of shop, packed from a directory as the CLI does.
func (f *fixture) push(v string) {
	f.t.Helper()
	f.pushYAML(v, fmt.Sprintf(shopBlueprint, v))
}

// pushYAML stores version v of shop whose stamp.yaml is y.
func (f *fixture) pushYAML(v, y string) {
	f.t.Helper()
	dir := f.t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "stamp.yaml"), []byte(y), 0o644); err != nil {
		f.t.Fatal(err)
	}
	content, err := bundle.Pack(dir)
	if err != nil {
		f.t.Fatal(err)
	}
	b := &stamp.Bundle{Name: "shop", Version: v, Digest: bundle.Digest(content), Size: int64(len(content)), Content: content}
	if err := f.st.CreateBundle(f.ctx, b); err != nil {
		f.t.Fatal(err)
	}
}

// start runs the reconciler until the test ends. Tenants created before
// it are queued by its first resync only; one created after it may be
// queued twice, by that resync and by its tenant.created event, so that a
// failed first pass is tried again at once, not after its backoff.
func (f *fixture) start() {
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan error, 1)
	go func() { done <- f.r.Run(ctx) }()
	f.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			f.t.Errorf("Run: %v", err)
		}
	})
}

// create stores tenant name of shop@version, as the API does.
func (f *fixture) create(name, version string) {
	f.t.Helper()
	tn := &stamp.Tenant{Name: name, Generation: 1,
		Spec: stamp.TenantSpec{Blueprint: "shop", Version: version, Desired: stamp.DesiredRunning}}
	if err := f.st.CreateTenant(f.ctx, tn, &stamp.Event{Type: stamp.EventTenantCreated, Tenant: name, Generation: 1}); err != nil {
		f.t.Fatal(err)
	}
}

// change writes a new generation of tenant name, changed by change, with
// event, as the API does; the reconciler finds it in the event log.
func (f *fixture) change(name string, event string, change func(*stamp.Tenant)) {
	f.t.Helper()
	tn := f.tenant(name)
	change(tn)
	tn.Generation++
	if err := f.st.UpdateTenant(f.ctx, tn, &stamp.Event{Type: event, Tenant: name, Generation: tn.Generation}); err != nil {
		f.t.Fatal(err)
	}
	// Events of this kind do not queue a tenant by themselves (the API
	// enqueues it); tenant.deleting does.
	if event != stamp.EventTenantDeleting {
		f.r.Enqueue(name)
	}
}

func (f *fixture) tenant(name string) *stamp.Tenant {
	f.t.Helper()
	tn, err := f.st.GetTenant(f.ctx, name)
	if err != nil {
		f.t.Fatal(err)
	}
	return tn
}

// waitTenant waits until cond holds for the stored tenant name.
func (f *fixture) waitTenant(name, what string, cond func(*stamp.Tenant) bool) *stamp.Tenant {
	f.t.Helper()
	var tn *stamp.Tenant
	eventually(f.t, waitLimit, what, func() bool {
		tn = f.tenant(name)
		return cond(tn)
	})
	return tn
}

// events returns tenant name's events of type typ, oldest first; every
// event of the tenant with typ "".
func (f *fixture) events(name, typ string) []*stamp.Event {
	f.t.Helper()
	all, err := f.st.ListEvents(f.ctx, stamp.EventFilter{Tenant: name})
	if err != nil {
		f.t.Fatal(err)
	}
	var out []*stamp.Event
	for _, e := range all {
		if typ == "" || e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// stepsDone returns the steps tenant name's tenant.step events record as
// done, in order.
func (f *fixture) stepsDone(name string) []string {
	f.t.Helper()
	return f.stepsDoneSince(name, "")
}

// stepsDoneSince is stepsDone from tenant name's first event of type typ
// on; typ "" is from the first event.
func (f *fixture) stepsDoneSince(name, typ string) []string {
	f.t.Helper()
	var steps []string
	since := typ == ""
	for _, e := range f.events(name, "") {
		since = since || e.Type == typ
		if since && e.Type == stamp.EventStep && e.Status == stamp.StatusOK {
			steps = append(steps, e.Step)
		}
	}
	return steps
}

// observed returns "kind outcome" of every pass that took steps so far.
func (f *fixture) observed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.passes...)
}

// movedTenants returns the tenants Config.Moved was called for so far.
func (f *fixture) movedTenants() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.moved...)
}

// dbPath is the file of tenant's database main, made by the engine.
func (f *fixture) dbPath(tenant string) string {
	return filepath.Join(f.dbs, tenant, "main.db")
}

// notes returns the notes of the tenant database at url (sqlite:<path>),
// oldest first.
func notes(url string) ([]string, error) {
	var out []string
	err := withNotes(url, func(db *sql.DB) error {
		rows, err := db.Query("SELECT body FROM notes ORDER BY rowid")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				return err
			}
			out = append(out, s)
		}
		return rows.Err()
	})
	return out, err
}

// addNote adds body to the notes of the tenant database at url.
func addNote(url, body string) error {
	return withNotes(url, func(db *sql.DB) error {
		_, err := db.Exec("INSERT INTO notes (body) VALUES (?)", body)
		return err
	})
}

// withNotes opens the tenant database at url, makes its notes table if
// missing and calls use; the database is closed when use returns. It
// reports errors rather than failing a test: hooks call it from the
// reconciler's goroutines.
func withNotes(url string, use func(*sql.DB) error) error {
	path, ok := strings.CutPrefix(url, "sqlite:")
	if !ok {
		return fmt.Errorf("database URL %q is not sqlite:<path>", url)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE IF NOT EXISTS notes (body TEXT NOT NULL)"); err != nil {
		return fmt.Errorf("notes of %s: %w", path, err)
	}
	if err := use(db); err != nil {
		return fmt.Errorf("notes of %s: %w", path, err)
	}
	return nil
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
		time.Sleep(5 * time.Millisecond)
	}
}
