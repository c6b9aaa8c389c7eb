package httpapi

import (
	"net/http"

	"github.com/stamphq/stamp/flow"
)

// route is one route of the API: its pattern, who may call it and its
// handler (body limits included).
type route struct {
	pattern string
	access  access
	handler http.Handler
}

// routes lists every route of the API, with who may call it, so that
// each route's protection is visible in one place.
func routes(cfg Config, cache *blueprintCache) []route {
	engines := engineSet{have: cfg.Engines, refused: cfg.EngineRefusals}
	st, bk := cfg.Store, cfg.Backups
	bundleBody := limitBody(cfg.MaxBundleBytes)
	named, listed := viewer.of(tenantNamed), viewer.of(tenantListed)
	operNamed, catalogue := oper.of(tenantNamed), viewer.of(shared)
	creates := newCreateGate(cfg.MaxCreates, cfg.CreateQueue)
	mass := massGuard{store: st, clock: cfg.Clock, limit: cfg.MassChangeLimit, share: cfg.MassChangeShare}
	index := cfg.Flow
	if index == nil {
		index = flow.NewIndex(st)
	}

	rs := []route{
		{"GET /healthz", public, handleHealthz()},
		{"GET /readyz", public, handleReadyz(cfg.Ready)},

		{"POST /v1/blueprints", oper, bundleBody(slowUpload(handleBlueprintPush(st, cache, cfg.Clock, cfg.SharedNetwork)))},
		{"GET /v1/blueprints", catalogue, handleBlueprintList(st)},
		{"GET /v1/blueprints/{name}", catalogue, handleBlueprintGet(st)},
		{"GET /v1/blueprints/{name}/{version}", catalogue, handleBlueprintGet(st)},
		{"POST /v1/blueprints/{name}/{version}/yank", oper, handleBlueprintYank(st, cfg.Clock, true)},
		{"DELETE /v1/blueprints/{name}/{version}/yank", oper, handleBlueprintYank(st, cfg.Clock, false)},

		{"POST /v1/tenants", oper, creates.wrap(handleTenantCreate(st, cache, engines, cfg))},
		{"GET /v1/tenants", listed, handleTenantList(st, cfg.Health)},
		{"GET /v1/tenant-counts", listed, handleTenantCounts(st)},
		{"GET /v1/tenants/{name}", named, handleTenantGet(st, cfg.Health)},
		{"DELETE /v1/tenants/{name}", operNamed, mass.guarded(handleTenantDelete(st, cfg.Clock, cfg.Enqueue, cfg.DeleteGrace))},
		{"POST /v1/tenants/{name}/undelete", operNamed, handleTenantUndelete(st, cfg.Clock, cfg.Enqueue)},
		{"PATCH /v1/tenants/{name}", operNamed, handleTenantSet(st, cache, cfg.Clock, cfg.Enqueue)},
		{"GET /v1/tenants/{name}/secrets", admin.of(tenantNamed), handleTenantSecrets(st, cfg.Clock)},
		{"POST /v1/tenants/{name}/retry", operNamed, handleTenantRetry(st, cfg.Clock, cfg.Enqueue)},
		{"POST /v1/tenants/{name}/wake", operNamed, handleTenantWake(st, cfg.Clock, cfg.Enqueue)},
		// Not a tenant's own tokens: a customer must not resume itself.
		{"POST /v1/tenants/{name}/suspend", oper, mass.guarded(handleTenantSuspend(st, cfg.Clock, cfg.Enqueue, true))},
		{"POST /v1/tenants/{name}/resume", oper, handleTenantSuspend(st, cfg.Clock, cfg.Enqueue, false)},
		{"POST /v1/tenants/{name}/upgrade", operNamed, handleTenantUpgrade(st, cache, engines, cfg.Clock, cfg.Enqueue)},
		{"POST /v1/tenants/{name}/pin", operNamed, handleTenantPin(st, cfg.Clock, cfg.Enqueue, true)},
		{"DELETE /v1/tenants/{name}/pin", operNamed, handleTenantPin(st, cfg.Clock, cfg.Enqueue, false)},
		{"POST /v1/tenants/{name}/backups", operNamed, withBackups(bk, handleBackupCreate(st, bk))},
		{"GET /v1/tenants/{name}/backups", named, withBackups(bk, handleBackupList(bk))},
		{"GET /v1/tenants/{name}/backups/{id}/archive", operNamed, withBackups(bk, handleBackupArchive(bk))},
		{"POST /v1/tenants/{name}/restore", operNamed, withBackups(bk, handleTenantRestore(st, cfg.Clock, cfg.Enqueue, bk))},
		// Both make a tenant: fleet-wide, as a create is.
		{"POST /v1/tenants/{name}/clone", oper, withBackups(bk, handleTenantClone(st, cfg.Clock, cfg.Enqueue, bk))},
		{"POST /v1/tenants/{name}/import", oper, limitBody(cfg.MaxImportBytes)(withBackups(bk, handleTenantImport(st, cfg.Clock, cfg.Enqueue, bk)))},
		{"GET /v1/tenants/{name}/events", named, handleTenantEvents(st)},
		{"GET /v1/tenants/{name}/logs", named, handleTenantLogs(st, cfg.Logs)},

		{"POST /v1/releases", oper, handleReleaseCreate(st, cache, engines, cfg.Clock)},
		{"GET /v1/releases", viewer, handleReleaseList(st)},
		{"GET /v1/releases/{id}", viewer, handleReleaseGet(st)},
		{"POST /v1/releases/{id}/tenants/{name}/skip", oper, handleReleaseTenant(st, cfg.Clock, "skip")},
		{"POST /v1/releases/{id}/tenants/{name}/retry", oper, handleReleaseTenant(st, cfg.Clock, "retry")},

		{"GET /v1/incidents", viewer, handleIncidentList(st)},
		{"GET /v1/incidents/stats", viewer, handleIncidentStats(st)},
		{"GET /v1/incidents/{id}", viewer, handleIncidentGet(st)},
		{"POST /v1/incidents/{id}/ack", oper, handleIncidentAction(st, cfg.Clock, "ack")},
		{"POST /v1/incidents/{id}/resolve", oper, handleIncidentAction(st, cfg.Clock, "resolve")},

		{"POST /v1/webhooks", admin, handleWebhookCreate(st, cfg.Clock)},
		{"GET /v1/webhooks", viewer, handleWebhookList(st)},
		{"GET /v1/webhooks/{id}", viewer, handleWebhookGet(st)},
		{"DELETE /v1/webhooks/{id}", admin, handleWebhookDelete(st)},
		{"GET /v1/webhooks/{id}/attempts", viewer, handleWebhookAttempts(st)},

		{"GET /v1/events", viewer, handleEvents(st)},
		{"GET /v1/flow", viewer, handleFlow(st, index, cfg.Clock)},
		{"POST /v1/pipeline-events", oper, handlePipelineEvent(st)},

		{"POST /v1/keys/rotate", admin, handleKeyRotate(st, cfg.Keys, cfg.Clock)},
		{"POST /v1/gc", admin, handleGC(cfg.GC)},

		{"GET /v1/audit", admin, handleAuditList(st)},

		{"GET /v1/whoami", catalogue, handleWhoAmI()},
		{"POST /v1/tokens", admin, handleTokenCreate(st, cfg.Clock)},
		{"GET /v1/tokens", admin, handleTokenList(st)},
		{"DELETE /v1/tokens/{ref}", admin, handleTokenRevoke(st, cfg.Clock, cfg.TokenCache)},
	}
	for _, action := range []string{"pause", "resume", "abort"} {
		rs = append(rs, route{"POST /v1/releases/{id}/" + action, oper, handleReleaseControl(st, action)})
	}
	if cfg.Metrics != nil {
		rs = append(rs, route{"GET /metrics", viewer, cfg.Metrics})
	}
	return rs
}

// addRoutes registers every route of the API behind its guard and its
// rate limit, its body bounded by MaxBodyBytes unless the route bounds
// it itself (a bundle upload).
func addRoutes(mux *http.ServeMux, cfg Config, cache *blueprintCache) {
	tokens := tokenSource{store: cfg.Store, cache: cfg.TokenCache}
	limits := newRateLimits(cfg.RateLimit, cfg.Clock)
	body := limitBody(cfg.MaxBodyBytes)
	for _, rt := range routes(cfg, cache) {
		h := rt.handler
		if _, ok := h.(bodyLimited); !ok {
			h = body(h)
		}
		mux.Handle(rt.pattern, guard(tokens, cfg.Clock, rt.access)(limits.wrap(h)))
	}
}
