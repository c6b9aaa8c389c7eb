package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/flow"
)

// defaultFlowWindow is the window of GET /v1/flow without ?since.
const defaultFlowWindow = 30 * 24 * time.Hour

// handleFlow answers the value stream of the creates and upgrades that
// began in the window ?since= (a duration back from now, "30d" or
// "12h"; default 30d), of the tenants ?tenant= names (repeated) or of
// the blueprints ?blueprint= names (repeated; tenants as they are now);
// the delivery stream from commit to fleet; and the DORA figures of the
// window and the one before it. Creates and upgrades come from the flow
// index, which first reads the events appended since it last did.
func handleFlow(st Store, index *flow.Index, clock stamp.Clock) http.Handler {
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
		report, err := index.Report(r.Context(), f)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if err := addDelivery(r.Context(), st, report, f, q["blueprint"]); err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusOK, report)
	})
}

// commitLookback is how long before the previous window the commits of
// the releases that ended in it are looked for.
const commitLookback = 30 * 24 * time.Hour

// addDelivery adds the delivery stream and the DORA figures to report:
// the pipeline events, releases and incidents of f's window and of the
// one before it, of blueprints (all when empty).
func addDelivery(ctx context.Context, st Store, report *flow.Report, f flow.Filter, blueprints []string) error {
	prevSince := f.Since.Add(-f.Until.Sub(f.Since))
	pipeline, err := pipelineSince(ctx, st, prevSince.Add(-commitLookback), blueprints)
	if err != nil {
		return err
	}
	all, err := st.ListReleases(ctx)
	if err != nil {
		return fmt.Errorf("list releases: %w", err)
	}
	var releases []*stamp.Release
	for _, rel := range all {
		if len(blueprints) == 0 || slices.Contains(blueprints, rel.Spec.Blueprint) {
			releases = append(releases, rel)
		}
	}
	incidents, err := st.ListIncidents(ctx, stamp.IncidentFilter{OpenedSince: prevSince, Limit: maxFlowIncidents})
	if err != nil {
		return fmt.Errorf("list incidents: %w", err)
	}
	if len(incidents) == maxFlowIncidents {
		report.Notes = append(report.Notes, fmt.Sprintf("time to restore is of the newest %d incidents of the two windows only", maxFlowIncidents))
	}
	report.Delivery = flow.Delivery(pipeline, releases, f)
	report.DORA = flow.ComputeDORA(pipeline, releases, incidents, f)
	return nil
}

// maxFlowIncidents is how many incidents the DORA figures read: the
// store's most in one list.
const maxFlowIncidents = 5000

// pipelineSince reads the pipeline events of blueprints (all when
// empty) that finished at or after since.
func pipelineSince(ctx context.Context, st stamp.PipelineLog, since time.Time, blueprints []string) ([]*stamp.PipelineEvent, error) {
	var out []*stamp.PipelineEvent
	f := stamp.PipelineFilter{Since: since, Blueprints: blueprints, Limit: 10000}
	if len(blueprints) == 0 {
		f.Blueprints = nil
	}
	for {
		page, err := st.ListPipelineEvents(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("read the pipeline events: %w", err)
		}
		out = append(out, page...)
		if len(page) < f.Limit {
			return out, nil
		}
		f.AfterSeq = page[len(page)-1].Seq
	}
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
