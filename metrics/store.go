package metrics

import (
	"context"
	"errors"
	"reflect"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stamphq/stamp"
)

// storeMethods are the method label's values: every method of stamp.Store.
var storeMethods = func() []string {
	t := reflect.TypeFor[stamp.Store]()
	names := make([]string, t.NumMethod())
	for i := range names {
		names[i] = t.Method(i).Name
	}
	return names
}()

// WrapStore returns st with every call timed in stamp_store_duration_seconds
// and every error counted in stamp_store_errors_total. Give the wrapped
// store to every part of the server, so the figures are the server's.
func (m *Metrics) WrapStore(st stamp.Store) stamp.Store {
	s := &timedStore{Store: st, calls: make(map[string]prometheus.Observer, len(storeMethods)), errors: m.storeErrors}
	for _, name := range storeMethods {
		s.calls[name] = m.storeCalls.WithLabelValues(name)
	}
	return s
}

// timedStore times every method of the store it wraps. It embeds the store
// so that it still builds when stamp.Store grows; TestStoreTimesEveryMethod
// then fails until the new method is timed here too.
type timedStore struct {
	stamp.Store
	calls  map[string]prometheus.Observer // by method; never written after WrapStore
	errors *prometheus.CounterVec
}

var _ stamp.Store = (*timedStore)(nil)

// observe records a call of method that started at start and returned err.
func (s *timedStore) observe(method string, start time.Time, err error) {
	s.calls[method].Observe(time.Since(start).Seconds())
	if err != nil {
		s.errors.WithLabelValues(method, errorCode(err)).Inc()
	}
}

// errorCode is the code label of a store error: its stamp code, or
// "canceled" for a call whose context ended (a client that hung up, a
// server shutting down), which says nothing of the store.
func errorCode(err error) string {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "canceled"
	}
	return stamp.ErrorCode(err)
}

// BundleContent times stamp.Store.BundleContent.
func (s *timedStore) BundleContent(ctx context.Context, digest string) ([]byte, error) {
	start := time.Now()
	v, err := s.Store.BundleContent(ctx, digest)
	s.observe("BundleContent", start, err)
	return v, err
}

// CreateBundle times stamp.Store.CreateBundle.
func (s *timedStore) CreateBundle(ctx context.Context, b *stamp.Bundle) error {
	start := time.Now()
	err := s.Store.CreateBundle(ctx, b)
	s.observe("CreateBundle", start, err)
	return err
}

// GetBundle times stamp.Store.GetBundle.
func (s *timedStore) GetBundle(ctx context.Context, name, version string) (*stamp.Bundle, error) {
	start := time.Now()
	v, err := s.Store.GetBundle(ctx, name, version)
	s.observe("GetBundle", start, err)
	return v, err
}

// ListBundles times stamp.Store.ListBundles.
func (s *timedStore) ListBundles(ctx context.Context) ([]*stamp.Bundle, error) {
	start := time.Now()
	v, err := s.Store.ListBundles(ctx)
	s.observe("ListBundles", start, err)
	return v, err
}

// SetYanked times stamp.Store.SetYanked.
func (s *timedStore) SetYanked(ctx context.Context, name, version string, yanked bool, reason string, events ...*stamp.Event) (*stamp.Bundle, bool, error) {
	start := time.Now()
	b, changed, err := s.Store.SetYanked(ctx, name, version, yanked, reason, events...)
	s.observe("SetYanked", start, err)
	return b, changed, err
}

// CreateTenant times stamp.Store.CreateTenant.
func (s *timedStore) CreateTenant(ctx context.Context, t *stamp.Tenant, events ...*stamp.Event) error {
	start := time.Now()
	err := s.Store.CreateTenant(ctx, t, events...)
	s.observe("CreateTenant", start, err)
	return err
}

// ClaimTenant times stamp.Store.ClaimTenant.
func (s *timedStore) ClaimTenant(ctx context.Context, pooled string, resourceVersion int64, t *stamp.Tenant, secrets map[string]string, events ...*stamp.Event) error {
	start := time.Now()
	err := s.Store.ClaimTenant(ctx, pooled, resourceVersion, t, secrets, events...)
	s.observe("ClaimTenant", start, err)
	return err
}

// TenantByRuntime times stamp.Store.TenantByRuntime.
func (s *timedStore) TenantByRuntime(ctx context.Context, runtime string) (*stamp.Tenant, error) {
	start := time.Now()
	v, err := s.Store.TenantByRuntime(ctx, runtime)
	s.observe("TenantByRuntime", start, err)
	return v, err
}

