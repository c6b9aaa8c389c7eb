package httpapi

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/stamphq/stamp"
)

// audited reports whether r is a call the audit log records: one that
// may change something, or a reveal of secrets.
func audited(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return strings.HasSuffix(r.URL.Path, "/secrets") && r.URL.Query().Get("reveal") == "true"
	}
	return true
}

// auditRecord is the audit record of r as far as it went: who (the token
// its guard let in, if any), what and from where.
func auditRecord(r *http.Request, st *requestState) *stamp.AuditRecord {
	rec := &stamp.AuditRecord{
		At: time.Now(), Action: r.Pattern, Resource: r.URL.Path,
		Remote: r.RemoteAddr, RequestID: st.id,
	}
	if strings.Contains(r.Pattern, "/tenants/{name}") {
		rec.Tenant = r.PathValue("name")
	} else if st.tenant != "" {
		rec.Tenant = st.tenant
	}
	if tok := st.token; tok != nil {
		rec.TokenID, rec.TokenName, rec.Role, rec.TokenTenant = tok.ID, tok.Name, tok.Role, tok.Tenant
	}
	return rec
}

// recordAudit appends rec, the record of a call no store write took with
// its change (one that failed, or changed nothing the store wrote with
// events), with the status it was answered. A record that cannot be
// written is logged as an error: the answer has gone.
func recordAudit(ctx context.Context, log stamp.AuditLog, logger *slog.Logger, rec *stamp.AuditRecord, status int, answered string) {
	rec.Status, rec.Outcome = status, stamp.AuditOK
	if status >= http.StatusBadRequest {
		rec.Outcome, rec.Error = stamp.AuditFailed, answered
	}
	ctx, cancel := context.WithTimeout(stamp.WithoutPendingAudit(context.WithoutCancel(ctx)), 10*time.Second)
	defer cancel()
	if err := log.AppendAudit(ctx, rec); err != nil {
		logger.Error("append an audit record", "action", rec.Action, "resource", rec.Resource, "request_id", rec.RequestID, "err", err)
	}
}

// defaultAnonymousRate bounds the audit records of calls without a valid
// token from one client address, a second (in bursts of twice that):
// anyone who reaches the API can make those, and each is a write of the
// store.
const defaultAnonymousRate = 5

// anonymousAudit decides which records of calls without a valid token
// are written, per client address, and says how many it drops.
type anonymousAudit struct {
	limits *rateLimits
	log    *slog.Logger

	mu       sync.Mutex
	dropped  int
	lastWarn time.Time
}

func newAnonymousAudit(perSecond float64, log *slog.Logger) *anonymousAudit {
	return &anonymousAudit{limits: newRateLimits(perSecond, stamp.SystemClock{}), log: log}
}

// allow reports whether a record of a call from remote (host:port) is
// written; past the rate it is dropped, and a warning says so at most
// once a minute.
func (a *anonymousAudit) allow(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	if a.limits.per <= 0 || a.limits.wait("addr:"+host) == 0 {
		return true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.dropped++
	if time.Since(a.lastWarn) >= time.Minute {
		a.log.Warn("audit: records of calls without a valid token dropped, over the rate of one client address", "dropped", a.dropped, "last_from", host, "rate_per_second", float64(a.limits.per))
		a.dropped, a.lastWarn = 0, time.Now()
	}
	return false
}
