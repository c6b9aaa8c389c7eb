package activity

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/sqlite"
)

// fakeRouter stands in for a router's traffic counters.
type fakeRouter struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func (f *fakeRouter) request(tenant string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.last[tenant] = at
}

func (f *fakeRouter) LastRequest(tenant string) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last[tenant]
}

func (f *fakeRouter) ActiveSince(since time.Time) map[string]time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]time.Time{}
	for name, at := range f.last {
		if at.After(since) {
			out[name] = at
		}
	}
	return out
}

// TestTrackersShareTraffic runs two trackers, as two servers would, on
// one real store: what one's router sees, the other's Last reports after
// a share, and each one's own traffic is reported at once.
func TestTrackersShareTraffic(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "stamp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, name := range []string{"acme", "globex"} {
		if err := st.CreateTenant(ctx, &stamp.Tenant{Name: name, Spec: stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0", Desired: stamp.DesiredRunning}}); err != nil {
			t.Fatal(err)
		}
	}
	ra, rb := &fakeRouter{last: map[string]time.Time{}}, &fakeRouter{last: map[string]time.Time{}}
	a, b := New(st, ra, time.Hour, nil), New(st, rb, time.Hour, nil)

	at := time.Now().Truncate(time.Millisecond)
	ra.request("acme", at)
	if got := a.Last("acme"); !got.Equal(at) {
		t.Errorf("a's own traffic: Last = %v, want %v at once", got, at)
	}
	if got := b.Last("acme"); !got.IsZero() {
		t.Errorf("b before any share: Last = %v, want zero", got)
	}
	if err := a.share(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.share(ctx); err != nil {
		t.Fatal(err)
	}
	if got := b.Last("acme"); !got.Equal(at) {
		t.Errorf("b after a shared: Last(acme) = %v, want a's %v", got, at)
	}
	// b's own, newer request wins over the shared one; globex has none.
	later := time.Now().Add(time.Millisecond).Truncate(time.Millisecond)
	rb.request("acme", later)
	if got := b.Last("acme"); !got.Equal(later) {
		t.Errorf("b's newer request: Last = %v, want %v", got, later)
	}
	if got := b.Last("globex"); !got.IsZero() {
		t.Errorf("globex: Last = %v, want zero", got)
	}
	// What a records after its first share is only what is new.
	if err := b.share(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.share(ctx); err != nil {
		t.Fatal(err)
	}
	if got := a.Last("acme"); !got.Equal(later) {
		t.Errorf("a after b shared: Last = %v, want b's %v", got, later)
	}
}

// TestRunRecordsWhatIsLeftAtTheEnd ends a tracker's Run: the traffic seen
// since its last share is recorded on the way out, not lost.
func TestRunRecordsWhatIsLeftAtTheEnd(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "stamp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateTenant(ctx, &stamp.Tenant{Name: "acme", Spec: stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0", Desired: stamp.DesiredRunning}}); err != nil {
		t.Fatal(err)
	}
	r := &fakeRouter{last: map[string]time.Time{}}
	at := time.Now().Truncate(time.Millisecond)
	r.request("acme", at)
	runCtx, cancel := context.WithCancel(ctx)
	cancel()
	if err := New(st, r, time.Hour, nil).Run(runCtx); err != nil {
		t.Fatal(err)
	}
	got, err := st.LastActivity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !got["acme"].Equal(at) {
		t.Errorf("recorded %v, want %v", got["acme"], at)
	}
}
