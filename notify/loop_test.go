package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// receiver is a webhook endpoint on loopback that records every request
// and answers the nth (1-based) with the status answer gives.
type receiver struct {
	srv    *httptest.Server
	answer func(n int) int

	mu  sync.Mutex
	got []delivery
}

// delivery is one request a receiver got.
type delivery struct {
	at     time.Time
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, answer func(n int) int) *receiver {
	r := &receiver{answer: answer}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			t.Errorf("read a delivery: %v", err)
		}
		r.mu.Lock()
		r.got = append(r.got, delivery{at: time.Now(), header: req.Header.Clone(), body: body})
		n := len(r.got)
		r.mu.Unlock()
		w.WriteHeader(r.answer(n))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func always(status int) func(int) int { return func(int) int { return status } }

// TestDeliversEachMatchingEventOnceInOrder runs two servers over one
// store: the matching events reach the receiver once each, in log order,
// signed and as CloudEvents; the others are passed over, the last of
// them too, and so are those of the warm pool's stamps, which are no
// one's tenants.
func TestDeliversEachMatchingEventOnceInOrder(t *testing.T) {
	r := newReceiver(t, always(http.StatusOK))
	st, hook := openStore(t, r.srv.URL+"/hook") // event 1: tenant.ready of acme
	more := []*stamp.Event{
		{Type: stamp.EventTenantFailed, Tenant: "acme"},
		{Type: stamp.EventTenantReady, Tenant: "globex"},
		{Type: stamp.EventTenantReady, Tenant: stamp.PoolPrefix + "0a1b2c3d4e"},
		{Type: stamp.EventTenantReady, Tenant: "initech"},
		{Type: stamp.EventTenantDeleted, Tenant: "acme"},
	}
	if err := st.AppendEvents(t.Context(), more...); err != nil {
		t.Fatal(err)
	}
	for _, holder := range []string{"server-a", "server-b"} {
		run(t, New(Config{Store: st, Holder: holder, Interval: 10 * time.Millisecond, Source: "stamp-test"}))
	}
	last := more[len(more)-1].Seq
	waitWebhook(t, st, hook.ID, "the position past the last event", func(w *stamp.Webhook) bool { return w.Delivered == last })

	want := []struct {
		seq    int64
		tenant string
	}{{1, "acme"}, {more[1].Seq, "globex"}, {more[3].Seq, "initech"}}
	got := r.deliveries()
	if len(got) != len(want) {
		t.Fatalf("%d deliveries, want %d", len(got), len(want))
	}
	for i, d := range got {
		id := strconv.FormatInt(want[i].seq, 10)
		if h := d.header.Get(DeliveryHeader); h != hook.ID+"/"+id {
			t.Errorf("delivery %d: %s %q, want %q", i, DeliveryHeader, h, hook.ID+"/"+id)
		}
		if !Verify(hook.Secret, d.body, d.header.Get(SignatureHeader)) {
			t.Errorf("delivery %d: signature %q does not verify", i, d.header.Get(SignatureHeader))
		}
		if ct := d.header.Get("Content-Type"); ct != "application/cloudevents+json" {
			t.Errorf("delivery %d: Content-Type %q", i, ct)
		}
		var ce CloudEvent[*stamp.Event]
		if err := json.Unmarshal(d.body, &ce); err != nil {
			t.Fatalf("delivery %d: %v\n%s", i, err, d.body)
		}
		if ce.SpecVersion != "1.0" || ce.ID != id || ce.Source != "stamp-test" || ce.Type != "stamp.tenant.ready" ||
			ce.Subject != want[i].tenant || ce.Data == nil || ce.Data.Seq != want[i].seq {
			t.Errorf("delivery %d: %+v, want event %s of %s from stamp-test", i, ce, id, want[i].tenant)
		}
	}
	attempts, err := st.ListDeliveryAttempts(t.Context(), hook.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(attempts) != len(want) {
		t.Fatalf("%d attempts recorded, want %d", len(attempts), len(want))
	}
	for _, a := range attempts {
		if a.Attempt != 1 || a.Status != http.StatusOK || a.Error != "" {
			t.Errorf("attempt %+v, want a first attempt answered 200", a)
		}
	}
}

// TestRetriesAfterAServerError: the receiver answers the first attempt
// with 500; the event is sent again, once the backoff has passed, with
// the same delivery id, and its success clears the failure.
func TestRetriesAfterAServerError(t *testing.T) {
	r := newReceiver(t, func(n int) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	})
	st, hook := openStore(t, r.srv.URL+"/hook")
	const backoff = 100 * time.Millisecond
	run(t, New(Config{Store: st, Interval: 10 * time.Millisecond, MinBackoff: backoff}))
	w := waitWebhook(t, st, hook.ID, "the delivery", func(w *stamp.Webhook) bool { return w.Delivered > 0 })

	if w.Failures != 0 || w.LastError != "" || !w.NextAttempt.IsZero() {
		t.Errorf("webhook after the success: failures %d, last error %q, next attempt %s; want all cleared", w.Failures, w.LastError, w.NextAttempt)
	}
	got := r.deliveries()
	if len(got) != 2 {
		t.Fatalf("%d requests, want 2", len(got))
	}
	for i, d := range got {
		if h := d.header.Get(DeliveryHeader); h != hook.ID+"/1" {
			t.Errorf("request %d: %s %q, want %q on every attempt", i+1, DeliveryHeader, h, hook.ID+"/1")
		}
	}
	attempts, err := st.ListDeliveryAttempts(t.Context(), hook.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(attempts) != 2 {
		t.Fatalf("%d attempts recorded, want 2: %+v", len(attempts), attempts)
	}
	second, first := attempts[0], attempts[1] // newest first
	if want := r.srv.URL + "/… answered 500 Internal Server Error"; first.Attempt != 1 || first.Status != 500 || first.Error != want {
		t.Errorf("first attempt: %+v, want attempt 1, status 500, error %q", first, want)
	}
	if second.Attempt != 2 || second.Status != http.StatusNoContent || second.Error != "" {
		t.Errorf("second attempt: %+v, want attempt 2 answered 204", second)
	}
	if wait := second.At.Sub(first.At); wait < backoff {
		t.Errorf("retried %s after the first attempt, want at least the backoff, %s", wait, backoff)
	}
}

// TestWaitsForALeaseHeldElsewhere: another server holds the webhook's
// lease and dies (it renews it no more). This one delivers once the lease
// has expired, not before.
func TestWaitsForALeaseHeldElsewhere(t *testing.T) {
	r := newReceiver(t, always(http.StatusOK))
	st, hook := openStore(t, r.srv.URL+"/hook")
	const ttl = 300 * time.Millisecond
	taken := time.Now()
	if ok, err := st.TryLease(t.Context(), leaseKey(hook.ID), "server-b", ttl); err != nil || !ok {
		t.Fatalf("server-b taking the lease: %v %v", ok, err)
	}
	run(t, New(Config{Store: st, Holder: "server-a", Interval: 10 * time.Millisecond}))
	waitWebhook(t, st, hook.ID, "the delivery", func(w *stamp.Webhook) bool { return w.Delivered > 0 })

	got := r.deliveries()
	if len(got) != 1 {
		t.Fatalf("%d deliveries, want 1", len(got))
	}
	if early := taken.Add(ttl).Sub(got[0].at); early > 0 {
		t.Errorf("delivered %s before server-b's lease expired", early)
	}
	if ok, err := st.TryLease(t.Context(), leaseKey(hook.ID), "server-b", ttl); err != nil || ok {
		t.Errorf("server-b taking the lease back: %v %v, want it held by server-a", ok, err)
	}
}

// TestDeletedWebhookEndsItsLoop: once its webhook is deleted, a delivery
// loop ends, leaving no goroutine behind.
func TestDeletedWebhookEndsItsLoop(t *testing.T) {
	r := newReceiver(t, always(http.StatusOK))
	st, hook := openStore(t, r.srv.URL+"/hook")
	n := New(Config{Store: st, Interval: 10 * time.Millisecond})
	run(t, n)
	waitWebhook(t, st, hook.ID, "the delivery", func(w *stamp.Webhook) bool { return w.Delivered > 0 })
	if err := st.DeleteWebhook(context.Background(), hook.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the delivery loop to end", func() bool { return n.loops() == 0 })
}

// loops returns how many delivery loops run in n.
func (n *Notifier) loops() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.running)
}
