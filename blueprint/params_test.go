package blueprint

import (
	"maps"
	"strings"
	"testing"

	"github.com/stamphq/stamp"
)

// TestTenantParams renders a tenant whose spec was written for another
// version: one without the currency parameter, and with one (legacy) this
// version no longer declares.
func TestTenantParams(t *testing.T) {
	b := ledger(t)
	stored := map[string]string{"admin_email": "ops@acme.test", "legacy": "kept"}
	before := maps.Clone(stored)

	// The spec as stored lacks currency: rendering with it fails, as
	// upgrades to a version adding a parameter did.
	in := renderInput()
	in.Params = stored
	if _, err := b.Render(in); err == nil || !strings.Contains(err.Error(), `no value for parameter "currency"`) {
		t.Fatalf("render with the stored params: got %v, want no value for currency", err)
	}

	got, err := b.TenantParams(stored)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"admin_email": "ops@acme.test", "currency": "EUR"}
	if !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if !maps.Equal(stored, before) {
		t.Errorf("stored params changed to %v; want them as they were, legacy kept for a move back", stored)
	}
	in.Params = got
	rt, err := b.Render(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := rt.Services[0].Env["CURRENCY"]; got != "EUR" {
		t.Errorf("CURRENCY: got %q, want the default EUR", got)
	}

	for _, tt := range []struct {
		name    string
		stored  map[string]string
		wantErr string
	}{
		{"required missing", map[string]string{"legacy": "x"}, `parameter "admin_email" is required`},
		{"pattern refuses", map[string]string{"admin_email": "a@b.c", "currency": "eur"}, `parameter "currency": value "eur" does not match pattern "^[A-Z]{3}$"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.TenantParams(tt.stored)
			if errString(err) != tt.wantErr || stamp.ErrorCode(err) != stamp.EUNPROCESSABLE {
				t.Errorf("got %q (%s), want %q (%s)", errString(err), stamp.ErrorCode(err), tt.wantErr, stamp.EUNPROCESSABLE)
			}
			// Undoing a move must still render: KnownParams gives what
			// is stored, unchecked, and defaults for the rest.
			known := b.KnownParams(tt.stored)
			for name, p := range b.Parameters {
				want, ok := tt.stored[name]
				if !ok {
					want = p.Default
				}
				if known[name] != want {
					t.Errorf("KnownParams[%s] = %q, want %q", name, known[name], want)
				}
			}
			if _, ok := known["legacy"]; ok {
				t.Errorf("KnownParams kept legacy, which this version does not declare")
			}
		})
	}
}
