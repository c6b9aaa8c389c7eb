package rollout

import (
	"slices"
	"strings"
	"testing"

	"github.com/stamphq/stamp"
)

// TestYankedVersionPausesTheRelease: 2.0.0 is yanked while its release
// is at its first wave; the release moves no further tenant and pauses,
// saying why, until the version is unyanked and the release resumed.
func TestYankedVersionPausesTheRelease(t *testing.T) {
	f := newFixture(t, "a", "b")
	f.release(stamp.ReleaseSpec{Waves: []stamp.Wave{{Count: 1}, {Percent: 100}}, MaxParallel: 1})
	f.advance() // a moves
	if _, _, err := f.st.SetYanked(f.ctx, "ledger", "2.0.0", true, "corrupts invoices"); err != nil {
		t.Fatal(err)
	}
	f.finishUpgrade("a")
	f.advance() // the first wave's gate passes
	r := f.advance()
	if r.Status.State != stamp.ReleasePaused || !strings.Contains(r.Status.Message, "ledger@2.0.0 was yanked") {
		t.Fatalf("release: %s %q; want paused as yanked", r.Status.State, r.Status.Message)
	}
	if got := inState(r, stamp.ReleaseTenantPending); !slices.Equal(got, []string{"b"}) {
		t.Errorf("pending: %v, want b", got)
	}
	if tn := f.tenant("b"); tn.Spec.Version != "1.0.0" {
		t.Errorf("b's spec names %s, want 1.0.0: a yanked version takes no tenant", tn.Spec.Version)
	}

	// Resumed while still yanked: paused again.
	r.Spec.Paused = false
	if err := f.st.UpdateRelease(f.ctx, r); err != nil {
		t.Fatal(err)
	}
	if r = f.advance(); r.Status.State != stamp.ReleasePaused {
		t.Errorf("resumed while yanked: %s, want paused", r.Status.State)
	}

	if _, _, err := f.st.SetYanked(f.ctx, "ledger", "2.0.0", false, ""); err != nil {
		t.Fatal(err)
	}
	r.Spec.Paused = false
	if err := f.st.UpdateRelease(f.ctx, r); err != nil {
		t.Fatal(err)
	}
	r = f.advance()
	if got := inState(r, stamp.ReleaseTenantUpgrading); !slices.Equal(got, []string{"b"}) {
		t.Errorf("after unyank and resume: upgrading %v, want b (%s %q)", got, r.Status.State, r.Status.Message)
	}
}
