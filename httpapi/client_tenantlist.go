package httpapi

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"

	"github.com/stamphq/stamp"
)

// TenantQuery selects one page of GET /v1/tenants.
type TenantQuery struct {
	// After and Before are cursors, the Next of the page before as it
	// came: the page starts after After, or, read backwards, ends before
	// Before. Both empty is the first page.
	After, Before string
	// Limit is the most tenants on the page: 0 is DefaultTenantPage, at
	// most MaxTenantPage.
	Limit int
	// Filter selects the tenants listed.
	Filter stamp.TenantFilter
}

// TenantPages yields every tenant q selects in name order, from q.After
// on, a page of at most q.Limit at a time, as each page arrives. It stops
// at the first error, which it yields. q.Before is ignored: the pages are
// read forwards.
func (c *Client) TenantPages(ctx context.Context, q TenantQuery) iter.Seq2[[]*stamp.Tenant, error] {
	q.Before = ""
	return func(yield func([]*stamp.Tenant, error) bool) {
		for {
			page, err := c.ListTenantsPage(ctx, q)
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(page.Tenants, nil) || page.Next == "" {
				return
			}
			q.After = page.Next
		}
	}
}

// ListTenantsPage returns the page of tenants q selects, in name order,
// with the cursor of the next page in the direction read.
func (c *Client) ListTenantsPage(ctx context.Context, q TenantQuery) (*TenantList, error) {
	v := filterValues(q.Filter)
	setIf(v, "after", q.After)
	setIf(v, "before", q.Before)
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	out := new(TenantList)
	if err := c.do(ctx, http.MethodGet, withQuery("/v1/tenants", v), nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

// CountTenants counts the tenants f selects, in all and by phase, current
// version and plan.
func (c *Client) CountTenants(ctx context.Context, f stamp.TenantFilter) (*TenantCounts, error) {
	out := new(TenantCounts)
	if err := c.do(ctx, http.MethodGet, withQuery("/v1/tenant-counts", filterValues(f)), nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

// filterValues is f as the query of a listing or a count.
func filterValues(f stamp.TenantFilter) url.Values {
	v := url.Values{}
	setIf(v, "phase", f.Phase)
	setIf(v, "version", f.Version)
	setIf(v, "plan", f.Plan)
	setIf(v, "label", f.Label)
	setIf(v, "name", f.Name)
	return v
}

// setIf sets key to value in v unless value is empty.
func setIf(v url.Values, key, value string) {
	if value != "" {
		v.Set(key, value)
	}
}

// withQuery is path with the query v, if any.
func withQuery(path string, v url.Values) string {
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}
