// Package notify delivers events to webhooks as CloudEvents 1.0 (JSON,
// structured mode), signed with HMAC-SHA256 over the body.
//
// The event log is the outbox. Each webhook keeps its position in the log
// (Webhook.Delivered) and gets the events matching its patterns one at a
// time, in log order, so a tenant's events arrive in the order they
// happened. A delivery that fails is retried with exponential backoff and
// holds back only that webhook's later events; other webhooks go on. The
// position is written after each success, so after a crash or restart
// delivery resumes where it was: at least once, never lost. Receivers
// drop repeats by the CloudEvents id (the event's Seq, also sent as
// Stamp-Delivery). Each webhook is delivered by one control-plane process
// at a time, the holder of its lease.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stamphq/stamp"
)

// Headers of a delivery.
const (
	// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the
	// request body keyed with the webhook's secret.
	SignatureHeader = "Stamp-Signature"
	// DeliveryHeader carries "<webhook id>/<event seq>": the same on every
	// attempt of one delivery, so a receiver can drop repeats.
	DeliveryHeader = "Stamp-Delivery"
)

// CloudEvent is the body of a delivery: a CloudEvents 1.0 event in
// structured JSON mode whose data is a Stamp event, or an audit record.
type CloudEvent[D any] struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            string    `json:"type"`
	Subject         string    `json:"subject,omitempty"`
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	Data            D         `json:"data"`
}

// NewCloudEvent wraps e: id is its Seq, type "stamp." and its type,
// subject its tenant.
func NewCloudEvent(source string, e *stamp.Event) *CloudEvent[*stamp.Event] {
	return &CloudEvent[*stamp.Event]{
		SpecVersion: "1.0", ID: strconv.FormatInt(e.Seq, 10), Source: source,
		Type: "stamp." + e.Type, Subject: e.Tenant, Time: e.Time,
		DataContentType: "application/json", Data: e,
	}
}

// NewAuditCloudEvent wraps rec: id "audit-" and its Seq, type
// "stamp.audit.recorded", subject its tenant.
func NewAuditCloudEvent(source string, rec *stamp.AuditRecord) *CloudEvent[*stamp.AuditRecord] {
	return &CloudEvent[*stamp.AuditRecord]{
		SpecVersion: "1.0", ID: auditID(rec.Seq), Source: source,
		Type: "stamp." + stamp.EventAuditRecorded, Subject: rec.Tenant, Time: rec.At,
		DataContentType: "application/json", Data: rec,
	}
}

// auditID is the CloudEvents id of audit record seq, apart from events'.
func auditID(seq int64) string { return "audit-" + strconv.FormatInt(seq, 10) }

// Sign returns the value of SignatureHeader for body under secret.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether signature (SignatureHeader's value) is body's
// under secret, in constant time.
func Verify(secret string, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(signature))
}

// Store is the part of stamp.Store a Notifier uses: the webhooks and
// their attempts, the events it delivers, and a lease per webhook.
type Store interface {
	stamp.WebhookStore
	stamp.EventLog
	stamp.AuditLog
	stamp.LeaseStore
}

// Config holds a Notifier's dependencies and tunables.
type Config struct {
	Store Store
	// Holder names this process in the leases it takes, as for tenants.
	Holder string
	// Timeout bounds one delivery attempt, default 10s. The lease on a
	// webhook is derived from it (see leaseTTL), so that it never runs out
	// while an attempt is under way and another server delivers the same
	// event again.
	Timeout time.Duration
	// Interval is how often webhooks and new events are looked for;
	// default 250ms.
	Interval time.Duration
	// Source is the CloudEvents source of every delivery; default
	// "stamp".
	Source string
	// Client sends deliveries, each under Timeout; default
	// http.DefaultClient's settings.
	Client *http.Client
	// MinBackoff and MaxBackoff bound the wait before retrying a failed
	// delivery; it doubles from one to the other. Default 1s and 5m.
	MinBackoff, MaxBackoff time.Duration
	Clock                  stamp.Clock
	Logger                 *slog.Logger
}

// Notifier delivers to every webhook whose lease it holds.
type Notifier struct {
	cfg Config

	mu      sync.Mutex
	running map[string]bool // webhooks with a delivery loop in this process
}