// GetTenant times stamp.Store.GetTenant.
func (s *timedStore) GetTenant(ctx context.Context, name string) (*stamp.Tenant, error) {
	start := time.Now()
	v, err := s.Store.GetTenant(ctx, name)
	s.observe("GetTenant", start, err)
	return v, err
}

// ListTenants times stamp.Store.ListTenants.
func (s *timedStore) ListTenants(ctx context.Context) ([]*stamp.Tenant, error) {
	start := time.Now()
	v, err := s.Store.ListTenants(ctx)
	s.observe("ListTenants", start, err)
	return v, err
}

// CountTenants times stamp.Store.CountTenants.
func (s *timedStore) CountTenants(ctx context.Context, f stamp.TenantFilter) ([]stamp.TenantCount, error) {
	start := time.Now()
	v, err := s.Store.CountTenants(ctx, f)
	s.observe("CountTenants", start, err)
	return v, err
}

// ListTenantsPage times stamp.Store.ListTenantsPage.
func (s *timedStore) ListTenantsPage(ctx context.Context, p stamp.TenantPage) ([]*stamp.Tenant, string, error) {
	start := time.Now()
	v, next, err := s.Store.ListTenantsPage(ctx, p)
	s.observe("ListTenantsPage", start, err)
	return v, next, err
}

// UpdateTenant times stamp.Store.UpdateTenant.
func (s *timedStore) UpdateTenant(ctx context.Context, t *stamp.Tenant, events ...*stamp.Event) error {
	start := time.Now()
	err := s.Store.UpdateTenant(ctx, t, events...)
	s.observe("UpdateTenant", start, err)
	return err
}

// DeleteTenant times stamp.Store.DeleteTenant.
func (s *timedStore) DeleteTenant(ctx context.Context, name string, resourceVersion int64, events ...*stamp.Event) error {
	start := time.Now()
	err := s.Store.DeleteTenant(ctx, name, resourceVersion, events...)
	s.observe("DeleteTenant", start, err)
	return err
}

// Secrets times stamp.Store.Secrets.
func (s *timedStore) Secrets(ctx context.Context, tenant string) (map[string]string, error) {
	start := time.Now()
	v, err := s.Store.Secrets(ctx, tenant)
	s.observe("Secrets", start, err)
	return v, err
}

// PutSecrets times stamp.Store.PutSecrets.
func (s *timedStore) PutSecrets(ctx context.Context, tenant string, secrets map[string]string) error {
	start := time.Now()
	err := s.Store.PutSecrets(ctx, tenant, secrets)
	s.observe("PutSecrets", start, err)
	return err
}

// AppendEvents times stamp.Store.AppendEvents.
func (s *timedStore) AppendEvents(ctx context.Context, events ...*stamp.Event) error {
	start := time.Now()
	err := s.Store.AppendEvents(ctx, events...)
	s.observe("AppendEvents", start, err)
	return err
}

// ListEvents times stamp.Store.ListEvents.
func (s *timedStore) ListEvents(ctx context.Context, f stamp.EventFilter) ([]*stamp.Event, error) {
	start := time.Now()
	v, err := s.Store.ListEvents(ctx, f)
	s.observe("ListEvents", start, err)
	return v, err
}

// LastEventSeq times stamp.Store.LastEventSeq.
func (s *timedStore) LastEventSeq(ctx context.Context) (int64, error) {
	start := time.Now()
	v, err := s.Store.LastEventSeq(ctx)
	s.observe("LastEventSeq", start, err)
	return v, err
}

// TryLease times stamp.Store.TryLease.
func (s *timedStore) TryLease(ctx context.Context, key, holder string, ttl time.Duration) (bool, error) {
	start := time.Now()
	v, err := s.Store.TryLease(ctx, key, holder, ttl)
	s.observe("TryLease", start, err)
	return v, err
}

// RenewLeases times stamp.Store.RenewLeases.
func (s *timedStore) RenewLeases(ctx context.Context, holder string, ttl time.Duration) ([]string, error) {
	start := time.Now()
	v, err := s.Store.RenewLeases(ctx, holder, ttl)
	s.observe("RenewLeases", start, err)
	return v, err
}

// ReleaseLease times stamp.Store.ReleaseLease.
func (s *timedStore) ReleaseLease(ctx context.Context, key, holder string) error {
	start := time.Now()
	err := s.Store.ReleaseLease(ctx, key, holder)
	s.observe("ReleaseLease", start, err)
	return err
}

// RecordActivity times stamp.Store.RecordActivity.
func (s *timedStore) RecordActivity(ctx context.Context, seen map[string]time.Time) error {
	start := time.Now()
	err := s.Store.RecordActivity(ctx, seen)
	s.observe("RecordActivity", start, err)
	return err
}

