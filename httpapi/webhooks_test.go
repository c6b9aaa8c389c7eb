package httpapi

import (
	"context"
	"strings"
	"testing"
)

// TestWebhookURLShownWholeOnlyToItsCreator: the answer to create shows
// the URL whole; listing shows scheme://host/… only, since the path or
// query may hold a secret.
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
	list, err := env.client.Webhooks(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	if got := list[0].URL; got != "https://hooks.example.com/…" {
		t.Errorf("list shows URL %q, want https://hooks.example.com/…", got)
	}
	status, _, body := env.call(t, "GET", "/v1/webhooks/"+w.ID, "")
	if status != 200 || strings.Contains(string(body), "SECRET") {
		t.Errorf("get: %d %s; want 200 without the URL's path or query", status, body)
	}
}
