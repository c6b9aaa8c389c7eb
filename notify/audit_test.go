package notify

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// TestDeliversAuditRecords: a webhook subscribed to audit.recorded gets
// the audit log's records after its events, once each and in order, as
// CloudEvents of their own (id "audit-<seq>", the record as data), and
// its attempts name them; a webhook without the pattern gets none.
func TestDeliversAuditRecords(t *testing.T) {
	r := newReceiver(t, always(http.StatusOK))
	st, hook := openStore(t, r.srv.URL+"/hook") // event 1: tenant.ready of acme
	hook.Events = append(hook.Events, stamp.EventAuditRecorded)
	if err := st.UpdateWebhook(t.Context(), hook); err != nil {
		t.Fatal(err)
	}
	quiet := newReceiver(t, always(http.StatusOK))
	if err := st.CreateWebhook(t.Context(), &stamp.Webhook{ID: "wh-quiet", URL: quiet.srv.URL, Events: []string{"tenant.*"}, Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	recs := []*stamp.AuditRecord{
		{TokenName: "ci", Role: stamp.RoleOperator, Action: "DELETE /v1/tenants/{name}", Resource: "/v1/tenants/acme", Tenant: "acme", RequestID: "r1", Status: 200, Outcome: stamp.AuditOK},
		{TokenName: "ci", Role: stamp.RoleOperator, Action: "POST /v1/tokens", Resource: "/v1/tokens", RequestID: "r2", Status: 403, Outcome: stamp.AuditFailed, Error: "no"},
	}
	for _, rec := range recs {
		if err := st.AppendAudit(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
	}
	run(t, New(Config{Store: st, Holder: "server-a", Interval: 10 * time.Millisecond, Source: "stamp-test"}))
	waitWebhook(t, st, hook.ID, "the last audit record delivered", func(w *stamp.Webhook) bool { return w.AuditDelivered == recs[1].Seq })

	got := r.deliveries()
	if len(got) != 3 {
		t.Fatalf("%d deliveries, want the event and the two records", len(got))
	}
	for i, d := range got[1:] {
		id := "audit-" + strconv.FormatInt(recs[i].Seq, 10)
		if h := d.header.Get(DeliveryHeader); h != hook.ID+"/"+id || !Verify(hook.Secret, d.body, d.header.Get(SignatureHeader)) {
			t.Errorf("record %d: %s %q, want %q, signed", i, DeliveryHeader, h, hook.ID+"/"+id)
		}
		var ce CloudEvent[*stamp.AuditRecord]
		if err := json.Unmarshal(d.body, &ce); err != nil {
			t.Fatal(err)
		}
		if ce.ID != id || ce.Type != "stamp.audit.recorded" || ce.Subject != recs[i].Tenant || ce.Data == nil || ce.Data.RequestID != recs[i].RequestID {
			t.Errorf("record %d: %+v, want %s of request %s", i, ce, id, recs[i].RequestID)
		}
	}
	attempts, err := st.ListDeliveryAttempts(t.Context(), hook.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(attempts) != 3 || attempts[0].AuditSeq != recs[1].Seq || attempts[0].EventSeq != 0 || attempts[2].EventSeq != 1 {
		t.Errorf("attempts %+v, want the event's then the records'", attempts)
	}
	if n := len(quiet.deliveries()); n != 1 {
		t.Errorf("the webhook without audit.recorded got %d deliveries, want its event alone", n)
	}
}