// LastActivity times stamp.Store.LastActivity.
func (s *timedStore) LastActivity(ctx context.Context) (map[string]time.Time, error) {
	start := time.Now()
	v, err := s.Store.LastActivity(ctx)
	s.observe("LastActivity", start, err)
	return v, err
}

// CreateRelease times stamp.Store.CreateRelease.
func (s *timedStore) CreateRelease(ctx context.Context, r *stamp.Release, events ...*stamp.Event) error {
	start := time.Now()
	err := s.Store.CreateRelease(ctx, r, events...)
	s.observe("CreateRelease", start, err)
	return err
}

// GetRelease times stamp.Store.GetRelease.
func (s *timedStore) GetRelease(ctx context.Context, id string) (*stamp.Release, error) {
	start := time.Now()
	v, err := s.Store.GetRelease(ctx, id)
	s.observe("GetRelease", start, err)
	return v, err
}

// ListReleases times stamp.Store.ListReleases.
func (s *timedStore) ListReleases(ctx context.Context) ([]*stamp.Release, error) {
	start := time.Now()
	v, err := s.Store.ListReleases(ctx)
	s.observe("ListReleases", start, err)
	return v, err
}

// UpdateRelease times stamp.Store.UpdateRelease.
func (s *timedStore) UpdateRelease(ctx context.Context, r *stamp.Release, events ...*stamp.Event) error {
	start := time.Now()
	err := s.Store.UpdateRelease(ctx, r, events...)
	s.observe("UpdateRelease", start, err)
	return err
}

// CreateIncident times stamp.Store.CreateIncident.
func (s *timedStore) CreateIncident(ctx context.Context, i *stamp.Incident) error {
	start := time.Now()
	err := s.Store.CreateIncident(ctx, i)
	s.observe("CreateIncident", start, err)
	return err
}

// GetIncident times stamp.Store.GetIncident.
func (s *timedStore) GetIncident(ctx context.Context, id string) (*stamp.Incident, error) {
	start := time.Now()
	v, err := s.Store.GetIncident(ctx, id)
	s.observe("GetIncident", start, err)
	return v, err
}

// ListIncidents times stamp.Store.ListIncidents.
func (s *timedStore) ListIncidents(ctx context.Context, f stamp.IncidentFilter) ([]*stamp.Incident, error) {
	start := time.Now()
	v, err := s.Store.ListIncidents(ctx, f)
	s.observe("ListIncidents", start, err)
	return v, err
}

// UpdateIncident times stamp.Store.UpdateIncident.
func (s *timedStore) UpdateIncident(ctx context.Context, i *stamp.Incident) error {
	start := time.Now()
	err := s.Store.UpdateIncident(ctx, i)
	s.observe("UpdateIncident", start, err)
	return err
}

// CreateWebhook times stamp.Store.CreateWebhook.
func (s *timedStore) CreateWebhook(ctx context.Context, w *stamp.Webhook) error {
	start := time.Now()
	err := s.Store.CreateWebhook(ctx, w)
	s.observe("CreateWebhook", start, err)
	return err
}

// GetWebhook times stamp.Store.GetWebhook.
func (s *timedStore) GetWebhook(ctx context.Context, id string) (*stamp.Webhook, error) {
	start := time.Now()
	v, err := s.Store.GetWebhook(ctx, id)
	s.observe("GetWebhook", start, err)
	return v, err
}

// ListWebhooks times stamp.Store.ListWebhooks.
func (s *timedStore) ListWebhooks(ctx context.Context) ([]*stamp.Webhook, error) {
	start := time.Now()
	v, err := s.Store.ListWebhooks(ctx)
	s.observe("ListWebhooks", start, err)
	return v, err
}

// UpdateWebhook times stamp.Store.UpdateWebhook.
func (s *timedStore) UpdateWebhook(ctx context.Context, w *stamp.Webhook) error {
	start := time.Now()
	err := s.Store.UpdateWebhook(ctx, w)
	s.observe("UpdateWebhook", start, err)
	return err
}

// DeleteWebhook times stamp.Store.DeleteWebhook.
func (s *timedStore) DeleteWebhook(ctx context.Context, id string) error {
	start := time.Now()
	err := s.Store.DeleteWebhook(ctx, id)
	s.observe("DeleteWebhook", start, err)
	return err
}

// AppendDeliveryAttempt times stamp.Store.AppendDeliveryAttempt.
func (s *timedStore) AppendDeliveryAttempt(ctx context.Context, a *stamp.DeliveryAttempt) error {
	start := time.Now()
	err := s.Store.AppendDeliveryAttempt(ctx, a)
	s.observe("AppendDeliveryAttempt", start, err)
	return err
}

