package httpapi

import (
	"net/http"
)

// addRoutes registers every route of the API. Auth and body limits are
// applied here so that each route's protection is visible in one place.
func addRoutes(mux *http.ServeMux, cfg Config, cache *blueprintCache) {
	engines := engineSet{have: cfg.Engines, refused: cfg.EngineRefusals}
	st := cfg.Store
	auth := requireToken(st)
	jsonBody := limitBody(cfg.MaxBodyBytes)
	bundleBody := limitBody(cfg.MaxBundleBytes)

	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(cfg.Ready))
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", auth(cfg.Metrics))
	}

	mux.Handle("POST /v1/blueprints", auth(slowUpload(bundleBody(handleBlueprintPush(st, cache, cfg.Clock, cfg.SharedNetwork)))))
	mux.Handle("GET /v1/blueprints", auth(handleBlueprintList(st)))
	mux.Handle("GET /v1/blueprints/{name}", auth(handleBlueprintGet(st)))
	mux.Handle("GET /v1/blueprints/{name}/{version}", auth(handleBlueprintGet(st)))
	mux.Handle("POST /v1/blueprints/{name}/{version}/yank", auth(jsonBody(handleBlueprintYank(st, cfg.Clock, true))))
	mux.Handle("DELETE /v1/blueprints/{name}/{version}/yank", auth(handleBlueprintYank(st, cfg.Clock, false)))

	mux.Handle("POST /v1/tenants", auth(jsonBody(handleTenantCreate(st, cache, engines, cfg))))
	mux.Handle("GET /v1/tenants", auth(handleTenantList(st)))
	mux.Handle("GET /v1/tenants/{name}", auth(handleTenantGet(st, cfg.Health)))
	mux.Handle("DELETE /v1/tenants/{name}", auth(handleTenantDelete(st, cfg.Clock, cfg.Enqueue)))
	mux.Handle("PATCH /v1/tenants/{name}", auth(jsonBody(handleTenantSet(st, cache, cfg.Clock, cfg.Enqueue))))
	mux.Handle("GET /v1/tenants/{name}/secrets", auth(handleTenantSecrets(st, cfg.Clock)))
	mux.Handle("POST /v1/tenants/{name}/retry", auth(handleTenantRetry(st, cfg.Clock, cfg.Enqueue)))
	mux.Handle("POST /v1/tenants/{name}/wake", auth(handleTenantWake(st, cfg.Clock, cfg.Enqueue)))
	mux.Handle("POST /v1/tenants/{name}/upgrade", auth(jsonBody(handleTenantUpgrade(st, cache, engines, cfg.Clock, cfg.Enqueue))))
	mux.Handle("POST /v1/tenants/{name}/pin", auth(jsonBody(handleTenantPin(st, cfg.Clock, cfg.Enqueue, true))))
	mux.Handle("DELETE /v1/tenants/{name}/pin", auth(handleTenantPin(st, cfg.Clock, cfg.Enqueue, false)))
	mux.Handle("GET /v1/tenants/{name}/events", auth(handleTenantEvents(st)))
	mux.Handle("GET /v1/tenants/{name}/logs", auth(handleTenantLogs(st, cfg.Logs)))

	mux.Handle("POST /v1/releases", auth(jsonBody(handleReleaseCreate(st, cache, engines, cfg.Clock))))
	mux.Handle("GET /v1/releases", auth(handleReleaseList(st)))
	mux.Handle("GET /v1/releases/{id}", auth(handleReleaseGet(st)))
	for _, action := range []string{"pause", "resume", "abort"} {
		mux.Handle("POST /v1/releases/{id}/"+action, auth(handleReleaseControl(st, action)))
	}
	mux.Handle("POST /v1/releases/{id}/tenants/{name}/skip", auth(jsonBody(handleReleaseTenant(st, cfg.Clock, "skip"))))
	mux.Handle("POST /v1/releases/{id}/tenants/{name}/retry", auth(handleReleaseTenant(st, cfg.Clock, "retry")))

	mux.Handle("GET /v1/incidents", auth(handleIncidentList(st)))
	mux.Handle("GET /v1/incidents/stats", auth(handleIncidentStats(st)))
	mux.Handle("GET /v1/incidents/{id}", auth(handleIncidentGet(st)))
	mux.Handle("POST /v1/incidents/{id}/ack", auth(handleIncidentAction(st, cfg.Clock, "ack")))
	mux.Handle("POST /v1/incidents/{id}/resolve", auth(handleIncidentAction(st, cfg.Clock, "resolve")))

	mux.Handle("POST /v1/webhooks", auth(jsonBody(handleWebhookCreate(st, cfg.Clock))))
	mux.Handle("GET /v1/webhooks", auth(handleWebhookList(st)))
	mux.Handle("GET /v1/webhooks/{id}", auth(handleWebhookGet(st)))
	mux.Handle("DELETE /v1/webhooks/{id}", auth(handleWebhookDelete(st)))
	mux.Handle("GET /v1/webhooks/{id}/attempts", auth(handleWebhookAttempts(st)))

	mux.Handle("GET /v1/events", auth(handleEvents(st)))

	mux.Handle("POST /v1/keys/rotate", auth(handleKeyRotate(st, cfg.Keys, cfg.Clock)))
}
