package console

import (
	"cmp"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/httpapi"
)

// pageSize is how many tenants a page of the fleet shows.
const pageSize = 50

// filterOf reads the fleet page's filter form: state, version, plan,
// label and q, a part of the name.
func filterOf(q url.Values) stamp.TenantFilter {
	return stamp.TenantFilter{Phase: q.Get("state"), Version: q.Get("version"), Plan: q.Get("plan"),
		Label: strings.TrimSpace(q.Get("label")), Name: strings.ToLower(strings.TrimSpace(q.Get("q")))}
}

// count is how many tenants share a value.
type count struct {
	Value string
	N     int
}

// fleetRow is one tenant of the fleet page.
type fleetRow struct {
	*stamp.Tenant
	Health       string
	LastIncident *stamp.Incident
}

type fleetView struct {
	page
	Rows []fleetRow
	// Total counts every tenant the session may see (a tenant's token
	// sees its own), Matching those the filter selects. The counts and
	// the page are read apart, so while tenants come and go they may
	// differ by those.
	Total, Matching  int
	States, Versions []count
	Plans            []string
	Filter           stamp.TenantFilter
	From, To         string // the first and last tenant shown
	// Links to the pages around, "" where there is none.
	First, Prev, Next string
}

// fleet shows a page of the tenants the filter selects, with counts by
// state and by version over the whole fleet. The store counts and
// filters, so the page costs two counts, a page of rows and a look-up of
// each shown tenant's last incident; a selective filter walks more of
// the fleet to fill its page. Pages are read by cursor, forwards
// (?after=) or backwards (?before=), as the API reads them.
func (c *Console) fleet(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	q := r.URL.Query()
	v := fleetView{page: s.page("Fleet", r), Filter: filterOf(q)}
	all, err := s.api.CountTenants(ctx, stamp.TenantFilter{})
	if err != nil {
		c.failed(w, r, s, err)
		return
	}
	matching := all
	if !v.Filter.Empty() {
		if matching, err = s.api.CountTenants(ctx, v.Filter); err != nil {
			c.failed(w, r, s, err)
			return
		}
	}
	list, err := s.api.ListTenantsPage(ctx, httpapi.TenantQuery{After: q.Get("after"), Before: q.Get("before"), Limit: pageSize, Filter: v.Filter})
	if err != nil {
		c.failed(w, r, s, err)
		return
	}
	states, versions, plans := map[string]int{}, map[string]int{}, map[string]bool{}
	for _, g := range all.Groups {
		states[g.Phase] += g.N
		versions[g.Version] += g.N
		plans[g.Plan] = true
	}
	v.Total, v.Matching = all.Total, matching.Total
	v.States, v.Versions, v.Plans = counts(states), counts(versions), slices.Sorted(maps.Keys(plans))
	last := c.lastIncidents(r, s, list.Tenants)
	for _, t := range list.Tenants {
		row := fleetRow{Tenant: t, LastIncident: last[t.Name]}
		if t.Health != nil {
			row.Health = t.Health.State
		}
		v.Rows = append(v.Rows, row)
	}
	if n := len(list.Tenants); n > 0 {
		v.From, v.To = list.Tenants[0].Name, list.Tenants[n-1].Name
	}
	v.First, v.Prev, v.Next = pageLinks(q, list)
	c.render(w, http.StatusOK, "fleet.html", v)
}

// pageLinks returns the links to the first page, the one before and the
// one after the page list that q asked for, each "" where there is
// none.
func pageLinks(q url.Values, list *httpapi.TenantList) (first, prev, next string) {
	if q.Get("after") != "" || q.Get("before") != "" {
		first = pageLink(q, "", "")
	}
	return first, pageLink(q, "before", list.Prev), pageLink(q, "after", list.Next)
}

// lastIncidents returns the newest incident of each of tenants that has
// one; none for an operator who may not list incidents. It asks for each
// tenant by the store's index of a tenant's incidents, which a list of
// the fleet's newest would not cover; a refusal ends the asking.
func (c *Console) lastIncidents(r *http.Request, s *session, tenants []*stamp.Tenant) map[string]*stamp.Incident {
	last := map[string]*stamp.Incident{}
	for _, t := range tenants {
		list, err := s.api.Incidents(r.Context(), stamp.IncidentFilter{Tenant: t.Name, Limit: 1})
		switch {
		case stamp.ErrorCode(err) == stamp.EFORBIDDEN:
			return last
		case err != nil:
			c.log.Warn("console: list incidents", "tenant", t.Name, "err", err)
		case len(list) > 0:
			last[t.Name] = list[0]
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

// pageLink is the fleet page's link to the page after or before
// cursor, keeping q's filter: "" for no cursor, the first page for no
// direction.
func pageLink(q url.Values, direction, cursor string) string {
	if direction != "" && cursor == "" {
		return ""
	}
	q = maps.Clone(q)
	q.Del("after")
	q.Del("before")
	if direction != "" {
		q.Set(direction, cursor)
	}
	if len(q) == 0 {
		return Prefix
	}
	return Prefix + "?" + q.Encode()
}