// ListDeliveryAttempts times stamp.Store.ListDeliveryAttempts.
func (s *timedStore) ListDeliveryAttempts(ctx context.Context, webhook string, limit int) ([]*stamp.DeliveryAttempt, error) {
	start := time.Now()
	v, err := s.Store.ListDeliveryAttempts(ctx, webhook, limit)
	s.observe("ListDeliveryAttempts", start, err)
	return v, err
}

// CreateToken times stamp.Store.CreateToken.
func (s *timedStore) CreateToken(ctx context.Context, t *stamp.Token) error {
	start := time.Now()
	err := s.Store.CreateToken(ctx, t)
	s.observe("CreateToken", start, err)
	return err
}

// AppendAudit times stamp.Store.AppendAudit.
func (s *timedStore) AppendAudit(ctx context.Context, rec *stamp.AuditRecord) error {
	start := time.Now()
	err := s.Store.AppendAudit(ctx, rec)
	s.observe("AppendAudit", start, err)
	return err
}

// ListAudit times stamp.Store.ListAudit.
func (s *timedStore) ListAudit(ctx context.Context, f stamp.AuditFilter) ([]*stamp.AuditRecord, error) {
	start := time.Now()
	v, err := s.Store.ListAudit(ctx, f)
	s.observe("ListAudit", start, err)
	return v, err
}

// LastAuditSeq times stamp.Store.LastAuditSeq.
func (s *timedStore) LastAuditSeq(ctx context.Context) (int64, error) {
	start := time.Now()
	v, err := s.Store.LastAuditSeq(ctx)
	s.observe("LastAuditSeq", start, err)
	return v, err
}

// ListTokens times stamp.Store.ListTokens.
func (s *timedStore) ListTokens(ctx context.Context) ([]*stamp.Token, error) {
	start := time.Now()
	v, err := s.Store.ListTokens(ctx)
	s.observe("ListTokens", start, err)
	return v, err
}

// RevokeToken times stamp.Store.RevokeToken.
func (s *timedStore) RevokeToken(ctx context.Context, ref string, at time.Time) (*stamp.Token, error) {
	start := time.Now()
	v, err := s.Store.RevokeToken(ctx, ref, at)
	s.observe("RevokeToken", start, err)
	return v, err
}

// TokenByHash times stamp.Store.TokenByHash.
func (s *timedStore) TokenByHash(ctx context.Context, hash string) (*stamp.Token, error) {
	start := time.Now()
	v, err := s.Store.TokenByHash(ctx, hash)
	s.observe("TokenByHash", start, err)
	return v, err
}

// Close times stamp.Store.Close.
func (s *timedStore) Close() error {
	start := time.Now()
	err := s.Store.Close()
	s.observe("Close", start, err)
	return err
}

// AppendPipelineEvent times stamp.Store.AppendPipelineEvent.
func (s *timedStore) AppendPipelineEvent(ctx context.Context, e *stamp.PipelineEvent) error {
	start := time.Now()
	err := s.Store.AppendPipelineEvent(ctx, e)
	s.observe("AppendPipelineEvent", start, err)
	return err
}

// ListPipelineEvents times stamp.Store.ListPipelineEvents.
func (s *timedStore) ListPipelineEvents(ctx context.Context, f stamp.PipelineFilter) ([]*stamp.PipelineEvent, error) {
	start := time.Now()
	v, err := s.Store.ListPipelineEvents(ctx, f)
	s.observe("ListPipelineEvents", start, err)
	return v, err
}

// FlowIndexed times stamp.Store.FlowIndexed.
func (s *timedStore) FlowIndexed(ctx context.Context) (int64, error) {
	start := time.Now()
	v, err := s.Store.FlowIndexed(ctx)
	s.observe("FlowIndexed", start, err)
	return v, err
}

// SaveFlowRuns times stamp.Store.SaveFlowRuns.
func (s *timedStore) SaveFlowRuns(ctx context.Context, from, to int64, runs []*stamp.FlowRun) error {
	start := time.Now()
	err := s.Store.SaveFlowRuns(ctx, from, to, runs)
	s.observe("SaveFlowRuns", start, err)
	return err
}

// EachFlowRun times stamp.Store.EachFlowRun, the calls of fn included.
func (s *timedStore) EachFlowRun(ctx context.Context, f stamp.FlowRunFilter, fn func(*stamp.FlowRun) error) error {
	start := time.Now()
	err := s.Store.EachFlowRun(ctx, f, fn)
	s.observe("EachFlowRun", start, err)
	return err
}
