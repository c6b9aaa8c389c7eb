package stamp

import (
	"net/url"
	"path"
	"time"
)

// Webhook is a subscription: events whose type matches one of Events are
// delivered to URL as CloudEvents, one at a time in log order, each
// signed with Secret. The event log is the outbox: Delivered is the
// position in it up to which every matching event was delivered, so
// delivery resumes there after a restart and an event is sent at least
// once. A failing endpoint is retried with backoff and holds back only
// its own webhook's later events.
type Webhook struct {
	ID  string `json:"id"`
	URL string `json:"url"`
	// Events are type patterns ("incident.*", "tenant.ready"); path.Match
	// syntax, where "*" does not cross a dot.
	Events []string `json:"events"`
	// Secret keys the HMAC-SHA256 signature of each delivery. The API
	// shows it once, when the webhook is created.
	Secret string `json:"secret,omitempty"`
	// Delivered is the Seq of the last event delivered (or passed over as
	// not matching); delivery goes on after it.
	Delivered int64 `json:"delivered"`
	// AuditDelivered is the Seq of the last audit record delivered, to a
	// webhook whose patterns take audit.recorded; its delivery goes on
	// after it, once the events are.
	AuditDelivered int64 `json:"auditDelivered,omitempty"`
	// Failures counts the failed attempts at the next event since the last
	// success; NextAttempt is when it is tried again; LastError says why
	// the last attempt failed.
	Failures        int       `json:"failures"`
	NextAttempt     time.Time `json:"nextAttempt,omitzero"`
	LastError       string    `json:"lastError,omitempty"`
	ResourceVersion int64     `json:"resourceVersion"`
	CreatedAt       time.Time `json:"createdAt"`
	UpdatedAt       time.Time `json:"updatedAt"`
}

// Matches reports whether events of type typ go to w.
func (w *Webhook) Matches(typ string) bool {
	for _, p := range w.Events {
		if ok, _ := path.Match(p, typ); ok {
			return true
		}
		// "tenant.*" also takes "tenant.step" and deeper, as a user means.
		if len(p) > 2 && p[len(p)-2:] == ".*" && len(typ) > len(p)-1 && typ[:len(p)-1] == p[:len(p)-1] {
			return true
		}
	}
	return false
}

// DeliveryAttempt is one try at delivering one event to one webhook.
type DeliveryAttempt struct {
	Webhook  string `json:"webhook"`
	EventSeq int64  `json:"eventSeq"`
	// AuditSeq is the Seq of the audit record delivered, EventSeq 0, for
	// an attempt at an audit record.
	AuditSeq int64         `json:"auditSeq,omitempty"`
	Attempt  int           `json:"attempt"` // 1 for the first try of the event
	At       time.Time     `json:"at"`
	Status   int           `json:"status,omitempty"` // HTTP status; 0 if none came
	Error    string        `json:"error,omitempty"`  // empty for a success
	Duration time.Duration `json:"duration"`
}

// RedactURL returns raw as scheme://host/… , hiding the user, path, query
// and fragment, which may carry a secret: a webhook's URL is shown whole
// only to the admin who adds it. A URL that does not parse is hidden
// whole.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "…"
	}
	short := u.Scheme + "://" + u.Host
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		short += "/…"
	}
	return short
}
