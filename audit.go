package stamp

import (
	"context"
	"sync"
	"time"
)

// Outcomes of an audited call (AuditRecord.Outcome).
const (
	AuditOK     = "ok"     // the call did what it was asked
	AuditFailed = "failed" // it was refused or failed; nothing or part was done
)

// AuditRecord says who did what through the API: every call that
// changes something, and every reveal of secrets.
type AuditRecord struct {
	// Seq orders the records; the store assigns it.
	Seq int64     `json:"seq"`
	At  time.Time `json:"at"`
	// The token the call came with; empty for one without a valid token.
	TokenID     string `json:"tokenId,omitempty"`
	TokenName   string `json:"tokenName,omitempty"`
	Role        Role   `json:"role,omitempty"`
	TokenTenant string `json:"tokenTenant,omitempty"`
	// Action is the route called ("DELETE /v1/tenants/{name}"), Resource
	// its path, Tenant the tenant it named, if any.
	Action   string `json:"action"`
	Resource string `json:"resource"`
	Tenant   string `json:"tenant,omitempty"`
	// Remote is the client's address; RequestID the call's X-Request-Id.
	Remote    string `json:"remote"`
	RequestID string `json:"requestId"`
	// Status is the HTTP status answered; 0 for a record written with
	// the change it records, before the answer (Outcome is then ok: the
	// change committed).
	Status  int    `json:"status,omitempty"`
	Outcome string `json:"outcome"`
	// Error is what a failed call answered.
	Error string `json:"error,omitempty"`
}

// AuditFilter selects audit records; zero fields select everything.
type AuditFilter struct {
	Tenant   string    // records of calls on this tenant
	Token    string    // records of calls with this token (its name or ID)
	Since    time.Time // records at or after this time
	AfterSeq int64     // records after this Seq
	Limit    int       // at most this many, oldest first; 0: the store's default
}

// AuditLog keeps audit records. There is no way to change or delete one.
type AuditLog interface {
	// AppendAudit appends rec, setting Seq (and At if zero).
	AppendAudit(ctx context.Context, rec *AuditRecord) error
	// ListAudit returns the records f selects, oldest first.
	ListAudit(ctx context.Context, f AuditFilter) ([]*AuditRecord, error)
	// LastAuditSeq returns the highest Seq appended, 0 if none.
	LastAuditSeq(ctx context.Context) (int64, error)
}

// PendingAudit is the audit record of a call under way, which the first
// store transaction of the call to commit a change writes with it (see
// WithPendingAudit), so that the change and its record are kept or lost
// together.
type PendingAudit struct {
	build func() *AuditRecord

	mu      sync.Mutex
	claimed bool // a transaction holds it
	written bool // a committed transaction wrote it
}

type pendingAuditKey struct{}

// WithPendingAudit returns ctx carrying the record build makes (when a
// store writes it: who called and what is known by then) for the store
// to write with the call's first change, and the PendingAudit to ask
// afterwards.
func WithPendingAudit(ctx context.Context, build func() *AuditRecord) (context.Context, *PendingAudit) {
	p := &PendingAudit{build: build}
	return context.WithValue(ctx, pendingAuditKey{}, p), p
}

// WithoutPendingAudit returns ctx with no pending audit record: for the
// write of a record itself.
func WithoutPendingAudit(ctx context.Context) context.Context {
	return context.WithValue(ctx, pendingAuditKey{}, (*PendingAudit)(nil))
}

// PendingAuditIn reports whether ctx carries an audit record no write
// has taken yet: a store's write then needs a transaction to take it.
func PendingAuditIn(ctx context.Context) bool {
	p, _ := ctx.Value(pendingAuditKey{}).(*PendingAudit)
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.claimed && !p.written
}

// ClaimAudit returns the record a store transaction under ctx is to write,
// nil if there is none or another transaction holds or wrote it. The
// transaction calls Settle once it committed or rolled back.
func ClaimAudit(ctx context.Context) *PendingAudit {
	p, _ := ctx.Value(pendingAuditKey{}).(*PendingAudit)
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.claimed || p.written {
		return nil
	}
	p.claimed = true
	return p
}

// Record returns the record to write, its outcome ok: the change it goes
// with is what the call did.
func (p *PendingAudit) Record() *AuditRecord {
	rec := p.build()
	rec.Outcome = AuditOK
	return rec
}

// Settle tells p whether the transaction that claimed it committed.
func (p *PendingAudit) Settle(committed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.claimed = false
	p.written = p.written || committed
}

// Written reports whether a committed transaction wrote the record.
func (p *PendingAudit) Written() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.written
}
