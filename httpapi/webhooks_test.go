package httpapi

import (
	"context"
	"strings"
	"testing"

	"github.com/stamphq/stamp"
)

// TestWebhookURLShownWholeOnlyToItsCreator: the answer to create shows
// the URL whole; listing, getting and the attempts show scheme://host/…
// only, since the path or query may hold a secret, also in errors
// recorded before the redaction.
func TestWebhookURLShownWholeOnlyToItsCreator(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	const url = "https://hooks.example.com/services/PATHSECRET?key=QUERYSECRET"
	w, err := env.client.CreateWebhook(ctx, CreateWebhookRequest{URL: url, Events: []string{"tenant.*"}})
	if err != nil {
		t.Fatal(err)
	}
	if w.URL != url {
		t.Errorf("create answered URL %q, want %q", w.URL, url)
	}
	// Errors recorded with the whole URL, as servers before the redaction
	// did.
	old := `Post "` + url + `": dial tcp: connection refused`
	if err := env.store.AppendDeliveryAttempt(ctx, &stamp.DeliveryAttempt{Webhook: w.ID, EventSeq: 1, Attempt: 1, Error: old}); err != nil {
		t.Fatal(err)
	}
	stored, err := env.store.GetWebhook(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	stored.Failures, stored.LastError = 1, old
	if err := env.store.UpdateWebhook(ctx, stored); err != nil {
		t.Fatal(err)
	}
	attempts, err := env.client.DeliveryAttempts(ctx, w.ID)
	if err != nil || len(attempts) != 1 || attempts[0].Error != `Post "https://hooks.example.com/…": dial tcp: connection refused` {
		t.Errorf("attempts: %+v %v; want the error with the URL redacted", attempts, err)
	}
	list, err := env.client.Webhooks(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	if got := list[0]; got.URL != "https://hooks.example.com/…" || strings.Contains(got.LastError, "SECRET") {
		t.Errorf("list shows URL %q, last error %q; want https://hooks.example.com/… in both", got.URL, got.LastError)
	}
	status, _, body := env.call(t, "GET", "/v1/webhooks/"+w.ID, "")
	if status != 200 || strings.Contains(string(body), "SECRET") {
		t.Errorf("get: %d %s; want 200 without the URL's path or query", status, body)
	}
}

// TestWebhookPatternsMustMatchAnEventType refuses a pattern no event
// type matches, such as a typo, which would deliver nothing, silently.
func TestWebhookPatternsMustMatchAnEventType(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	for _, ok := range [][]string{{"tenant.ready"}, {"incident.*"}, {"*"}, {"*.*", "release.gate"}} {
		if _, err := env.client.CreateWebhook(ctx, CreateWebhookRequest{URL: "https://hooks.example.com/x", Events: ok}); err != nil {
			t.Errorf("events %q: %v", ok, err)
		}
	}
	_, err := env.client.CreateWebhook(ctx, CreateWebhookRequest{URL: "https://hooks.example.com/x", Events: []string{"tenant.*", "tenant.redy"}})
	if stamp.ErrorCode(err) != stamp.EINVALID || !strings.Contains(stamp.ErrorMessage(err), `event pattern "tenant.redy" matches no event type; the types are audit.recorded, blueprint.built, `) {
		t.Errorf("a pattern matching nothing: %v; want it refused, listing the types", err)
	}
}
