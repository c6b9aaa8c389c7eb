package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/httpapi"
	"github.com/stamphq/stamp/notify"
)

// receiver is a webhook endpoint on loopback that keeps every delivery it
// accepted; while down it answers 503.
type receiver struct {
	srv  *httptest.Server
	down atomic.Bool

	mu         sync.Mutex
	deliveries []delivery
	refused    int
}

type delivery struct {
	body      []byte
	signature string
	id        string // Stamp-Delivery
	event     notify.CloudEvent[*stamp.Event]
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.down.Load() {
			r.refused++
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		d := delivery{body: body, signature: req.Header.Get(notify.SignatureHeader), id: req.Header.Get(notify.DeliveryHeader)}
		if err := json.Unmarshal(body, &d.event); err != nil || req.Header.Get("Content-Type") != "application/cloudevents+json" {
			http.Error(w, "not a CloudEvent", http.StatusBadRequest)
			return
		}
		r.deliveries = append(r.deliveries, d)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// got returns the deliveries so far.
func (r *receiver) got() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.deliveries...)
}

// addWebhook subscribes the receiver to patterns and returns the webhook
// with its secret.
func addWebhook(t *testing.T, s *stampServer, r *receiver, patterns ...string) *stamp.Webhook {
	t.Helper()
	w, err := s.client().CreateWebhook(context.Background(), httpapi.CreateWebhookRequest{URL: r.srv.URL + "/hook", Events: patterns})
	if err != nil {
		t.Fatal(err)
	}
	if w.Secret == "" {
		t.Fatal("the new webhook's secret was not shown")
	}
	return w
}

// TestIncidentsReachAWebhookSigned kills a tenant's process: the webhook
// gets the incident's opening and resolution as CloudEvents with valid
// signatures.
func TestIncidentsReachAWebhookSigned(t *testing.T) {
	r := newReceiver(t)
	s := startStampServer(t, "--incident-grace", "1s")
	hook := addWebhook(t, s, r, "incident.*")
	s.mustCLI("blueprint", "push", blueprintDir(t))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger")
	waitMonitorHealthy(t, s, "acme")
	procs := tenantProcesses(t, s.data)
	if err := syscall.Kill(procs[0].pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "incident.opened and incident.resolved at the webhook", 30*time.Second, func() bool {
		return len(r.got()) >= 2
	})
	var types []string
	for _, d := range r.got() {
		types = append(types, d.event.Type)
		if !notify.Verify(hook.Secret, d.body, d.signature) {
			t.Errorf("delivery %s: signature %q does not verify", d.id, d.signature)
		}
		ev := d.event
		if ev.SpecVersion != "1.0" || ev.Subject != "acme" || ev.Data == nil || ev.Data.Incident == "" ||
			ev.ID != strconv.FormatInt(ev.Data.Seq, 10) || d.id != hook.ID+"/"+ev.ID {
			t.Errorf("delivery: %+v (id header %q)", ev, d.id)
		}
	}
	if strings.Join(types, " ") != "stamp.incident.opened stamp.incident.resolved" {
		t.Errorf("types delivered: %v", types)
	}
	if out := s.mustCLI("webhook", "attempts", hook.ID); !strings.Contains(out, "200") {
		t.Errorf("attempts lack the successes:\n%s", out)
	}
}

// TestWebhookOutageAndRestartLoseNothing keeps the receiver down while
// tenants are created and the server is killed and restarted: once the
// receiver is back, every matching event of the log arrives, each
// tenant's in order, and the failed attempts are on record.
func TestWebhookOutageAndRestartLoseNothing(t *testing.T) {
	r := newReceiver(t)
	r.down.Store(true)
	s := startStampServer(t)
	hook := addWebhook(t, s, r, "tenant.*")
	s.mustCLI("blueprint", "push", blueprintDir(t))
	createTenants(t, s, "2.0.0", "a1", "b2")
	waitFor(t, "failed attempts", 30*time.Second, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.refused >= 2
	})
	s.kill()
	s.start()
	createTenants(t, s, "2.0.0", "c3")
	r.down.Store(false)

	events, err := s.client().Events(context.Background(), stamp.EventFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, e := range events {
		if strings.HasPrefix(e.Type, "tenant.") {
			want[strconv.FormatInt(e.Seq, 10)] = true
		}
	}
	waitFor(t, "every tenant event at the webhook", time.Minute, func() bool {
		got := map[string]bool{}
		for _, d := range r.got() {
			got[d.event.ID] = true
		}
		for id := range want {
			if !got[id] {
				return false
			}
		}
		return true
	})
	last := map[string]int64{}
	for _, d := range r.got() {
		if !notify.Verify(hook.Secret, d.body, d.signature) {
			t.Errorf("delivery %s does not verify", d.id)
		}
		seq := d.event.Data.Seq
		if seq < last[d.event.Subject] {
			t.Errorf("tenant %s: event %d arrived after %d", d.event.Subject, seq, last[d.event.Subject])
		}
		last[d.event.Subject] = max(last[d.event.Subject], seq)
	}
	attempts, err := s.client().DeliveryAttempts(context.Background(), hook.ID)
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, a := range attempts {
		if a.Status == http.StatusServiceUnavailable && strings.Contains(a.Error, "503") {
			failed++
		}
	}
	if failed < 2 {
		t.Errorf("%d failed attempts on record, want the outage's", failed)
	}
}
