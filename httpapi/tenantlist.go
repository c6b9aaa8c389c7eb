package httpapi

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

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
	// "" on the last page. It is opaque: send it as it came.
	Next string `json:"next"`
}

// handleTenantList lists one page of tenants in name order: ?limit= of
// them (DefaultTenantPage, at most MaxTenantPage) after the cursor
// ?after=, the Next of the page before. Pages are read by key, so a
// tenant that exists from the first page to the last is listed once
// whatever is created or deleted in between. Each tenant carries its
// health as this server's monitor sees it, when health is set.
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
		tenants, next, err := st.ListTenantsPage(r.Context(), p)
		if err != nil {
			writeError(w, r, fmt.Errorf("list tenants after %q: %w", p.After, err))
			return
		}
		for i, t := range tenants {
			if health != nil {
				t.Health = health(t.Name)
			}
			tenants[i] = masked(t)
		}
		encode(w, r, http.StatusOK, TenantList{Tenants: nonNil(tenants), Next: tenantCursor(next)})
	})
}

// tenantPage reads ?limit=, ?after= and ?pooled= (the warm pool's stamps
// instead of the tenants).
func tenantPage(q url.Values) (stamp.TenantPage, error) {
	p := stamp.TenantPage{Limit: DefaultTenantPage}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxTenantPage {
			return p, stamp.Errorf(stamp.EINVALID, "query parameter limit=%q must be an integer from 1 to %d", s, MaxTenantPage)
		}
		p.Limit = n
	}
	if s := q.Get("after"); s != "" {
		name, err := tenantAfter(s)
		if err != nil {
			return p, stamp.Errorf(stamp.EINVALID, "query parameter after=%q is not a page cursor: %v; send the \"next\" of the page before as it came", s, err)
		}
		p.After = name
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

// tenantCursor is the cursor of the page after the tenant named after:
// the name in unpadded URL-safe base64, which needs no escaping in a
// query and keeps clients from building cursors of their own.
func tenantCursor(after string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(after))
}

// tenantAfter is the tenant name a cursor holds.
func tenantAfter(cursor string) (string, error) {
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
// p: that tenant, if it exists and the page reaches it, and no other.
func ownTenant(ctx context.Context, st stamp.TenantStore, name string, p stamp.TenantPage) ([]*stamp.Tenant, error) {
	if p.Pooled || name <= p.After {
		return []*stamp.Tenant{}, nil
	}
	t, err := st.GetTenant(ctx, name)
	switch {
	case stamp.ErrorCode(err) == stamp.ENOTFOUND:
		return []*stamp.Tenant{}, nil
	case err != nil:
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return []*stamp.Tenant{masked(t)}, nil
}
