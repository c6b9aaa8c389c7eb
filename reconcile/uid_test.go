package reconcile

import (
	"bytes"
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/sqlite"
)

// draws is a random source whose 8-byte draws are offsets (pickUID takes
// them modulo the range's size).
func draws(offsets ...uint64) *bytes.Reader {
	var b []byte
	for _, o := range offsets {
		b = binary.BigEndian.AppendUint64(b, o)
	}
	return bytes.NewReader(b)
}

// TestEnsureUID gives tenants users from a range of two on a real store:
// a uid another tenant holds is refused by the store and another is
// drawn; a tenant keeps the one it has; a full range fails with a message
// saying to widen it, leaving the tenant without one.
func TestEnsureUID(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "stamp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// acme draws 0; globex draws 0 (acme's), then 1; initech draws 0 and
	// 1 until its attempts are spent.
	random := draws(0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1)
	r := New(Config{Store: st, UIDs: UIDRange{Min: 300000, Max: 300001}, Random: random})
	ensure := func(name string) (*stamp.Tenant, error) {
		tn := &stamp.Tenant{Name: name, Spec: stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0"}, Status: stamp.TenantStatus{Phase: stamp.PhaseProvisioning}}
		if err := st.CreateTenant(t.Context(), tn); err != nil {
			t.Fatal(err)
		}
		p := &pass{r: r, t: tn, log: r.cfg.Logger}
		err := p.ensureUID(t.Context())
		stored, gerr := st.GetTenant(t.Context(), name)
		if gerr != nil {
			t.Fatal(gerr)
		}
		return stored, err
	}
	// In this order: the draws above are acme's, then globex's.
	for _, tt := range []struct {
		name string
		want int
	}{{"acme", 300000}, {"globex", 300001}} {
		got, err := ensure(tt.name)
		if err != nil || got.Status.UID != tt.want {
			t.Errorf("%s: uid %d, %v; want %d", tt.name, got.Status.UID, err, tt.want)
		}
	}
	got, err := ensure("initech")
	if err == nil || !strings.Contains(err.Error(), "widen --tenant-uids") || got.Status.UID != 0 {
		t.Errorf("initech with the range full: uid %d, %v; want no uid and an error saying to widen --tenant-uids", got.Status.UID, err)
	}

	acme, _ := st.GetTenant(t.Context(), "acme")
	p := &pass{r: r, t: acme, log: r.cfg.Logger}
	if err := p.ensureUID(t.Context()); err != nil || p.t.Status.UID != 300000 || p.t.ResourceVersion != acme.ResourceVersion {
		t.Errorf("acme again: uid %d, version %d (was %d), %v; want it kept, nothing written", p.t.Status.UID, p.t.ResourceVersion, acme.ResourceVersion, err)
	}
}
