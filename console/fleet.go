package console

import (
	"cmp"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/stamphq/stamp"
)

// pageSize is how many tenants a page of the fleet shows.
const pageSize = 50

// fleetFilter is what the fleet page's form selects.
type fleetFilter struct {
	State, Version, Plan, Label, Query string
}

func filterOf(q url.Values) fleetFilter {
	return fleetFilter{State: q.Get("state"), Version: q.Get("version"), Plan: q.Get("plan"),
		Label: strings.TrimSpace(q.Get("label")), Query: strings.TrimSpace(q.Get("q"))}
}

// holds reports whether t passes the filter.
func (f fleetFilter) holds(t *stamp.Tenant) bool {
	if f.State != "" && t.Status.Phase != f.State || f.Version != "" && versionOf(t) != f.Version || f.Plan != "" && t.Spec.Plan != f.Plan {
		return false
	}
	if f.Label != "" {
		k, v, hasValue := strings.Cut(f.Label, "=")
		got, ok := t.Spec.Labels[k]
		if !ok || hasValue && got != v {
			return false
		}
	}
	return f.Query == "" || strings.Contains(t.Name, strings.ToLower(f.Query))
}

// versionOf is the version a tenant runs, or is to run while it has
// none yet.
func versionOf(t *stamp.Tenant) string { return cmp.Or(t.Status.Version, t.Spec.Version) }

// count is how many tenants share a value.
type count struct {
	Value string
	N     int
}

// fleetRow is one tenant of the fleet page.
type fleetRow struct {
	*stamp.Tenant
	Version      string
	Health       string
	LastIncident *stamp.Incident
}

type fleetView struct {
	page
	Rows             []fleetRow
	Total, Matching  int
	States, Versions []count
	Plans            []string
	Filter           fleetFilter
	Page, Pages      int
	Prev, Next       string // links to the pages around, "" at an end
}

// fleet shows every tenant, filtered and a page at a time, with counts
// by state and by version over the whole fleet.
func (c *Console) fleet(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	var all []*stamp.Tenant
	for p, err := range s.api.TenantPages(ctx, 1000) {
		if err != nil {
			c.failed(w, r, s, err)
			return
		}
		all = append(all, p...)
	}
	v := fleetView{page: s.page("Fleet", r), Filter: filterOf(r.URL.Query()), Total: len(all)}
	states, versions, plans := map[string]int{}, map[string]int{}, map[string]bool{}
	var matching []*stamp.Tenant
	for _, t := range all {
		states[t.Status.Phase]++
		versions[versionOf(t)]++
		plans[t.Spec.Plan] = true
		if v.Filter.holds(t) {
			matching = append(matching, t)
		}
	}
	v.States, v.Versions, v.Plans = counts(states), counts(versions), slices.Sorted(maps.Keys(plans))
	v.Matching = len(matching)
	v.Pages = max(1, (len(matching)+pageSize-1)/pageSize)
	v.Page = min(max(1, atoi(r.URL.Query().Get("page"))), v.Pages)
	shown := matching[(v.Page-1)*pageSize : min(len(matching), v.Page*pageSize)]
	last := c.lastIncidents(r, s)
	for _, t := range shown {
		row := fleetRow{Tenant: t, Version: versionOf(t), LastIncident: last[t.Name]}
		if t.Health != nil {
			row.Health = t.Health.State
		}
		v.Rows = append(v.Rows, row)
	}
	v.Prev, v.Next = pageLink(r.URL.Query(), v.Page-1, v.Pages), pageLink(r.URL.Query(), v.Page+1, v.Pages)
	c.render(w, http.StatusOK, "fleet.html", v)
}

// lastIncidents returns each tenant's newest incident among the last
// thousand; none for an operator who may not list incidents.
func (c *Console) lastIncidents(r *http.Request, s *session) map[string]*stamp.Incident {
	list, err := s.api.Incidents(r.Context(), stamp.IncidentFilter{Limit: 1000})
	if err != nil {
		if stamp.ErrorCode(err) != stamp.EFORBIDDEN {
			c.log.Warn("console: list incidents", "err", err)
		}
		return nil
	}
	last := map[string]*stamp.Incident{}
	for _, inc := range list { // newest first
		if last[inc.Tenant] == nil {
			last[inc.Tenant] = inc
		}
	}
	return last
}

// counts sorts a tally by count, most first, then by value.
func counts(m map[string]int) []count {
	out := make([]count, 0, len(m))
	for v, n := range m {
		out = append(out, count{v, n})
	}
	slices.SortFunc(out, func(a, b count) int { return cmp.Or(b.N-a.N, strings.Compare(a.Value, b.Value)) })
	return out
}

// pageLink is the fleet page's link to page n of pages, keeping its
// filter; "" when there is no such page.
func pageLink(q url.Values, n, pages int) string {
	if n < 1 || n > pages {
		return ""
	}
	q = maps.Clone(q)
	q.Set("page", strconv.Itoa(n))
	return Prefix + "?" + q.Encode()
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
