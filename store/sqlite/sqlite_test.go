package sqlite

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/internal/sqlstore"
	"github.com/stamphq/stamp/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) stamp.Store {
		// A directory that does not exist yet: Open creates it.
		return openStore(t, filepath.Join(t.TempDir(), "state", "stamp.db"))
	})
}

func openStore(tb testing.TB, path string) *Store {
	tb.Helper()
	s, err := Open(context.Background(), path)
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

// appliedMigrations returns the schema_migrations rows as "version@applied_at".
func appliedMigrations(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.read.QueryContext(t.Context(), `SELECT version, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var applied []string
	for rows.Next() {
		var version, at int64
		if err := rows.Scan(&version, &at); err != nil {
			t.Fatal(err)
		}
		applied = append(applied, fmt.Sprintf("%d@%d", version, at))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return applied
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stamp.db")
	s, err := Open(t.Context(), path)
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

	s = openStore(t, path)
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

// rollBack runs undo on the store's file to take its schema back to before
// migration version, and forgets that migration and every later one.
func rollBack(t *testing.T, s *Store, version int, undo ...string) {
	t.Helper()
	for _, q := range append(undo, fmt.Sprintf(`DELETE FROM schema_migrations WHERE version >= %d`, version)) {
		if _, err := s.write.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// undoTenantUID undoes migration 6.
var undoTenantUID = []string{
	`DROP INDEX tenants_uid`,
	`ALTER TABLE tenants DROP COLUMN uid`,
}

// TestMigrateTenantUID takes a file back to the schema before the uid
// column (migration 6), with a tenant whose status holds a uid, and
// reopens it: the column is filled from the status, so the uid stays
// held.
func TestMigrateTenantUID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stamp.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	for name, uid := range map[string]int{"acme": 200007, "globex": 0} {
		tenant := &stamp.Tenant{Name: name, Spec: stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0"}, Status: stamp.TenantStatus{UID: uid}}
		if err := s.CreateTenant(t.Context(), tenant); err != nil {
			t.Fatal(err)
		}
	}
	rollBack(t, s, 6, slices.Concat(undoTenantCounts, undoFlow, undoAuditDeliveries, undoAudit, undoTokenRoles, undoTenantRuntime, undoActivity, undoBundleYanks, undoTenantUID)...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, path)
	other := &stamp.Tenant{Name: "initech", Spec: stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0"}, Status: stamp.TenantStatus{UID: 200007}}
	if code := stamp.ErrorCode(s.CreateTenant(t.Context(), other)); code != stamp.ECONFLICT {
		t.Errorf("creating a tenant with acme's uid after migrating: got code %q, want %q", code, stamp.ECONFLICT)
	}
	if got, err := s.GetTenant(t.Context(), "acme"); err != nil || got.Status.UID != 200007 {
		t.Errorf("acme after migrating: got %+v, %v; want uid 200007", got, err)
	}
}

// undoWebhooks undoes migration 5.
var undoWebhooks = []string{
	`DROP TABLE webhook_attempts`, // and its index
	`DROP TABLE webhooks`,
}

// undoIncidents undoes migration 4.
var undoIncidents = []string{
	`ALTER TABLE events DROP COLUMN incident`,
	`DROP TABLE incidents`, // and its indexes
}

// TestMigrateReleasesKeepsEvents takes a file back to the schema before
// releases (migration 3), with events in its log, and reopens it: the
// migrations add the release and incident columns to the existing rows,
// empty.
func TestMigrateReleasesKeepsEvents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stamp.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	old := &stamp.Event{Type: stamp.EventTenantReady, Tenant: "acme", Message: "before releases"}
	if err := s.AppendEvents(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	rollBack(t, s, 3, slices.Concat(undoTenantCounts, undoFlow, undoAuditDeliveries, undoAudit, undoTokenRoles, undoTenantRuntime, undoActivity, undoBundleYanks, undoTenantUID, undoWebhooks, undoIncidents, []string{
		`DROP INDEX events_release_seq`,
		`ALTER TABLE events DROP COLUMN release`,
		`DROP TABLE releases`,
	})...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, path)
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

// TestMigrateIncidentsKeepsEvents takes a file back to the schema before
// incidents (migration 4), with events in its log, and reopens it: the
// migration adds the incident column to the existing rows, empty, and
// keeps the rest of them.
func TestMigrateIncidentsKeepsEvents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stamp.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	old := &stamp.Event{Type: stamp.EventReleaseTenant, Tenant: "acme", Release: "r1", Message: "before incidents"}
	if err := s.AppendEvents(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	rollBack(t, s, 4, slices.Concat(undoTenantCounts, undoFlow, undoAuditDeliveries, undoAudit, undoTokenRoles, undoTenantRuntime, undoActivity, undoBundleYanks, undoTenantUID, undoWebhooks, undoIncidents)...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, path)
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

// TestMigrateWebhooksKeepsData takes a file back to the schema before
// webhooks (migration 5), with a tenant, an incident and events in it,
// and reopens it: the migration adds the webhook tables, keeps the rest,
// and the attempts' foreign key holds from the start.
func TestMigrateWebhooksKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stamp.db")
	s, err := Open(t.Context(), path)
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
	rollBack(t, s, 5, slices.Concat(undoTenantCounts, undoFlow, undoAuditDeliveries, undoAudit, undoTokenRoles, undoTenantRuntime, undoActivity, undoBundleYanks, undoTenantUID, undoWebhooks)...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, path)
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
	if err := s.read.QueryRowContext(t.Context(), `SELECT count(*) FROM webhook_attempts`).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	if orphans != 0 {
		t.Errorf("attempts left after deleting their webhook: got %d, want 0", orphans)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stamp.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.ExecContext(t.Context(), `INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)`); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(t.Context(), path)
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

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	notDB := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("not a database ", 512)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"question mark", filepath.Join(dir, "a?b.db"), "must not contain '?'"},
		{"parent is a file", filepath.Join(file, "stamp.db"), "not a directory"},
		{"not a database", notDB, "not a database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(t.Context(), tt.path)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.path) {
				t.Errorf("got %q, want it to name %q and contain %q", err, tt.path, tt.want)
			}
		})
	}
}

func TestPutSecretsOfMissingTenant(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "stamp.db"))
	err := s.PutSecrets(t.Context(), "acme", map[string]string{"k": "v"})
	if code := stamp.ErrorCode(err); code != stamp.ENOTFOUND {
		t.Fatalf("got code %q (%v), want %q", code, err, stamp.ENOTFOUND)
	}
	if got, want := err.Error(), `tenant "acme" does not exist`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestListEventsLimits(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "stamp.db"))
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
	s := openStore(t, filepath.Join(t.TempDir(), "stamp.db"))
	// One statement rather than sqlstore.IncidentLimit.Max+1 CreateIncident calls,
	// which take seconds under the race detector: incident n opens at n
	// nanoseconds, so the last one is the newest.
	if _, err := s.write.ExecContext(t.Context(), `WITH RECURSIVE n (i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		INSERT INTO incidents (id, tenant, state, opened_at, incident, resource_version, updated_at)
		SELECT CAST(i AS TEXT), 'acme', 'open', i, json_object('id', CAST(i AS TEXT), 'tenant', 'acme', 'state', 'open'), 1, 0 FROM n`,
		sqlstore.IncidentLimit.Max); err != nil {
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

// TestListIncidentsPlan checks that SQLite reads incidents through an index
// in the order ListIncidents wants, for each filter: it neither scans the
// table nor sorts.
func TestListIncidentsPlan(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "stamp.db"))
	tests := []struct {
		filter stamp.IncidentFilter
		want   string
	}{
		{stamp.IncidentFilter{Open: true}, "SCAN incidents USING INDEX incidents_open"},
		{stamp.IncidentFilter{Tenant: "acme"}, "SEARCH incidents USING INDEX incidents_tenant_opened_at (tenant=?)"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v", tt.filter), func(t *testing.T) {
			query, args, err := listIncidentsQuery(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			plan := queryPlan(t, s, query, args...)
			if len(plan) != 1 || plan[0] != tt.want {
				t.Errorf("query plan: got %q, want [%q]", plan, tt.want)
			}
		})
	}
}

func TestListDeliveryAttemptsLimits(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "stamp.db"))
	if err := s.CreateWebhook(t.Context(), &stamp.Webhook{ID: "w1"}); err != nil {
		t.Fatal(err)
	}
	// One statement rather than sqlstore.AttemptLimit.Max+1 AppendDeliveryAttempt
	// calls: attempt n is of event n, so the last one, the newest, is of
	// event sqlstore.AttemptLimit.Max.
	if _, err := s.write.ExecContext(t.Context(), `WITH RECURSIVE n (i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		INSERT INTO webhook_attempts (webhook, event_seq, attempt, at, status, error, duration_ns)
		SELECT 'w1', i, 1, i, 200, '', i FROM n`, sqlstore.AttemptLimit.Max); err != nil {
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

// TestListDeliveryAttemptsPlan checks that SQLite reads a webhook's
// attempts through webhook_attempts_webhook_seq in the order wanted: it
// neither scans the table nor sorts.
func TestListDeliveryAttemptsPlan(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "stamp.db"))
	plan := queryPlan(t, s, listAttemptsSQL, "w1", sqlstore.AttemptLimit.Default)
	want := "SEARCH webhook_attempts USING INDEX webhook_attempts_webhook_seq (webhook=?)"
	if len(plan) != 1 || plan[0] != want {
		t.Errorf("query plan: got %q, want [%q]", plan, want)
	}
}

func TestInternalErrorsAreWrapped(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "stamp.db"))
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

// seedTenants creates n tenants named t00000, t00001...
func seedTenants(tb testing.TB, s *Store, n int) {
	tb.Helper()
	for i := range n {
		tenant := &stamp.Tenant{
			Name:       fmt.Sprintf("t%05d", i),
			Spec:       stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0", Plan: "starter", Desired: stamp.DesiredRunning},
			Status:     stamp.TenantStatus{Phase: stamp.PhaseReady, ObservedGeneration: 1},
			Generation: 1,
		}
		if err := s.CreateTenant(context.Background(), tenant); err != nil {
			tb.Fatal(err)
		}
	}
}

func TestManyTenants(t *testing.T) {
	const n = 10_000
	s := openStore(t, filepath.Join(t.TempDir(), "stamp.db"))
	seedTenants(t, s, n)

	for _, i := range []int{0, 1, n / 2, n - 1} {
		name := fmt.Sprintf("t%05d", i)
		got, err := s.GetTenant(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != name {
			t.Errorf("GetTenant(%q): got %q", name, got.Name)
		}
	}
	all, err := s.ListTenants(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != n {
		t.Fatalf("ListTenants: got %d tenants, want %d", len(all), n)
	}
	if !slices.IsSortedFunc(all, func(a, b *stamp.Tenant) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("ListTenants is not ordered by name")
	}

	// The plan, not the clock, shows GetTenant is a lookup: SEARCH uses an
	// index, SCAN would read every row.
	plan := queryPlan(t, s, getTenantSQL, "t05000")
	if len(plan) != 1 || !strings.HasPrefix(plan[0], "SEARCH tenants USING") {
		t.Errorf("query plan of GetTenant: got %q, want one index SEARCH of tenants", plan)
	}
}

// BenchmarkGetTenant reads random tenants among 10,000, from one goroutine
// and from GOMAXPROCS goroutines; reads/s is the figure to quote.
func BenchmarkGetTenant(b *testing.B) {
	const n = 10_000
	s := openStore(b, filepath.Join(b.TempDir(), "stamp.db"))
	seedTenants(b, s, n)
	get := func(b *testing.B, i int) {
		if _, err := s.GetTenant(context.Background(), fmt.Sprintf("t%05d", i%n)); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		i := 0
		for b.Loop() {
			get(b, i*7919) // a prime stride visits every tenant in a scattered order
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := rand.IntN(n) // goroutines start apart
			for pb.Next() {
				get(b, i*7919)
				i++
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
	})
}

func TestStoreFileIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stamp.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %o, want 600", filepath.Base(p), mode)
		}
	}
}

// queryPlan returns the details of SQLite's plan for query, one per step.
func queryPlan(t *testing.T, s *Store, query string, args ...any) []string {
	t.Helper()
	rows, err := s.read.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}
