package notify

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/store/sqlite"
)

// openStore returns a real SQLite store holding one tenant.ready event
// and a webhook for it at url, positioned before the event.
func openStore(t *testing.T, url string) (*sqlite.Store, *stamp.Webhook) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "stamp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hook := &stamp.Webhook{ID: "wh-test", URL: url, Events: []string{"tenant.ready"}, Secret: "s3cret"}
	if err := st.CreateWebhook(ctx, hook); err != nil {
		t.Fatal(err)
	}
	if err := st.AppendEvents(ctx, &stamp.Event{Time: time.Now(), Type: stamp.EventTenantReady, Tenant: "acme"}); err != nil {
		t.Fatal(err)
	}
	return st, hook
}

// run starts n until the test ends.
func run(t *testing.T, n *Notifier) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); n.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// waitWebhook waits until cond holds for the stored webhook.
func waitWebhook(t *testing.T, st stamp.Store, id string, what string, cond func(*stamp.Webhook) bool) *stamp.Webhook {
	t.Helper()
	var w *stamp.Webhook
	eventually(t, 30*time.Second, what, func() bool {
		var err error
		if w, err = st.GetWebhook(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		return cond(w)
	})
	return w
}

// eventually waits until cond holds, polling it, and fails the test if
// it does not within timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSlowReceiverGetsOneDelivery: two servers deliver the same webhook;
// the receiver answers after 6s, longer than the old 5s lease but within
// the 10s timeout. The lease outlasts the attempt, so the other server
// does not send the event again.
func TestSlowReceiverGetsOneDelivery(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		time.Sleep(6 * time.Second) // the slow answer is the point of the test
	}))
	t.Cleanup(srv.Close)
	st, hook := openStore(t, srv.URL+"/hook")
	for _, holder := range []string{"server-a", "server-b"} {
		run(t, New(Config{Store: st, Holder: holder, Interval: 50 * time.Millisecond}))
	}
	w := waitWebhook(t, st, hook.ID, "the delivery", func(w *stamp.Webhook) bool { return w.Delivered > 0 })
	if got := calls.Load(); got != 1 || w.Failures != 0 {
		t.Errorf("receiver called %d times (failures %d, last error %q), want exactly 1", got, w.Failures, w.LastError)
	}
}

// TestDeliveryErrorsHideTheURL: a webhook whose URL carries a secret in its
// user, path and query fails, by status, by refused connection and by no
// answer in time; neither the recorded attempts, the webhook's last error
// nor the server log show more of the URL than its scheme and host.
func TestDeliveryErrorsHideTheURL(t *testing.T) {
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read to the end, or the server would not see the client go.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	t.Cleanup(silent.Close)
	tests := []struct {
		name, base string
		want       string // the last error, with base for %s
	}{
		{"status", failing.URL, "%s/… answered 500 Internal Server Error"},
		{"refused", closed.URL, "connect: connection refused"},
		{"no answer", silent.URL, "POST %s/…: no answer within 200ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := strings.Replace(tt.base, "://", "://admin:USERSECRET@", 1) + "/hooks/tok-PATHSECRET?key=QUERYSECRET"
			st, hook := openStore(t, u)
			var log syncBuffer
			run(t, New(Config{Store: st, Interval: 20 * time.Millisecond, MinBackoff: time.Hour, Timeout: 200 * time.Millisecond,
				Logger: slog.New(slog.NewTextHandler(&log, nil))}))
			w := waitWebhook(t, st, hook.ID, "a failed attempt", func(w *stamp.Webhook) bool { return w.Failures > 0 })
			attempts, err := st.ListDeliveryAttempts(context.Background(), hook.ID, 10)
			if err != nil || len(attempts) == 0 {
				t.Fatalf("attempts: %v %v", attempts, err)
			}
			shown := map[string]string{"last error": w.LastError, "attempt error": attempts[0].Error, "server log": log.String()}
			for what, text := range shown {
				if strings.Contains(text, "SECRET") || strings.Contains(text, "/hooks") || strings.Contains(text, "admin") {
					t.Errorf("%s shows the URL's user, path or query: %s", what, text)
				}
			}
			want := strings.ReplaceAll(tt.want, "%s", tt.base)
			if !strings.Contains(w.LastError, want) || !strings.Contains(w.LastError, tt.base+"/…") {
				t.Errorf("last error %q does not say %q, naming %s/…", w.LastError, want, tt.base)
			}
		})
	}
}

// syncBuffer is a log destination safe to read while the notifier writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
