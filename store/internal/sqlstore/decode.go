package sqlstore

import (
	"encoding/json"
	"time"

	"github.com/stamphq/stamp"
)

// The stores keep a resource's spec and status, or all of an incident or a
// webhook, as JSON, which keeps each time's offset as written; the store
// hands out every time in UTC. These functions put the times a row's JSON
// held in UTC, once it is decoded.

// TenantUTC puts the times of t's status in UTC.
func TenantUTC(t *stamp.Tenant) {
	utc(&t.Status.ReadyAt)
	if u := t.Status.Upgrade; u != nil {
		utc(&u.StartedAt, &u.SwitchedAt, &u.FinishedAt)
	}
}

// ReleaseUTC puts the times of r's status in UTC.
func ReleaseUTC(r *stamp.Release) {
	utc(&r.Status.GateSince, &r.Status.StartedAt, &r.Status.FinishedAt)
	for i := range r.Status.Tenants {
		utc(&r.Status.Tenants[i].StartedAt, &r.Status.Tenants[i].FinishedAt)
	}
}

// IncidentUTC puts the times of i, its timeline's included, in UTC.
func IncidentUTC(i *stamp.Incident) {
	utc(&i.OpenedAt, &i.AckedAt, &i.ResolvedAt)
	for n := range i.Timeline {
		utc(&i.Timeline[n].Time)
	}
}

// WebhookUTC puts the time of w's next attempt in UTC.
func WebhookUTC(w *stamp.Webhook) {
	utc(&w.NextAttempt)
}

func utc(times ...*time.Time) {
	for _, t := range times {
		*t = t.UTC()
	}
}

// MarshalIncident encodes i as JSON for its row, without ResourceVersion
// and UpdatedAt: their columns hold them, and a copy in the JSON would only
// go stale.
func MarshalIncident(i *stamp.Incident) ([]byte, error) {
	c := *i
	c.ResourceVersion, c.UpdatedAt = 0, time.Time{}
	return json.Marshal(&c)
}

// MarshalWebhook encodes w as JSON for its row, without ResourceVersion and
// the timestamps, for the same reason.
func MarshalWebhook(w *stamp.Webhook) ([]byte, error) {
	c := *w
	c.ResourceVersion, c.CreatedAt, c.UpdatedAt = 0, time.Time{}, time.Time{}
	return json.Marshal(&c)
}
