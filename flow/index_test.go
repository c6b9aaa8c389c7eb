package flow

import (
	"context"
	"log/slog"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/sqlite"
)

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "stamp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestIndexReport reads the fixture's log into a store's index in two
// parts, the second while runs of the first are under way, and reports
// as Compute does over the whole log, for each filter.
func TestIndexReport(t *testing.T) {
	s := openStore(t)
	x := NewIndex(s)
	events := fixture()
	half := 12 // within globex's create
	if err := s.AppendEvents(t.Context(), events[:half]...); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Report(t.Context(), Filter{Since: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendEvents(t.Context(), events[half:]...); err != nil {
		t.Fatal(err)
	}
	for _, f := range []Filter{
		{Since: t0},
		{},
		{Since: t0, Until: at(1500), Tenants: map[string]bool{"acme": true, "globex": true}},
		{Since: at(7000), Tenants: map[string]bool{"acme": true}},
	} {
		got, err := x.Report(t.Context(), f)
		if err != nil {
			t.Fatal(err)
		}
		if want := Compute(fixture(), f); !reflect.DeepEqual(got, want) {
			t.Errorf("%+v:\nindex   %+v\ncompute %+v", f, got, want)
		}
	}
}

// TestIndexShared: servers sharing a store catch its index up at once,
// while the log grows; the index ends as one reader would have left it.
func TestIndexShared(t *testing.T) {
	s := openStore(t)
	events := fixture()
	var wg sync.WaitGroup
	for range 4 {
		x := NewIndex(s)
		wg.Go(func() {
			for range 20 {
				if err := x.CatchUp(t.Context()); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for _, e := range events {
		if err := s.AppendEvents(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	got, err := NewIndex(s).Report(t.Context(), Filter{Since: t0})
	if err != nil {
		t.Fatal(err)
	}
	if want := Compute(fixture(), Filter{Since: t0}); !reflect.DeepEqual(got, want) {
		t.Errorf("index %+v\nwant  %+v", got, want)
	}
}

// TestSupersededRun: a change while an upgrade is under way begins a new
// run; the first is counted in progress for good, not resumed.
func TestSupersededRun(t *testing.T) {
	log := []*stamp.Event{
		ev(stamp.EventTenantUpgradeRequested, "acme", 0),
		step("acme", stamp.StepCheck, 0, 0, 100),
		ev(stamp.EventTenantChanged, "acme", 200),
		step("acme", stamp.StepMigrate, 200, 200, 500),
		ev(stamp.EventTenantUpgraded, "acme", 600),
	}
	u := Compute(log, Filter{}).Upgrade
	if u.Completed != 1 || u.InProgress != 1 || u.Lead.Total != ms(400) || len(u.Steps) != 2 {
		t.Errorf("upgrades %+v: want the second completed in 400ms with queued and migrate, the first in progress", u)
	}
}

// TestIndexRun keeps the index up to date by itself, and stops with its
// context.
func TestIndexRun(t *testing.T) {
	s := openStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- NewIndex(s).Run(ctx, 10*time.Millisecond, slog.New(slog.DiscardHandler)) }()
	if err := s.AppendEvents(t.Context(), fixture()...); err != nil {
		t.Fatal(err)
	}
	last, err := s.LastEventSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for at, _ := s.FlowIndexed(t.Context()); at != last; at, _ = s.FlowIndexed(t.Context()) {
		if time.Now().After(deadline) {
			t.Fatalf("the index is at event %d, the log at %d", at, last)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}
