package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/internal/sqlstore"
	"github.com/stamphq/stamp/store/storetest"
)

// serverURL returns the superuser URL of the test cluster, or skips.
func serverURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("STAMP_TEST_POSTGRES")
	if u == "" {
		tb.Skip("STAMP_TEST_POSTGRES is not set: run ./scripts/test, or scripts/postgres start DIR and export the URL it prints")
	}
	return u
}

var databases atomic.Int64

// newDatabase creates an empty database on the test cluster, dropped when
// the test ends, and returns its URL.
func newDatabase(tb testing.TB) string {
	tb.Helper()
	admin := serverURL(tb)
	name := fmt.Sprintf("stamp_test_%d_%d", os.Getpid(), databases.Add(1))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("connect to the test cluster: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			tb.Errorf("connect to the test cluster: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop test database: %v", err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func openStore(tb testing.TB, url string) *Store {
	tb.Helper()
	s, err := Open(context.Background(), url)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) stamp.Store {
		return openStore(t, newDatabase(t))
	})
}

// appliedMigrations returns the schema_migrations rows as "version@applied_at".
func appliedMigrations(t *testing.T, s *Store) []string {
	t.Helper()
	rows, _ := s.pool.Query(t.Context(), `SELECT version, applied_at FROM schema_migrations ORDER BY version`)
	applied, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (string, error) {
		var version int
		var at time.Time
		err := row.Scan(&version, &at)
		return fmt.Sprintf("%d@%s", version, at.Format(time.RFC3339Nano)), err
	})
	if err != nil {
		t.Fatal(err)
	}
	return applied
}

