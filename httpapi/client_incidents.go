package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/stamphq/stamp"
)

// Incidents lists the incidents f selects, newest first.
func (c *Client) Incidents(ctx context.Context, f stamp.IncidentFilter) ([]*stamp.Incident, error) {
	q := url.Values{}
	if f.Tenant != "" {
		q.Set("tenant", f.Tenant)
	}
	if f.Open {
		q.Set("open", "1")
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out incidentList
	if err := c.do(ctx, http.MethodGet, "/v1/incidents?"+q.Encode(), nil, &out); err != nil {
		return nil, err
	}
	return out.Incidents, nil
}

// Incident returns incident id.
func (c *Client) Incident(ctx context.Context, id string) (*stamp.Incident, error) {
	out := new(stamp.Incident)
	if err := c.do(ctx, http.MethodGet, "/v1/incidents/"+url.PathEscape(id), nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

// IncidentAction acknowledges ("ack") or resolves ("resolve") incident id.
func (c *Client) IncidentAction(ctx context.Context, id, action string) (*stamp.Incident, error) {
	out := new(stamp.Incident)
	if err := c.do(ctx, http.MethodPost, "/v1/incidents/"+url.PathEscape(id)+"/"+url.PathEscape(action), nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

// RecoveryStats returns the mean time to recovery, of tenant if not empty.
func (c *Client) RecoveryStats(ctx context.Context, tenant string) (*RecoveryStats, error) {
	out := new(RecoveryStats)
	path := "/v1/incidents/stats"
	if tenant != "" {
		path += "?tenant=" + url.QueryEscape(tenant)
	}
	if err := c.do(ctx, http.MethodGet, path, nil, out); err != nil {
		return nil, err
	}
	return out, nil
}
