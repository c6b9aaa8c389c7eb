package notify

import (
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

func TestMatches(t *testing.T) {
	w := &stamp.Webhook{Events: []string{"incident.*", "tenant.ready"}}
	for typ, want := range map[string]bool{
		"incident.opened": true, "incident.resolved": true, "tenant.ready": true,
		"tenant.failed": false, "release.created": false, "incidents.x": false,
	} {
		if got := w.Matches(typ); got != want {
			t.Errorf("Matches(%q) = %v, want %v", typ, got, want)
		}
	}
	all := &stamp.Webhook{Events: []string{"tenant.*"}}
	if !all.Matches("tenant.step") || all.Matches("tenantx.step") {
		t.Errorf("tenant.* should take every tenant event and nothing else")
	}
}

func TestSignVerify(t *testing.T) {
	body := []byte(`{"specversion":"1.0"}`)
	sig := Sign("s3cret", body)
	if !Verify("s3cret", body, sig) {
		t.Errorf("a signature does not verify: %s", sig)
	}
	if Verify("other", body, sig) || Verify("s3cret", append(body, ' '), sig) {
		t.Errorf("a wrong secret or a changed body verifies")
	}
	// Known value: HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
	if got, want := Sign("key", []byte("The quick brown fox jumps over the lazy dog")),
		"sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func TestBackoffDoublesToTheMax(t *testing.T) {
	n := New(Config{MinBackoff: time.Second, MaxBackoff: 10 * time.Second})
	var got []time.Duration
	for i := 1; i <= 6; i++ {
		got = append(got, n.backoff(i))
	}
	want := []time.Duration{1, 2, 4, 8, 10, 10}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("backoffs %v, want %v seconds", got, want)
		}
	}
}
