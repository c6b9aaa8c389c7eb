package monitor

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/sqlite"
)

// These tests drive the incident rules (apply) with observations made by
// hand on a real SQLite store and a clock the test moves; the probing
// itself runs against real processes in cmd/stamp's end-to-end tests.

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func newTestMonitor(t *testing.T) (*Monitor, *clock, stamp.Store) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "stamp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	acme := &stamp.Tenant{Name: "acme", Generation: 1,
		Spec:   stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0", Plan: "starter", Desired: stamp.DesiredRunning},
		Status: stamp.TenantStatus{Phase: stamp.PhaseReady, Version: "1.0.0"}}
	if err := st.CreateTenant(context.Background(), acme); err != nil {
		t.Fatal(err)
	}
	c := &clock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	return New(Config{Store: st, Grace: 3 * time.Second, Clock: c}), c, st
}

// TestNoIncidentOpensForATenantBeingDeleted: the list a check goes by may
// be a second old; a tenant deleted since gets no new incident, since its
// deletion resolves only those open before it.
func TestNoIncidentOpensForATenantBeingDeleted(t *testing.T) {
	m, _, st := newTestMonitor(t)
	ctx := context.Background()
	acme, err := st.GetTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	acme.Spec.Desired, acme.Status.Phase = stamp.DesiredDeleted, stamp.PhaseDeleting
	if err := st.UpdateTenant(ctx, acme); err != nil {
		t.Fatal(err)
	}
	exit := observation{state: stamp.HealthDown, exited: true, cause: stamp.CauseExit, message: "0 of 1 instances running"}
	for _, tenant := range []string{"acme", "gone"} {
		if err := m.apply(ctx, tenant, "web", exit, false); err != nil {
			t.Fatal(err)
		}
	}
	if got := incidents(t, st); len(got) != 0 {
		t.Errorf("incidents opened for tenants being deleted or gone: %+v", got)
	}
}

