package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/flow"
)

// defaultFlowWindow is the window of GET /v1/flow without ?since.
const defaultFlowWindow = 30 * 24 * time.Hour

// handleFlow answers the value stream of the creates and upgrades that
// began in the window ?since= (a duration back from now, "30d" or
// "12h"; default 30d), of the tenants ?tenant= names (repeated) or of
// the blueprints ?blueprint= names (repeated; tenants as they are now).
// It reads the event log from the window's start.
func handleFlow(st Store, clock stamp.Clock) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		window := defaultFlowWindow
		if s := q.Get("since"); s != "" {
			d, err := ParseLifetime(s)
			if err != nil {
				writeError(w, r, stamp.Errorf(stamp.EINVALID, "since %q: want a duration back from now, such as 30d, 12h or 90m", s))
				return
			}
			window = d
		}
		now := clock.Now()
		f := flow.Filter{Since: now.Add(-window), Until: now}
		tenants, err := flowTenants(r.Context(), st, q)
		if err != nil {
			writeError(w, r, err)
			return
		}
		f.Tenants = tenants
		events, err := eventsSince(r.Context(), st, f.Since)
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusOK, flow.Compute(events, f))
	})
}

// flowTenants returns the tenants ?tenant= and ?blueprint= select, nil
// for every tenant.
func flowTenants(ctx context.Context, st Store, q url.Values) (map[string]bool, error) {
	names, blueprints := q["tenant"], q["blueprint"]
	if len(names) == 0 && len(blueprints) == 0 {
		return nil, nil
	}
	set := map[string]bool{}
	for _, n := range names {
		set[n] = true
	}
	if len(blueprints) > 0 {
		all, err := st.ListTenants(ctx)
		if err != nil {
			return nil, fmt.Errorf("list tenants: %w", err)
		}
		for _, t := range all {
			for _, b := range blueprints {
				if t.Spec.Blueprint == b {
					set[t.Name] = true
				}
			}
		}
	}
	return set, nil
}

// eventsSince reads the event log from the first event at or after
// since (a run that began before is not in the window) to its end.
func eventsSince(ctx context.Context, st stamp.EventLog, since time.Time) ([]*stamp.Event, error) {
	var out []*stamp.Event
	f := stamp.EventFilter{Limit: 10000}
	for {
		page, err := st.ListEvents(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("read the event log: %w", err)
		}
		for _, e := range page {
			if !e.Time.Before(since) {
				out = append(out, e)
			}
		}
		if len(page) < f.Limit {
			return out, nil
		}
		f.AfterSeq = page[len(page)-1].Seq
	}
}

// Flow returns the value stream report of GET /v1/flow.
func (c *Client) Flow(ctx context.Context, since string, tenants, blueprints []string) (*flow.Report, error) {
	q := url.Values{}
	if since != "" {
		q.Set("since", since)
	}
	q["tenant"], q["blueprint"] = tenants, blueprints
	out := new(flow.Report)
	if err := c.do(ctx, http.MethodGet, "/v1/flow?"+q.Encode(), nil, out); err != nil {
		return nil, err
	}
	return out, nil
}
