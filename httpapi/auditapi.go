package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/stamphq/stamp"
)

type auditList struct {
	Records []*stamp.AuditRecord `json:"records"`
}

// handleAuditList lists audit records: ?tenant=, ?token= (name or ID),
// ?since= (RFC 3339), ?after= (a Seq) and ?limit=, oldest first.
func handleAuditList(st Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := auditFilter(r.URL.Query())
		if err != nil {
			writeError(w, r, err)
			return
		}
		recs, err := st.ListAudit(r.Context(), f)
		if err != nil {
			writeError(w, r, fmt.Errorf("list audit records: %w", err))
			return
		}
		encode(w, r, http.StatusOK, auditList{Records: nonNil(recs)})
	})
}

// auditFilter reads an AuditFilter from the query.
func auditFilter(q url.Values) (stamp.AuditFilter, error) {
	f := stamp.AuditFilter{Tenant: q.Get("tenant"), Token: q.Get("token")}
	if s := q.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return f, stamp.Errorf(stamp.EINVALID, "query parameter since=%q: want a time such as 2026-12-04T10:00:00Z", s)
		}
		f.Since = t
	}
	for _, p := range []struct {
		name string
		to   *int64
	}{{"after", &f.AfterSeq}} {
		if s := q.Get(p.name); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				return f, stamp.Errorf(stamp.EINVALID, "query parameter %s=%q: want a non-negative integer", p.name, s)
			}
			*p.to = n
		}
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return f, stamp.Errorf(stamp.EINVALID, "query parameter limit=%q: want a positive integer", s)
		}
		f.Limit = n
	}
	return f, nil
}

// Audit lists the audit records f selects, oldest first; f.Limit bounds
// one page (the server's default when 0).
func (c *Client) Audit(ctx context.Context, f stamp.AuditFilter) ([]*stamp.AuditRecord, error) {
	q := url.Values{}
	for k, v := range map[string]string{"tenant": f.Tenant, "token": f.Token} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339))
	}
	if f.AfterSeq > 0 {
		q.Set("after", strconv.FormatInt(f.AfterSeq, 10))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out auditList
	if err := c.do(ctx, http.MethodGet, "/v1/audit?"+q.Encode(), nil, &out); err != nil {
		return nil, err
	}
	return out.Records, nil
}
