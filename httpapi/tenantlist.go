package httpapi

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/stamphq/stamp"
)

// The size of a page of GET /v1/tenants: DefaultTenantPage without
// ?limit=, at most MaxTenantPage. A fleet of 10,000 tenants is listed in
// pages rather than one answer of tens of megabytes built in the server's
// memory.
const (
	DefaultTenantPage = 100
	MaxTenantPage     = 1000
)

// TenantList is the answer of GET /v1/tenants: a page of tenants in name
// order.
type TenantList struct {
	Tenants []*stamp.Tenant `json:"tenants"`
	// Next is the cursor of the following page, to send back as ?after=;
	// "" on the last page. Prev is the cursor of the page before, to send
	// back as ?before=; "" on the first. Both are opaque: send them as
	// they came. Where the server cannot tell without another read (Next
	// of a page read backwards, Prev of one read forwards after a
	// cursor) it gives the cursor, which may lead to an empty page.
	Next string `json:"next"`
	Prev string `json:"prev,omitempty"`
}

// handleTenantList lists one page of tenants in name order: ?limit= of
// them (DefaultTenantPage, at most MaxTenantPage) after the cursor
// ?after=, the Next of the page before, or, read backwards, before the
// cursor ?before=, the Prev of the page after. The filter of tenantFilter selects which. Pages are
// read by key, so a tenant that exists from the first page to the last is
// listed once whatever is created or deleted in between. Each tenant
// carries its health as this server's monitor sees it, when health is
// set.
func handleTenantList(st stamp.TenantStore, health func(string) *stamp.TenantHealth) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := tenantPage(r.URL.Query())
		if err != nil {
			writeError(w, r, err)
			return
		}
		if tok := requestToken(r.Context()); tok != nil && tok.Tenant != "" {
			own, err := ownTenant(r.Context(), st, tok.Tenant, p)
			if err != nil {
				writeError(w, r, err)
				return
			}
			encode(w, r, http.StatusOK, TenantList{Tenants: own})
			return
		}
		tenants, onwards, err := st.ListTenantsPage(r.Context(), p)
		if err != nil {
			writeError(w, r, err)
			return
		}
		for i, t := range tenants {
			if health != nil {
				t.Health = health(t.Name)
			}
			tenants[i] = masked(t)
		}
		list := TenantList{Tenants: nonNil(tenants)}
		list.Prev, list.Next = pageCursors(p, tenants, onwards)
		encode(w, r, http.StatusOK, list)
	})
}

// pageCursors returns the cursors of the pages before and after the page
// tenants read as p, onwards being the store's cursor in the direction
// read. The other way, the page's own first or last tenant is the cursor:
// none when the page is empty or is the first one read forwards.
func pageCursors(p stamp.TenantPage, tenants []*stamp.Tenant, onwards string) (prev, next string) {
	if p.Before != "" {
		prev = onwards
		if len(tenants) > 0 {
			next = tenants[len(tenants)-1].Name
		}
	} else {
		next = onwards
		if p.After != "" && len(tenants) > 0 {
			prev = tenants[0].Name
		}
	}
	return tenantCursor(prev), tenantCursor(next)
}

// tenantPage reads ?limit=, ?after= or ?before=, ?pooled= (the warm
// pool's stamps instead of the tenants) and the filter.
func tenantPage(q url.Values) (stamp.TenantPage, error) {
	f, err := tenantFilter(q)
	if err != nil {
		return stamp.TenantPage{}, err
	}
	p := stamp.TenantPage{Limit: DefaultTenantPage, Filter: f}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxTenantPage {
			return p, stamp.Errorf(stamp.EINVALID, "query parameter limit=%q must be an integer from 1 to %d", s, MaxTenantPage)
		}
		p.Limit = n
	}
	for _, c := range []struct {
		param, field string
		name         *string
	}{{"after", "next", &p.After}, {"before", "prev", &p.Before}} {
		s := q.Get(c.param)
		if s == "" {
			continue
		}
		var err error
		if *c.name, err = tenantName(s); err != nil {
			return p, stamp.Errorf(stamp.EINVALID, "query parameter %s=%q is not a page cursor: %v; send the %q of a page as it came", c.param, s, err, c.field)
		}
	}
	if p.After != "" && p.Before != "" {
		return p, stamp.Errorf(stamp.EINVALID, "query parameters after= and before= read a page forwards or backwards: send one of them")
	}
	switch q.Get("pooled") {
	case "", "false":
	case "true":
		p.Pooled = true
	default:
		return p, stamp.Errorf(stamp.EINVALID, "query parameter pooled=%q must be true or false", q.Get("pooled"))
	}
	return p, nil
}

// tenantFilter reads the filter of a listing or a count: ?phase=,
// ?version=, ?plan=, ?label= (key or key=value) and ?name= (a part of
// the name, in any case: names are lower case).
func tenantFilter(q url.Values) (stamp.TenantFilter, error) {
	f := stamp.TenantFilter{Phase: q.Get("phase"), Version: q.Get("version"), Plan: q.Get("plan"), Label: q.Get("label"),
		Name: strings.ToLower(q.Get("name"))}
	if phases := stamp.Phases(); f.Phase != "" && !slices.Contains(phases, f.Phase) {
		return f, stamp.Errorf(stamp.EINVALID, "query parameter phase=%q is not a phase: want one of %s", f.Phase, strings.Join(phases, ", "))
	}
	if strings.HasPrefix(f.Label, "=") {
		return f, stamp.Errorf(stamp.EINVALID, "query parameter label=%q has no key: want key or key=value", f.Label)
	}
	return f, nil
}

// tenantCursor is the cursor of the page after (or, sent as ?before=,
// the page before) the tenant named name, "" for no name: the name in
// unpadded URL-safe base64, which needs no escaping in a query and keeps
// clients from building cursors of their own.
func tenantCursor(name string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(name))
}

// tenantName is the tenant name a cursor holds.
func tenantName(cursor string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", err
	}
	if stamp.ValidateName("tenant", string(b)) != nil {
		return "", errors.New("it holds no tenant name")
	}
	return string(b), nil
}

// ownTenant is the listing a token confined to tenant name sees on page
// p: that tenant, if it exists, the page reaches it and its filter
// selects it, and no other.
func ownTenant(ctx context.Context, st stamp.TenantStore, name string, p stamp.TenantPage) ([]*stamp.Tenant, error) {
	if p.Pooled || name <= p.After || p.Before != "" && name >= p.Before {
		return []*stamp.Tenant{}, nil
	}
	t, err := st.GetTenant(ctx, name)
	switch {
	case stamp.ErrorCode(err) == stamp.ENOTFOUND:
		return []*stamp.Tenant{}, nil
	case err != nil:
		return nil, fmt.Errorf("list tenants: %w", err)
	case !p.Filter.Holds(t):
		return []*stamp.Tenant{}, nil
	}
	return []*stamp.Tenant{masked(t)}, nil
}
