package httpapi

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// fakeListRaceStore holds each of the first armed ListReleases calls
// until all have read or half a second has passed: two release creations
// check at once unless something keeps the second from reading.
type fakeListRaceStore struct{ *fakeRaceStore }

func (s fakeListRaceStore) ListReleases(ctx context.Context) ([]*stamp.Release, error) {
	rs, err := s.Store.ListReleases(ctx)
	hctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if herr := s.hold(hctx); herr != nil && ctx.Err() != nil {
		return nil, herr
	}
	return rs, err
}

// TestConcurrentReleaseCreate makes two POST /v1/releases of one
// blueprint read the list of releases at once: without the lock both
// would pass the check and two unfinished releases would move the same
// tenants against each other.
func TestConcurrentReleaseCreate(t *testing.T) {
	race := &fakeRaceStore{}
	env := newTestEnv(t, func(c *Config) {
		race.Store = c.Store
		c.Store = fakeListRaceStore{race}
	})
	ctx := raceContext(t)
	env.pushLedgers(t)
	race.arm(2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, v := range []string{"1.1.0", "2.0.0"} {
		wg.Go(func() {
			_, errs[i] = env.client.CreateRelease(ctx, CreateReleaseRequest{Blueprint: "ledger", Version: v})
		})
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("creates of two releases of ledger at once: %v; want one created, one refused", errs)
	}
	refused := errs[0]
	if refused == nil {
		refused = errs[1]
	}
	if stamp.ErrorCode(refused) != stamp.ECONFLICT || !strings.Contains(stamp.ErrorMessage(refused), "abort it or wait until it ends") {
		t.Errorf("the refused create: %v; want ECONFLICT naming the release under way", refused)
	}
}

// TestWaveContentsAreValidated: a selector value "" would match every
// tenant without that label, silently making the wave "every tenant left".
func TestWaveContentsAreValidated(t *testing.T) {
	env := newTestEnv(t)
	env.pushLedgers(t)
	releaseFleet(t, env)
	for _, body := range []string{
		`{"blueprint":"ledger","version":"2.0.0","waves":[{"selector":{"ring":""}}]}`,
		`{"blueprint":"ledger","version":"2.0.0","waves":[{"selector":{"Ring":"canary"}}]}`,
		`{"blueprint":"ledger","version":"2.0.0","waves":[{"tenants":["Bad_Name"]}]}`,
	} {
		status, e, _ := env.call(t, "POST", "/v1/releases", body)
		if status != 400 {
			t.Errorf("%s: got %d %q, want 400 naming the bad wave", body, status, e.Message)
		}
		if rs, _ := env.store.ListReleases(context.Background()); len(rs) > 0 {
			env.finishRelease(t, rs[len(rs)-1].ID)
		}
	}
}

// TestReleaseOfNoTenantListsNone: "tenants":[] like every list of the
// API, not null.
func TestReleaseOfNoTenantListsNone(t *testing.T) {
	env := newTestEnv(t)
	env.pushLedgers(t)
	_, _, body := env.call(t, "POST", "/v1/releases", `{"blueprint":"crm","version":"1.0.0"}`)
	if !strings.Contains(string(body), `"tenants":[]`) {
		t.Errorf("got %s, want \"tenants\":[]", body)
	}
}
