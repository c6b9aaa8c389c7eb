package stamp

import (
	"regexp"
	"strings"
	"testing"
)

// dnsLabel is what a valid name is: a DNS label, lowercase.
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// FuzzValidateName checks that a name passes ValidateName exactly when it
// is a lowercase DNS label, ValidateTenantName when it is also neither
// reserved nor a warm pool's, that neither panics, and that a refusal is
// EINVALID and short (it quotes at most about 70 bytes of the name).
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"acme", "a", "acme-corp-2", "", "-x", "x-", "Acme", "pool-1", "api", "a_b", strings.Repeat("a", 64), "é", "a\x00b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateName("tenant", name)
		if (err == nil) != dnsLabel.MatchString(name) {
			t.Fatalf("ValidateName(%q): %v, but the name is a DNS label: %t", name, err, dnsLabel.MatchString(name))
		}
		terr := ValidateTenantName(name)
		if err == nil {
			wantTenant := !reservedNames[name] && !strings.HasPrefix(name, PoolPrefix)
			if (terr == nil) != wantTenant {
				t.Fatalf("ValidateTenantName(%q): %v, want accepted %t", name, terr, wantTenant)
			}
		} else if terr == nil {
			t.Fatalf("ValidateTenantName(%q) accepts what ValidateName refuses", name)
		}
		for _, e := range []error{err, terr} {
			if e == nil {
				continue
			}
			if ErrorCode(e) != EINVALID {
				t.Fatalf("refusal of %q: code %q, want %q", name, ErrorCode(e), EINVALID)
			}
			if len(e.Error()) > 400 {
				t.Fatalf("refusal of a %d-byte name is %d bytes long", len(name), len(e.Error()))
			}
		}
	})
}
