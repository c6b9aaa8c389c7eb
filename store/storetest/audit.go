package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// testAudit appends audit records and lists them by each filter, then
// checks that a pending record (an API call's) commits with the call's
// write (a tenant and its event; a webhook), and is not kept when that
// write is refused.
func testAudit(t *testing.T, s stamp.Store) {
	ctx := t.Context()
	base := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	for i, r := range []*stamp.AuditRecord{
		{At: base, TokenID: "tok1", TokenName: "admin", Role: stamp.RoleAdmin, Action: "POST /v1/tenants", Resource: "/v1/tenants", Remote: "127.0.0.1:1", RequestID: "r1", Status: 201, Outcome: stamp.AuditOK},
		{At: base.Add(time.Minute), TokenID: "tok2", TokenName: "ci", Role: stamp.RoleViewer, Action: "DELETE /v1/tenants/{name}", Resource: "/v1/tenants/acme", Tenant: "acme", Remote: "127.0.0.1:2", RequestID: "r2", Status: 403, Outcome: stamp.AuditFailed, Error: "no"},
		{At: base.Add(2 * time.Minute), Action: "POST /v1/tokens", Resource: "/v1/tokens", Remote: "127.0.0.1:3", RequestID: "r3", Status: 401, Outcome: stamp.AuditFailed, Error: "missing bearer token"},
	} {
		if err := s.AppendAudit(ctx, r); err != nil {
			t.Fatalf("AppendAudit %d: %v", i, err)
		}
		if r.Seq == 0 {
			t.Errorf("AppendAudit %d: no Seq", i)
		}
	}
	ids := func(f stamp.AuditFilter) []string {
		t.Helper()
		recs, err := s.ListAudit(ctx, f)
		if err != nil {
			t.Fatalf("ListAudit(%+v): %v", f, err)
		}
		out := []string{}
		for _, r := range recs {
			out = append(out, r.RequestID)
		}
		return out
	}
	assertEqual(t, "all", ids(stamp.AuditFilter{}), []string{"r1", "r2", "r3"})
	assertEqual(t, "tenant", ids(stamp.AuditFilter{Tenant: "acme"}), []string{"r2"})
	assertEqual(t, "token by name", ids(stamp.AuditFilter{Token: "ci"}), []string{"r2"})
	assertEqual(t, "token by ID", ids(stamp.AuditFilter{Token: "tok1"}), []string{"r1"})
	assertEqual(t, "since", ids(stamp.AuditFilter{Since: base.Add(time.Minute)}), []string{"r2", "r3"})
	assertEqual(t, "limit", ids(stamp.AuditFilter{Limit: 2}), []string{"r1", "r2"})
	all, _ := s.ListAudit(ctx, stamp.AuditFilter{})
	assertEqual(t, "after", ids(stamp.AuditFilter{AfterSeq: all[0].Seq}), []string{"r2", "r3"})
	got := *all[1]
	got.Seq, got.At = 0, normTime(got.At)
	assertEqual(t, "a record read back", got, stamp.AuditRecord{At: base.Add(time.Minute), TokenID: "tok2", TokenName: "ci", Role: stamp.RoleViewer,
		Action: "DELETE /v1/tenants/{name}", Resource: "/v1/tenants/acme", Tenant: "acme", Remote: "127.0.0.1:2", RequestID: "r2", Status: 403, Outcome: stamp.AuditFailed, Error: "no"})

	pending := func(id string) (context.Context, *stamp.PendingAudit) {
		return stamp.WithPendingAudit(ctx, func() *stamp.AuditRecord {
			return &stamp.AuditRecord{TokenName: "admin", Action: "POST /v1/tenants", Resource: "/v1/tenants", RequestID: id}
		})
	}
	wctx, p := pending("with-change")
	if err := s.CreateTenant(wctx, newTenant("initech"), &stamp.Event{Type: stamp.EventTenantCreated}); err != nil {
		t.Fatal(err)
	}
	if !p.Written() {
		t.Errorf("the pending record was not written with the tenant")
	}
	if err := s.AppendEvents(wctx, &stamp.Event{Type: stamp.EventTenantCreated, Tenant: "initech"}); err != nil {
		t.Fatal(err)
	}
	recs, _ := s.ListAudit(ctx, stamp.AuditFilter{AfterSeq: all[2].Seq})
	if len(recs) != 1 || recs[0].RequestID != "with-change" || recs[0].Outcome != stamp.AuditOK || recs[0].Status != 0 {
		t.Errorf("records of the call: got %+v, want one, ok, with no status", recs)
	}

	// A write without events takes it too: a webhook's.
	hctx, hp := pending("webhook")
	if err := s.CreateWebhook(hctx, &stamp.Webhook{ID: "wh-audit", URL: "http://127.0.0.1:9/x", Events: []string{"tenant.*"}, Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	if !hp.Written() {
		t.Errorf("the pending record was not written with the webhook")
	}
	if recs, _ := s.ListAudit(ctx, stamp.AuditFilter{AfterSeq: all[2].Seq}); len(recs) != 2 || recs[1].RequestID != "webhook" {
		t.Errorf("records after the webhook's create: %+v, want its own second", recs)
	}

	rctx, p := pending("refused")
	err := s.CreateTenant(rctx, newTenant("initech"), &stamp.Event{Type: stamp.EventTenantCreated})
	assertError(t, err, stamp.ECONFLICT, `tenant "initech" already exists`)
	if p.Written() {
		t.Errorf("the pending record counts as written with a refused write")
	}
	if recs, _ := s.ListAudit(ctx, stamp.AuditFilter{Token: "admin", AfterSeq: all[2].Seq}); len(recs) != 2 {
		t.Errorf("records after the refused write: got %d, want still 2", len(recs))
	}
}