func TestReopen(t *testing.T) {
	db := newDatabase(t)
	s, err := Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	tenant := &stamp.Tenant{Name: "acme", Spec: stamp.TenantSpec{Blueprint: "ledger", Plan: "starter"}}
	if err := s.CreateTenant(t.Context(), tenant); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSecrets(t.Context(), "acme", map[string]string{"session_key": "k"}); err != nil {
		t.Fatal(err)
	}
	first := appliedMigrations(t, s)
	ms, err := sqlstore.Migrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != len(ms) {
		t.Fatalf("applied migrations: got %v, want %d", first, len(ms))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, db)
	if got := appliedMigrations(t, s); !slices.Equal(got, first) {
		t.Errorf("applied migrations after reopening: got %v, want %v unchanged", got, first)
	}
	got, err := s.GetTenant(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.Plan != "starter" || !got.CreatedAt.Equal(tenant.CreatedAt) {
		t.Errorf("tenant after reopening: got %+v, want %+v", got, tenant)
	}
	secrets, err := s.Secrets(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if secrets["session_key"] != "k" {
		t.Errorf("secret after reopening: got %q, want %q", secrets["session_key"], "k")
	}
}

// rollBack runs undo on the store's database to take its schema back to
// before migration version, and forgets that migration and every later one.
func rollBack(t *testing.T, s *Store, version int, undo ...string) {
	t.Helper()
	for _, q := range append(undo, fmt.Sprintf(`DELETE FROM schema_migrations WHERE version >= %d`, version)) {
		if _, err := s.pool.Exec(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// undoTenantUID undoes migration 5.
var undoTenantUID = []string{
	`ALTER TABLE tenants DROP COLUMN uid`, // and its index
}

// undoWebhooks undoes migration 4.
var undoWebhooks = []string{
	`DROP TABLE webhook_attempts`, // and its index
	`DROP TABLE webhooks`,
}

// undoIncidents undoes migration 3.
var undoIncidents = []string{
	`ALTER TABLE events DROP COLUMN incident`,
	`DROP TABLE incidents`, // and its indexes
}

// TestMigrateReleasesKeepsEvents takes a database back to the schema
// before releases (migration 2), with events in its log, and reopens it:
// the migrations add the release and incident columns to the existing
// rows, empty.
func TestMigrateReleasesKeepsEvents(t *testing.T) {
	db := newDatabase(t)
	s, err := Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	old := &stamp.Event{Type: stamp.EventTenantReady, Tenant: "acme", Message: "before releases"}
	if err := s.AppendEvents(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	rollBack(t, s, 2, slices.Concat(undoTenantCounts, undoFlow, undoAuditDeliveries, undoAudit, undoTokenRoles, undoTenantRuntime, undoActivity, undoBundleYanks, undoTenantUID, undoWebhooks, undoIncidents, []string{
		`ALTER TABLE events DROP COLUMN release`, // and its index
		`DROP TABLE releases`,
	})...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, db)
	got, err := s.ListEvents(t.Context(), stamp.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Seq != old.Seq || got[0].Message != old.Message || got[0].Release != "" || got[0].Incident != "" {
		t.Fatalf("events after migrating: got %+v, want the one event %+v with no release nor incident", got, old)
	}
	r := &stamp.Release{ID: "r1"}
	if err := s.CreateRelease(t.Context(), r); err != nil {
		t.Fatalf("CreateRelease after migrating: %v", err)
	}
	e := &stamp.Event{Type: stamp.EventReleaseCreated, Release: "r1"}
	if err := s.AppendEvents(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	got, err = s.ListEvents(t.Context(), stamp.EventFilter{Release: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Seq != e.Seq {
		t.Errorf("events of r1 after migrating: got %+v, want the one event %+v", got, e)
	}
}

// TestMigrateIncidentsKeepsEvents takes a database back to the schema
// before incidents (migration 3), with events in its log, and reopens it:
// the migration adds the incident column to the existing rows, empty, and
// keeps the rest of them.
func TestMigrateIncidentsKeepsEvents(t *testing.T) {
	db := newDatabase(t)
	s, err := Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	old := &stamp.Event{Type: stamp.EventReleaseTenant, Tenant: "acme", Release: "r1", Message: "before incidents"}
	if err := s.AppendEvents(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	rollBack(t, s, 3, slices.Concat(undoTenantCounts, undoFlow, undoAuditDeliveries, undoAudit, undoTokenRoles, undoTenantRuntime, undoActivity, undoBundleYanks, undoTenantUID, undoWebhooks, undoIncidents)...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, db)
	got, err := s.ListEvents(t.Context(), stamp.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Seq != old.Seq || got[0].Release != "r1" || got[0].Message != old.Message || got[0].Incident != "" {
		t.Fatalf("events after migrating: got %+v, want the one event %+v with no incident", got, old)
	}
	i := &stamp.Incident{ID: "i1", Tenant: "acme", State: stamp.IncidentOpen, OpenedAt: time.Now()}
	if err := s.CreateIncident(t.Context(), i); err != nil {
		t.Fatalf("CreateIncident after migrating: %v", err)
	}
	if open, err := s.ListIncidents(t.Context(), stamp.IncidentFilter{Tenant: "acme", Open: true}); err != nil || len(open) != 1 {
		t.Errorf("open incidents of acme after migrating: got %d, %v; want 1", len(open), err)
	}
	e := &stamp.Event{Type: stamp.EventIncidentOpened, Tenant: "acme", Incident: "i1"}
	if err := s.AppendEvents(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	got, err = s.ListEvents(t.Context(), stamp.EventFilter{AfterSeq: old.Seq})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Seq != e.Seq || got[0].Incident != "i1" {
		t.Errorf("events after the migrated one: got %+v, want the one event %+v of incident i1", got, e)
	}
}

// TestMigrateWebhooksKeepsData takes a database back to the schema before
// webhooks (migration 4), with a tenant, an incident and events in it,
// and reopens it: the migration adds the webhook tables, keeps the rest,
// and the attempts' foreign key holds from the start.
func TestMigrateWebhooksKeepsData(t *testing.T) {
	db := newDatabase(t)
	s, err := Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTenant(t.Context(), &stamp.Tenant{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateIncident(t.Context(), &stamp.Incident{ID: "i1", Tenant: "acme", State: stamp.IncidentOpen, OpenedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	old := &stamp.Event{Type: stamp.EventIncidentOpened, Tenant: "acme", Incident: "i1", Message: "before webhooks"}
	if err := s.AppendEvents(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	rollBack(t, s, 4, slices.Concat(undoTenantCounts, undoFlow, undoAuditDeliveries, undoAudit, undoTokenRoles, undoTenantRuntime, undoActivity, undoBundleYanks, undoTenantUID, undoWebhooks)...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, db)
	got, err := s.ListEvents(t.Context(), stamp.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Seq != old.Seq || got[0].Incident != "i1" || got[0].Message != old.Message {
		t.Fatalf("events after migrating: got %+v, want the one event %+v", got, old)
	}
	if _, err := s.GetTenant(t.Context(), "acme"); err != nil {
		t.Errorf("GetTenant after migrating: %v", err)
	}
	if _, err := s.GetIncident(t.Context(), "i1"); err != nil {
		t.Errorf("GetIncident after migrating: %v", err)
	}
	if err := s.CreateWebhook(t.Context(), &stamp.Webhook{ID: "w1", URL: "http://127.0.0.1:9/"}); err != nil {
		t.Fatalf("CreateWebhook after migrating: %v", err)
	}
	if err := s.AppendDeliveryAttempt(t.Context(), &stamp.DeliveryAttempt{Webhook: "w1", EventSeq: old.Seq, Attempt: 1}); err != nil {
		t.Fatalf("AppendDeliveryAttempt after migrating: %v", err)
	}
	err = s.AppendDeliveryAttempt(t.Context(), &stamp.DeliveryAttempt{Webhook: "w2", EventSeq: old.Seq, Attempt: 1})
	if code := stamp.ErrorCode(err); code != stamp.ENOTFOUND {
		t.Errorf("AppendDeliveryAttempt of a missing webhook after migrating: got code %q (%v), want %q", code, err, stamp.ENOTFOUND)
	}
	if err := s.DeleteWebhook(t.Context(), "w1"); err != nil {
		t.Fatalf("DeleteWebhook after migrating: %v", err)
	}
	var orphans int
	if err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM webhook_attempts`).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	if orphans != 0 {
		t.Errorf("attempts left after deleting their webhook: got %d, want 0", orphans)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	db := newDatabase(t)
	s, err := Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO schema_migrations (version) VALUES (999)`); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(t.Context(), db)
	if err == nil {
		s.Close()
		t.Fatal("Open of a database from a newer stamp succeeded")
	}
	ms, err2 := sqlstore.Migrations(migrationFiles)
	if err2 != nil {
		t.Fatal(err2)
	}
	want := fmt.Sprintf("the database has schema version 999 but this stamp binary knows only up to version %d: it was written by a newer stamp", len(ms))
	if !strings.Contains(err.Error(), want) {
		t.Errorf("got %q, want it to contain %q", err, want)
	}
	var e *stamp.Error
	if errors.As(err, &e) {
		t.Errorf("got a *stamp.Error (%q), want an internal error", err)
	}
}

// TestConcurrentOpen starts several servers at once on a fresh database:
// the migration lock makes them take turns instead of racing to create the
// same tables.
func TestConcurrentOpen(t *testing.T) {
	db := newDatabase(t)
	const servers = 4
	stores := make([]*Store, servers)
	errs := make([]error, servers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range servers {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = Open(t.Context(), db)
		})
	}
	close(start)
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Errorf("Open %d: %v", i, errs[i])
			continue
		}
		t.Cleanup(func() { s.Close() })
	}
	if t.Failed() {
		return
	}
	ms, err := sqlstore.Migrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	if got := appliedMigrations(t, stores[0]); len(got) != len(ms) {
		t.Errorf("applied migrations: got %v, want %d", got, len(ms))
	}
	if err := stores[1].CreateTenant(t.Context(), &stamp.Tenant{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
}

// silentServer accepts connections and never answers, like a server behind
// a firewall that drops packets, and returns its port.
func silentServer(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return // closed
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().(*net.TCPAddr).Port
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func TestOpenErrors(t *testing.T) {
	admin, err := url.Parse(serverURL(t))
	if err != nil {
		t.Fatal(err)
	}
	password, _ := admin.User.Password()
	const wrongPassword = "not-the-password-7Kq2"
	at := func(port string, password string, path string, query string) string {
		u := *admin
		u.Host = "127.0.0.1:" + port
		u.User = url.UserPassword(admin.User.Username(), password)
		u.Path = path
		u.RawQuery = query
		return u.String()
	}
	silent, closed := fmt.Sprint(silentServer(t)), fmt.Sprint(closedPort(t))
	tests := []struct {
		name, url, want string
	}{
		{"wrong password", at(admin.Port(), wrongPassword, admin.Path, admin.RawQuery),
			"connect to PostgreSQL at 127.0.0.1:" + admin.Port() + ` as postgres: password authentication failed for user "postgres"`},
		{"missing database", at(admin.Port(), password, "/nosuchdb", admin.RawQuery),
			"connect to PostgreSQL at 127.0.0.1:" + admin.Port() + ` as postgres: database "nosuchdb" does not exist`},
		{"closed port", at(closed, password, admin.Path, admin.RawQuery),
			"connect to PostgreSQL at 127.0.0.1:" + closed + " as postgres: connect: connection refused"},
		{"silent server, connect_timeout", at(silent, password, admin.Path, "sslmode=disable&connect_timeout=1"),
			"connect to PostgreSQL at 127.0.0.1:" + silent + " as postgres: no answer within 1s"},
		{"silent server, default timeout", at(silent, password, admin.Path, "sslmode=disable"),
			"connect to PostgreSQL at 127.0.0.1:" + silent + " as postgres: no answer within 5s"},
		{"bad URL", at(admin.Port(), password, admin.Path, "sslmode=sometimes"),
			"parse PostgreSQL URL: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Only a guard against hanging: the timeouts under test are shorter.
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			s, err := Open(ctx, tt.url)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tt.want) {
				t.Errorf("got %q, want it to start with %q", msg, tt.want)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("got %q, want one line", msg)
			}
			for _, p := range []string{password, wrongPassword} {
				if strings.Contains(msg, p) {
					t.Errorf("got %q, which shows a password", msg)
				}
			}
			if code := stamp.ErrorCode(err); code != stamp.EINTERNAL {
				t.Errorf("got code %q, want %q", code, stamp.EINTERNAL)
			}
		})
	}
}

func TestOpenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := Open(ctx, serverURL(t))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want it to wrap context.Canceled", err)
	}
}

// TestAppendOrder has appenders race while a watcher follows the log by
// AfterSeq, as the router and the reconciler do. If a higher Seq became
// visible before a lower one, the watcher would move past the lower one
// and never see it. The appenders use several stores, as several servers
// would, since appends of one store also take turns in the process.
func TestAppendOrder(t *testing.T) {
	db := newDatabase(t)
	const servers = 8
	var stores [servers]*Store
	for i := range stores {
		stores[i] = openStore(t, db)
	}
	s := stores[0]
	const appenders, calls = 16, 100
	appended := make([][]int64, appenders)
	errs := make([]error, appenders)
	var wg sync.WaitGroup
	for a := range appenders {
		wg.Go(func() {
			for c := range calls {
				events := make([]*stamp.Event, 1+c%3)
				for i := range events {
					events[i] = &stamp.Event{Type: stamp.EventStep, Tenant: fmt.Sprintf("t%d", a), Message: fmt.Sprintf("%d/%d", c, i)}
				}
				if err := stores[a%servers].AppendEvents(t.Context(), events...); err != nil {
					errs[a] = err
					return
				}
				for _, e := range events {
					appended[a] = append(appended[a], e.Seq)
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	var seen []int64
	var last int64
	poll := func() {
		t.Helper()
		events, err := s.ListEvents(t.Context(), stamp.EventFilter{AfterSeq: last, Limit: sqlstore.EventLimit.Max})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			seen = append(seen, e.Seq)
			last = e.Seq
		}
	}
	polls := 0
	for watching := true; watching; polls++ {
		select {
		case <-done:
			watching = false
		default:
		}
		poll() // once more after the appenders finished
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	var all []int64
	for _, seqs := range appended {
		all = append(all, seqs...)
	}
	slices.Sort(all)
	if missed := len(all) - len(seen); missed != 0 || !slices.Equal(seen, all) {
		t.Errorf("the watcher saw %d of %d events in %d polls; it skipped seqs committed after a higher one", len(seen), len(all), polls)
	}
	if seq, err := s.LastEventSeq(t.Context()); err != nil || seq != all[len(all)-1] {
		t.Errorf("LastEventSeq = %d, %v; want %d", seq, err, all[len(all)-1])
	}
}

func TestPutSecretsOfMissingTenant(t *testing.T) {
	s := openStore(t, newDatabase(t))
	for _, secrets := range []map[string]string{{"k": "v"}, nil} {
		err := s.PutSecrets(t.Context(), "acme", secrets)
		if code := stamp.ErrorCode(err); code != stamp.ENOTFOUND {
			t.Fatalf("PutSecrets(%v): got code %q (%v), want %q", secrets, code, err, stamp.ENOTFOUND)
		}
		if got, want := err.Error(), `tenant "acme" does not exist`; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestListEventsLimits(t *testing.T) {
	s := openStore(t, newDatabase(t))
	events := make([]*stamp.Event, sqlstore.EventLimit.Max+1)
	for i := range events {
		events[i] = &stamp.Event{Type: stamp.EventStep, Message: fmt.Sprint(i)}
	}
	if err := s.AppendEvents(t.Context(), events...); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		limit, want int
	}{
		{0, sqlstore.EventLimit.Default},
		{5, 5},
		{sqlstore.EventLimit.Max, sqlstore.EventLimit.Max},
		{sqlstore.EventLimit.Max + 1, sqlstore.EventLimit.Max},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.limit), func(t *testing.T) {
			got, err := s.ListEvents(t.Context(), stamp.EventFilter{Limit: tt.limit})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Fatalf("got %d events, want %d", len(got), tt.want)
			}
			if got[0].Seq != events[0].Seq {
				t.Errorf("first event: got seq %d, want %d", got[0].Seq, events[0].Seq)
			}
		})
	}
	_, err := s.ListEvents(t.Context(), stamp.EventFilter{Limit: -1})
	if code := stamp.ErrorCode(err); code != stamp.EINVALID {
		t.Errorf("negative limit: got code %q (%v), want %q", code, err, stamp.EINVALID)
	}
}

func TestListIncidentsLimits(t *testing.T) {
	s := openStore(t, newDatabase(t))
	// One statement rather than sqlstore.IncidentLimit.Max+1 CreateIncident calls:
	// incident n opens n microseconds after the epoch, so the last one is
	// the newest.
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO incidents (id, tenant, state, opened_at, incident, resource_version, updated_at)
		SELECT i::text, 'acme', 'open', 'epoch'::timestamptz + i * interval '1 microsecond',
			json_build_object('id', i::text, 'tenant', 'acme', 'state', 'open'), 1, now()
		FROM generate_series(0, $1::int) AS i`, sqlstore.IncidentLimit.Max); err != nil {
		t.Fatal(err)
	}
	newest := fmt.Sprint(sqlstore.IncidentLimit.Max)
	tests := []struct {
		limit, want int
	}{
		{0, sqlstore.IncidentLimit.Default},
		{5, 5},
		{sqlstore.IncidentLimit.Max, sqlstore.IncidentLimit.Max},
		{sqlstore.IncidentLimit.Max + 1, sqlstore.IncidentLimit.Max},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.limit), func(t *testing.T) {
			got, err := s.ListIncidents(t.Context(), stamp.IncidentFilter{Limit: tt.limit})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Fatalf("got %d incidents, want %d", len(got), tt.want)
			}
			if got[0].ID != newest {
				t.Errorf("first incident: got %q, want the newest, %q", got[0].ID, newest)
			}
		})
	}
}

// TestEventText checks that text PostgreSQL cannot store (NUL, invalid
// UTF-8) does not lose the event.
func TestEventText(t *testing.T) {
	s := openStore(t, newDatabase(t))
	tests := []struct {
		name, message, want string
	}{
		{"plain", "exit status 1: ça va ✓", "exit status 1: ça va ✓"},
		{"NUL", "a\x00b", "a\uFFFDb"},
		{"invalid UTF-8", "a\xffb", "a\uFFFDb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &stamp.Event{Type: stamp.EventStep, Message: tt.message}
			if err := s.AppendEvents(t.Context(), e); err != nil {
				t.Fatal(err)
			}
			got, err := s.ListEvents(t.Context(), stamp.EventFilter{AfterSeq: e.Seq - 1, Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Message != tt.want {
				t.Fatalf("got %+v, want one event with message %q", got, tt.want)
			}
		})
	}
}

func TestListDeliveryAttemptsLimits(t *testing.T) {
	s := openStore(t, newDatabase(t))
	if err := s.CreateWebhook(t.Context(), &stamp.Webhook{ID: "w1"}); err != nil {
		t.Fatal(err)
	}
	// One statement rather than sqlstore.AttemptLimit.Max+1 AppendDeliveryAttempt
	// calls: attempt n is of event n, so the last one, the newest, is of
	// event sqlstore.AttemptLimit.Max.
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO webhook_attempts (webhook, event_seq, attempt, at, status, error, duration_ns)
		SELECT 'w1', i, 1, now(), 200, '', i FROM generate_series(0, $1::int) AS i ORDER BY i`, sqlstore.AttemptLimit.Max); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		limit, want int
	}{
		{0, sqlstore.AttemptLimit.Default},
		{5, 5},
		{sqlstore.AttemptLimit.Max, sqlstore.AttemptLimit.Max},
		{sqlstore.AttemptLimit.Max + 1, sqlstore.AttemptLimit.Max},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.limit), func(t *testing.T) {
			got, err := s.ListDeliveryAttempts(t.Context(), "w1", tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Fatalf("got %d attempts, want %d", len(got), tt.want)
			}
			if got[0].EventSeq != int64(sqlstore.AttemptLimit.Max) {
				t.Errorf("first attempt: got the one of event %d, want the newest, of event %d", got[0].EventSeq, sqlstore.AttemptLimit.Max)
			}
		})
	}
}

// TestDeliveryAttemptText checks that an error PostgreSQL cannot store
// (NUL, invalid UTF-8), as an endpoint's answer may hold, does not lose
// the attempt.
func TestDeliveryAttemptText(t *testing.T) {
	s := openStore(t, newDatabase(t))
	if err := s.CreateWebhook(t.Context(), &stamp.Webhook{ID: "w1"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, error, want string
	}{
		{"plain", "502: ça va ✓", "502: ça va ✓"},
		{"NUL", "a\x00b", "a\uFFFDb"},
		{"invalid UTF-8", "a\xffb", "a\uFFFDb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.AppendDeliveryAttempt(t.Context(), &stamp.DeliveryAttempt{Webhook: "w1", EventSeq: 1, Attempt: 1, Error: tt.error}); err != nil {
				t.Fatal(err)
			}
			got, err := s.ListDeliveryAttempts(t.Context(), "w1", 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Error != tt.want {
				t.Fatalf("got %+v, want one attempt with error %q", got, tt.want)
			}
		})
	}
}

func TestInternalErrorsAreWrapped(t *testing.T) {
	s, err := Open(t.Context(), newDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, want string
		call       func() error
	}{
		{"get", `get tenant "acme": `, func() error { _, err := s.GetTenant(t.Context(), "acme"); return err }},
		{"create", `create tenant "acme": `, func() error { return s.CreateTenant(t.Context(), &stamp.Tenant{Name: "acme"}) }},
		{"update", `update tenant "acme": `, func() error { return s.UpdateTenant(t.Context(), &stamp.Tenant{Name: "acme"}) }},
		{"delete", `delete tenant "acme": `, func() error { return s.DeleteTenant(t.Context(), "acme", 1) }},
		{"create release", `create release "r1": `, func() error { return s.CreateRelease(t.Context(), &stamp.Release{ID: "r1"}) }},
		{"get release", `get release "r1": `, func() error { _, err := s.GetRelease(t.Context(), "r1"); return err }},
		{"list releases", `list releases: `, func() error { _, err := s.ListReleases(t.Context()); return err }},
		{"update release", `update release "r1": `, func() error { return s.UpdateRelease(t.Context(), &stamp.Release{ID: "r1"}) }},
		{"create incident", `create incident "i1": `, func() error { return s.CreateIncident(t.Context(), &stamp.Incident{ID: "i1"}) }},
		{"get incident", `get incident "i1": `, func() error { _, err := s.GetIncident(t.Context(), "i1"); return err }},
		{"list incidents", `list incidents: `, func() error { _, err := s.ListIncidents(t.Context(), stamp.IncidentFilter{}); return err }},
		{"update incident", `update incident "i1": `, func() error { return s.UpdateIncident(t.Context(), &stamp.Incident{ID: "i1"}) }},
		{"create webhook", `create webhook "w1": `, func() error { return s.CreateWebhook(t.Context(), &stamp.Webhook{ID: "w1"}) }},
		{"get webhook", `get webhook "w1": `, func() error { _, err := s.GetWebhook(t.Context(), "w1"); return err }},
		{"list webhooks", `list webhooks: `, func() error { _, err := s.ListWebhooks(t.Context()); return err }},
		{"update webhook", `update webhook "w1": `, func() error { return s.UpdateWebhook(t.Context(), &stamp.Webhook{ID: "w1"}) }},
		{"delete webhook", `delete webhook "w1": `, func() error { return s.DeleteWebhook(t.Context(), "w1") }},
		{"append attempt", `append delivery attempt of webhook "w1": `, func() error {
			return s.AppendDeliveryAttempt(t.Context(), &stamp.DeliveryAttempt{Webhook: "w1"})
		}},
		{"list attempts", `list delivery attempts of webhook "w1": `, func() error {
			_, err := s.ListDeliveryAttempts(t.Context(), "w1", 0)
			return err
		}},
		{"secrets", `put secrets of "acme": `, func() error { return s.PutSecrets(t.Context(), "acme", nil) }},
		{"bundle", `create blueprint ledger@1.0.0: `, func() error {
			return s.CreateBundle(t.Context(), &stamp.Bundle{Name: "ledger", Version: "1.0.0"})
		}},
		{"token", `create token "tok": `, func() error { return s.CreateToken(t.Context(), &stamp.Token{ID: "tok", Role: stamp.RoleAdmin}) }},
		{"append", `append 1 events: `, func() error { return s.AppendEvents(t.Context(), &stamp.Event{Type: stamp.EventStep}) }},
		{"lease", `take lease "k" for h: `, func() error { _, err := s.TryLease(t.Context(), "k", "h", time.Minute); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if code := stamp.ErrorCode(err); code != stamp.EINTERNAL {
				t.Errorf("got code %q (%v), want %q", code, err, stamp.EINTERNAL)
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got %v, want it to start with %q", err, tt.want)
			}
		})
	}
}

// BenchmarkAppendEvents appends one event per call from many goroutines of
// one process: appends take turns, so appends/s is the ceiling of the
// event rate.
func BenchmarkAppendEvents(b *testing.B) {
	s := openStore(b, newDatabase(b))
	b.SetParallelism(8) // 8 × GOMAXPROCS appenders
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.AppendEvents(context.Background(), &stamp.Event{Type: stamp.EventStep, Tenant: "acme", Message: "ok"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}