// New returns a Notifier; nothing runs until Run.
func New(cfg Config) *Notifier {
	if cfg.Holder == "" {
		cfg.Holder = "stamp"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 250 * time.Millisecond
	}
	if cfg.Source == "" {
		cfg.Source = "stamp"
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(5*time.Minute, cfg.MinBackoff)
	}
	if cfg.Clock == nil {
		cfg.Clock = stamp.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Notifier{cfg: cfg, running: map[string]bool{}}
}

// Run starts a delivery loop for each webhook whose lease this process
// takes, until ctx ends; then it waits for them.
func (n *Notifier) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ticker := time.NewTicker(n.cfg.Interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		hooks, err := n.cfg.Store.ListWebhooks(ctx)
		if err != nil {
			if ctx.Err() == nil {
				n.cfg.Logger.Error("list webhooks", "err", err)
			}
			continue
		}
		for _, w := range hooks {
			n.mu.Lock()
			running := n.running[w.ID]
			n.mu.Unlock()
			if running {
				continue
			}
			ok, err := n.cfg.Store.TryLease(ctx, leaseKey(w.ID), n.cfg.Holder, n.leaseTTL())
			if err != nil || !ok {
				continue
			}
			n.mu.Lock()
			n.running[w.ID] = true
			n.mu.Unlock()
			wg.Add(1)
			go func(id string) {
				defer wg.Done()
				defer func() {
					n.mu.Lock()
					delete(n.running, id)
					n.mu.Unlock()
				}()
				if err := n.deliverLoop(ctx, id); err != nil && ctx.Err() == nil {
					n.cfg.Logger.Warn("webhook delivery loop ended", "webhook", id, "err", err)
				}
			}(w.ID)
		}
	}
}

func leaseKey(id string) string { return "webhook/" + id }

// leaseTTL is how long a webhook's lease lasts: longer than an attempt
// (Timeout) with as long again for recording it and the wait before the
// lease is renewed, so the holder renews it before it can run out.
func (n *Notifier) leaseTTL() time.Duration {
	return 2*n.cfg.Timeout + n.cfg.Interval
}

// page is how many events one read of the log takes.
const page = 200

// deliverLoop delivers the events of webhook id while this process holds
// its lease; it returns when the lease is lost, the webhook deleted or ctx
// ends.
func (n *Notifier) deliverLoop(ctx context.Context, id string) error {
	for {
		ok, err := n.cfg.Store.TryLease(ctx, leaseKey(id), n.cfg.Holder, n.leaseTTL())
		if err != nil || !ok {
			return err
		}
		w, err := n.cfg.Store.GetWebhook(ctx, id)
		if stamp.ErrorCode(err) == stamp.ENOTFOUND {
			return nil
		}
		if err != nil {
			return err
		}
		wait := n.cfg.Interval
		if now := n.cfg.Clock.Now(); w.NextAttempt.After(now) {
			wait = min(w.NextAttempt.Sub(now), n.leaseTTL()/3)
		} else {
			busy, err := n.step(ctx, w)
			if err != nil {
				return err
			}
			if busy {
				wait = 0
			}
		}
		if wait > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
		}
	}
}