func incidents(t *testing.T, st stamp.Store) []*stamp.Incident {
	t.Helper()
	list, err := st.ListIncidents(context.Background(), stamp.IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func TestFailingProbeOpensAfterGraceAndResolves(t *testing.T) {
	m, c, st := newTestMonitor(t)
	ctx := context.Background()
	down := observation{state: stamp.HealthDown, cause: stamp.CauseProbe, message: "0 of 1 instances healthy: status 500"}
	for range 3 { // 0s, 1s, 2s: within the grace
		if err := m.apply(ctx, "acme", "web", down, false); err != nil {
			t.Fatal(err)
		}
		c.now = c.now.Add(time.Second)
	}
	if got := incidents(t, st); len(got) != 0 {
		t.Fatalf("an incident opened within the grace: %+v", got[0])
	}
	if err := m.apply(ctx, "acme", "web", down, false); err != nil { // 3s
		t.Fatal(err)
	}
	got := incidents(t, st)
	if len(got) != 1 || got[0].Cause != stamp.CauseProbe || !got[0].OpenedAt.Equal(c.now.Add(-3*time.Second)) {
		t.Fatalf("after the grace: %+v", got)
	}
	again := down
	again.message = "0 of 1 instances healthy: connection refused"
	if err := m.apply(ctx, "acme", "web", again, false); err != nil {
		t.Fatal(err)
	}
	if err := m.apply(ctx, "acme", "web", again, false); err != nil { // the same again: no entry
		t.Fatal(err)
	}
	c.now = c.now.Add(time.Second)
	if err := m.apply(ctx, "acme", "web", observation{state: stamp.HealthHealthy}, false); err != nil {
		t.Fatal(err)
	}
	inc := incidents(t, st)[0]
	if inc.State != stamp.IncidentResolved || inc.ResolvedBy != "monitor" || len(inc.Timeline) != 3 ||
		!strings.Contains(inc.Timeline[1].Message, "connection refused") {
		t.Errorf("resolved incident: %+v", inc)
	}
	if h, services := m.Health("acme"); h != stamp.HealthHealthy || services["web"] != stamp.HealthHealthy {
		t.Errorf("health after recovery: %s %v", h, services)
	}
}

func TestExitOpensAtOnceAndARestartedMonitorResolves(t *testing.T) {
	m, c, st := newTestMonitor(t)
	ctx := context.Background()
	exit := observation{state: stamp.HealthDegraded, exited: true, cause: stamp.CauseExit, message: "restarted 1 times, last exit: signal: killed"}
	if err := m.apply(ctx, "acme", "web", exit, false); err != nil {
		t.Fatal(err)
	}
	if got := incidents(t, st); len(got) != 1 || got[0].State != stamp.IncidentOpen {
		t.Fatalf("after an exit: %+v", got)
	}

	// A new monitor (a restarted server) takes the open incident up.
	m2 := New(Config{Store: st, Clock: c})
	m2.tenants["acme"] = &tenantWatch{services: map[string]*serviceWatch{}}
	if err := m2.loadIncidents(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if err := m2.apply(ctx, "acme", "web", observation{state: stamp.HealthHealthy}, false); err != nil {
		t.Fatal(err)
	}
	got := incidents(t, st)
	if len(got) != 1 || got[0].State != stamp.IncidentResolved {
		t.Errorf("after the restarted monitor saw it healthy: %+v", got)
	}
}

// TestExitBeforeTheFirstLookCounts: an exit after the monitor began to
// watch the tenant but before it first looked at the service is an exit;
// one from before the watch began is the baseline.
func TestExitBeforeTheFirstLookCounts(t *testing.T) {
	watched := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		sw   serviceWatch
		so   stamp.ServiceObserved
		want bool
	}{
		{"never exited", serviceWatch{}, stamp.ServiceObserved{}, false},
		{"exited before the watch", serviceWatch{}, stamp.ServiceObserved{Restarts: 2, LastExitAt: watched.Add(-time.Second)}, false},
		{"exited after the watch, before the first look", serviceWatch{}, stamp.ServiceObserved{Restarts: 1, LastExitAt: watched.Add(time.Second)}, true},
		{"no restart since the last look", serviceWatch{seen: true, restarts: 1}, stamp.ServiceObserved{Restarts: 1, LastExitAt: watched.Add(time.Second)}, false},
		{"a restart since the last look", serviceWatch{seen: true, restarts: 1}, stamp.ServiceObserved{Restarts: 2, LastExitAt: watched.Add(time.Second)}, true},
	} {
		if got := tt.sw.exited(&tt.so, watched); got != tt.want {
			t.Errorf("%s: exited = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestBehindIsTheMostOverdueCheck: a monitor on schedule is not behind;
// one whose checks are due in the past is behind by the oldest of them.
func TestBehindIsTheMostOverdueCheck(t *testing.T) {
	m, c, _ := newTestMonitor(t)
	if got := m.Behind(); got != 0 {
		t.Errorf("Behind with nothing watched = %s, want 0", got)
	}
	m.mu.Lock()
	m.service("acme", "web").nextCheck = c.now.Add(time.Second)        // due later
	m.service("globex", "web").nextCheck = c.now.Add(-2 * time.Second) // overdue
	m.service("globex", "worker").nextCheck = c.now.Add(-5 * time.Second)
	m.mu.Unlock()
	if got := m.Behind(); got != 5*time.Second {
		t.Errorf("Behind = %s, want 5s (globex's worker)", got)
	}
}

// TestIdleServicesAreNotOverdue: the services of a tenant that is failed
// or no longer serves them are not probed, so they are moved on rather
// than left due every tick and counted by Behind.
func TestIdleServicesAreNotOverdue(t *testing.T) {
	m, c, _ := newTestMonitor(t)
	m.mu.Lock()
	m.service("acme", "web").nextCheck = c.now.Add(-time.Minute)
	m.service("acme", "worker").nextCheck = c.now.Add(-time.Minute) // gone from the new version
	m.mu.Unlock()
	m.idle("acme", []string{"web"}, c.now)
	if got := m.Behind(); got != time.Minute {
		t.Errorf("Behind after idling worker = %s, want web's 1m", got)
	}
	m.idle("acme", nil, c.now) // failed: nothing serves
	if got := m.Behind(); got != 0 {
		t.Errorf("Behind after idling every service = %s, want 0", got)
	}
	if m.tenants["acme"].due(c.now) {
		t.Error("a tenant whose services are all idle is due at once")
	}
}

// TestAHeldTenantIsReadAtOnce: a tenant this process has just taken is
// watched from the next tick, not from the next read of the event log a
// second later, when an exit in between would be taken for the baseline.
func TestAHeldTenantIsReadAtOnce(t *testing.T) {
	m, c, st := newTestMonitor(t)
	ctx := context.Background()
	if err := m.refresh(ctx, c.now, nil); err != nil {
		t.Fatal(err)
	}
	globex := &stamp.Tenant{Name: "globex", Generation: 1,
		Spec: stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0", Plan: "starter", Desired: stamp.DesiredRunning}}
	if err := st.CreateTenant(ctx, globex); err != nil {
		t.Fatal(err)
	}
	c.now = c.now.Add(listEvery / 4)
	if err := m.refresh(ctx, c.now, nil); err != nil {
		t.Fatal(err)
	}
	if m.list["globex"] != nil {
		t.Fatal("a tenant no one holds was read before the next read of the log")
	}
	if err := m.refresh(ctx, c.now, map[string]bool{"globex": true}); err != nil {
		t.Fatal(err)
	}
	if m.list["globex"] == nil {
		t.Error("a held tenant missing from the records was not read at the next tick")
	}
}
