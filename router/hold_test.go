package router

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// TestHoldDuringRecreate has requests reach a tenant whose recreate
// upgrade stopped its old version: they wait, and are proxied to the new
// version once its route serves.
func TestHoldDuringRecreate(t *testing.T) {
	src := newFakeSource()
	src.put(recreating("acme")) // old version stopped: no endpoint
	r, srv := serve(t, src)

	const n = 5
	answers := make(chan answer, n)
	for range n {
		go func() { answers <- get(t, srv, "acme.localhost", "/held", "") }()
	}
	// Nothing to wait on: the check is that no answer comes meanwhile.
	time.Sleep(100 * time.Millisecond)
	select {
	case a := <-answers:
		t.Fatalf("a request was answered while the tenant had no endpoint: %d %s", a.status, a.body)
	default:
	}
	src.put(upgrading("acme", backend(t, "acme-new")))
	if err := r.SyncTenant(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	for range n {
		a := <-answers
		if a.status != http.StatusOK || decodeEcho(t, a).Tenant != "acme-new" {
			t.Errorf("held request: got %d %s, want 200 from the new version", a.status, a.body)
		}
	}
	if st := r.Stats("acme"); st.Requests != n || st.Errors5xx != 0 {
		t.Errorf("stats: got %+v, want %d requests and no 5xx", st, n)
	}
}

// TestHoldIsBounded checks that a held request is answered 503, saying
// why, once the hold timeout passes, and that tenants that are merely not
// ready are still refused at once.
func TestHoldIsBounded(t *testing.T) {
	src := newFakeSource()
	src.put(recreating("acme"))
	src.put(upgrading("globex")) // upgrading, but serving nothing public
	src.put(inPhase("initech", "provisioning"))
	r := New(Config{Source: src, Logger: quiet, HoldTimeout: 50 * time.Millisecond})
	if err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	start := time.Now()
	a := get(t, srv, "acme.localhost", "/", "")
	if took := time.Since(start); a.status != http.StatusServiceUnavailable || took < 50*time.Millisecond ||
		!strings.Contains(a.body, "did not serve within 50ms") {
		t.Errorf("held past the timeout: got %d %q after %s, want 503 after 50ms", a.status, a.body, took)
	}
	for _, host := range []string{"globex.localhost", "initech.localhost"} {
		start = time.Now()
		if a := get(t, srv, host, "/", ""); a.status != http.StatusServiceUnavailable || time.Since(start) > 40*time.Millisecond {
			t.Errorf("%s: got %d after %s, want 503 at once", host, a.status, time.Since(start))
		}
	}
}

// recreating returns a tenant whose recreate upgrade stopped its old
// version.
func recreating(name string) *stamp.Tenant {
	t := upgrading(name)
	t.Status.Upgrade = &stamp.Upgrade{From: "1.0.0", To: "2.0.0", Recreate: true, Stopped: true}
	return t
}