// step reads the events after w's position and delivers the first that
// matches, passing over the others; it reports whether there may be more
// to do at once.
func (n *Notifier) step(ctx context.Context, w *stamp.Webhook) (bool, error) {
	events, err := n.cfg.Store.ListEvents(ctx, stamp.EventFilter{AfterSeq: w.Delivered, Limit: page})
	if err != nil {
		return false, fmt.Errorf("read events: %w", err)
	}
	skipped := w.Delivered
	for _, e := range events {
		if !w.Matches(e.Type) || strings.HasPrefix(e.Tenant, stamp.PoolPrefix) {
			// A stamp of the warm pool is no one's tenant: what befalls
			// it is the server's business, not a subscriber's.
			skipped = e.Seq
			continue
		}
		if skipped != w.Delivered {
			// Save the passed-over stretch first, so a failing delivery
			// does not read it again and again.
			w.Delivered = skipped
			if err := n.cfg.Store.UpdateWebhook(ctx, w); err != nil {
				return false, fmt.Errorf("save position of webhook %s: %w", w.ID, err)
			}
		}
		body, err := json.Marshal(NewCloudEvent(n.cfg.Source, e))
		if err != nil {
			return false, err
		}
		return true, n.deliver(ctx, w, outgoing{eventSeq: e.Seq, id: strconv.FormatInt(e.Seq, 10), body: body})
	}
	if skipped != w.Delivered {
		w.Delivered = skipped
		if err := n.cfg.Store.UpdateWebhook(ctx, w); err != nil {
			return false, fmt.Errorf("save position of webhook %s: %w", w.ID, err)
		}
	}
	if len(events) == page || !w.Matches(stamp.EventAuditRecorded) {
		return len(events) == page, nil
	}
	// The events delivered, the audit log's records follow.
	recs, err := n.cfg.Store.ListAudit(ctx, stamp.AuditFilter{AfterSeq: w.AuditDelivered, Limit: 1})
	if err != nil || len(recs) == 0 {
		return false, err
	}
	body, err := json.Marshal(NewAuditCloudEvent(n.cfg.Source, recs[0]))
	if err != nil {
		return false, err
	}
	return true, n.deliver(ctx, w, outgoing{auditSeq: recs[0].Seq, id: auditID(recs[0].Seq), body: body})
}

// outgoing is one event, or one audit record, to send to a webhook.
type outgoing struct {
	eventSeq, auditSeq int64 // the one of them it is
	id                 string
	body               []byte
}

// deliver sends d to w once and records the attempt and its outcome.
func (n *Notifier) deliver(ctx context.Context, w *stamp.Webhook, d outgoing) error {
	start := n.cfg.Clock.Now()
	status, sendErr := n.send(ctx, w, d)
	if ctx.Err() != nil {
		return nil // cut off by shutdown: the attempt does not count
	}
	a := &stamp.DeliveryAttempt{Webhook: w.ID, EventSeq: d.eventSeq, AuditSeq: d.auditSeq, Attempt: w.Failures + 1, At: start,
		Status: status, Duration: n.cfg.Clock.Now().Sub(start)}
	if sendErr != nil {
		a.Error = sendErr.Error()
		w.Failures++
		w.LastError = a.Error
		w.NextAttempt = start.Add(n.backoff(w.Failures))
		n.cfg.Logger.Warn("webhook delivery failed", "webhook", w.ID, "delivery", d.id, "attempt", a.Attempt, "retry_at", w.NextAttempt, "err", sendErr)
	} else {
		w.Failures, w.LastError, w.NextAttempt = 0, "", time.Time{}
		if d.auditSeq > 0 {
			w.AuditDelivered = d.auditSeq
		} else {
			w.Delivered = d.eventSeq
		}
	}
	if err := n.cfg.Store.AppendDeliveryAttempt(ctx, a); err != nil {
		return fmt.Errorf("record delivery attempt: %w", err)
	}
	if err := n.cfg.Store.UpdateWebhook(ctx, w); err != nil {
		return fmt.Errorf("save webhook %s: %w", w.ID, err)
	}
	return nil
}

// send POSTs body within Timeout and returns the status; a non-2xx
// status is an error. Errors show the URL redacted (stamp.RedactURL): it
// may hold a secret, and they are stored and shown to every reader of the
// webhook.
func (n *Notifier) send(ctx context.Context, w *stamp.Webhook, d outgoing) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(d.body))
	if err != nil {
		return 0, fmt.Errorf("webhook URL %s is not valid", stamp.RedactURL(w.URL))
	}
	req.Header.Set("Content-Type", "application/cloudevents+json")
	req.Header.Set("User-Agent", "stamp-webhook")
	req.Header.Set(SignatureHeader, Sign(w.Secret, d.body))
	req.Header.Set(DeliveryHeader, w.ID+"/"+d.id)
	resp, err := n.cfg.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = stamp.RedactURL(ue.URL)
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return 0, fmt.Errorf("POST %s: no answer within %s", stamp.RedactURL(w.URL), n.cfg.Timeout)
		}
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("%s answered %s", stamp.RedactURL(w.URL), resp.Status)
	}
	return resp.StatusCode, nil
}

// backoff is the wait before retry n (1-based).
func (n *Notifier) backoff(failures int) time.Duration {
	d := n.cfg.MinBackoff
	for i := 1; i < failures && d < n.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, n.cfg.MaxBackoff)
}
