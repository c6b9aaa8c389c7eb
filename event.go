package stamp

import "time"

// Event types.
const (
	EventTenantCreated  = "tenant.created"
	EventTenantReady    = "tenant.ready"
	EventTenantFailed   = "tenant.failed"
	EventTenantDeleting = "tenant.deleting"
	EventTenantRetrying = "tenant.retrying" // an operator asked a failed tenant to try again
	EventTenantDeleted  = "tenant.deleted"
	EventStep           = "tenant.step"  // a step finished (Status ok) or failed
	EventRetry          = "tenant.retry" // a step hit a transient error and will be retried
	// EventTenantExposed warns that an instance listens beyond loopback
	// with no network of its own: reachable without the router. Message
	// names the instance and the address.
	EventTenantExposed   = "tenant.exposed"
	EventBlueprintPushed = "blueprint.pushed"
	// EventBlueprintYanked and EventBlueprintUnyanked: Message names the
	// version, the reason and the tenants still on it.
	EventBlueprintYanked   = "blueprint.yanked"
	EventBlueprintUnyanked = "blueprint.unyanked"
	// EventBlueprintBuilt records the build a push ran (its command and
	// how long it took, StartedAt to FinishedAt), with the push.
	EventBlueprintBuilt = "blueprint.built"

	// EventAuditRecorded is the type webhooks subscribe to for the audit
	// log: each record is delivered as one (see AuditRecord). It is not
	// in the event log, which stays the tenants' story.
	EventAuditRecorded = "audit.recorded"

	EventTenantUpgradeRequested = "tenant.upgrade-requested" // the spec names another version
	EventTenantPinned           = "tenant.pinned"            // Message names the version, empty when unpinned
	EventTenantUpgrading        = "tenant.upgrading"         // a move to another version started
	EventTenantUpgraded         = "tenant.upgraded"          // it serves the new version
	EventTenantRolledBack       = "tenant.rolled-back"       // a failed move was undone; Step and Message say why
	// EventTenantHolding says a recreate upgrade stopped routing to the
	// old version: routers hold the tenant's requests until the new one
	// serves.
	EventTenantHolding = "tenant.holding"
	// EventTenantAsleep says an idle tenant's instances were stopped
	// (scale to zero); Message says after how long without a request.
	EventTenantAsleep = "tenant.asleep"
	// EventTenantSuspending says an operator asked for the tenant to be
	// suspended, EventTenantSuspended that its instances stopped, and
	// EventTenantResuming that an operator asked for it back.
	EventTenantSuspending = "tenant.suspending"
	EventTenantSuspended  = "tenant.suspended"
	EventTenantResuming   = "tenant.resuming"
	// EventTenantBackedUp says a backup of the tenant was taken (Message
	// names it); EventTenantRestoring that an operator asked for the
	// tenant's data to be put back to a backup, or a new tenant to be
	// filled from one, and EventTenantRestored that its databases and
	// data directory hold the backup's (Message names it).
	EventTenantBackedUp  = "tenant.backed-up"
	EventTenantRestoring = "tenant.restoring"
	EventTenantRestored  = "tenant.restored"
	// EventTenantSoftDeleted says a deleted tenant's instances stopped
	// and its data is kept until it is purged (Message says when);
	// EventTenantUndeleted that an operator brought it back.
	EventTenantSoftDeleted = "tenant.soft-deleted"
	EventTenantUndeleted   = "tenant.undeleted"
	// EventTenantWaking says a request reached a sleeping tenant and its
	// instances are being started; tenant.ready follows once it serves.
	EventTenantWaking = "tenant.waking"

	EventIncidentOpened       = "incident.opened"       // Message: cause and what was seen
	EventIncidentUpdated      = "incident.updated"      // a new timeline entry
	EventIncidentAcknowledged = "incident.acknowledged" // someone is on it
	EventIncidentResolved     = "incident.resolved"     // recovered, or closed by an operator

	EventReleaseCreated   = "release.created"
	EventReleaseWave      = "release.wave"   // a wave started (Message names it)
	EventReleaseGate      = "release.gate"   // a wave's gate passed (Status ok) or failed
	EventReleaseTenant    = "release.tenant" // a tenant's state in the release changed
	EventReleasePaused    = "release.paused"
	EventReleaseResumed   = "release.resumed"
	EventReleaseSucceeded = "release.succeeded"
	EventReleaseFailed    = "release.failed"
	EventReleaseAborted   = "release.aborted"
)

// Step outcomes recorded in Event.Status.
const (
	StatusOK     = "ok"
	StatusFailed = "failed"
)

// Event is an append-only record of something that happened. Steps carry
// the times the step was queued, started and finished, so wait time
// (Started-Queued) and work time (Finished-Started) are read off the log.
type Event struct {
	// Seq is assigned by the store: strictly increasing, never reused.
	Seq        int64     `json:"seq"`
	Time       time.Time `json:"time"`
	Type       string    `json:"type"`
	Tenant     string    `json:"tenant,omitempty"`
	Release    string    `json:"release,omitempty"`  // the release the event is part of
	Incident   string    `json:"incident,omitempty"` // the incident the event is part of
	Generation int64     `json:"generation,omitempty"`
	Step       string    `json:"step,omitempty"`
	Status     string    `json:"status,omitempty"`
	Message    string    `json:"message,omitempty"`
	QueuedAt   time.Time `json:"queuedAt,omitzero"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
}

// EventFilter selects events. Zero fields select everything.
type EventFilter struct {
	AfterSeq int64  // only events with Seq > AfterSeq
	Tenant   string // only this tenant's events
	Release  string // only this release's events
	Limit    int    // at most this many, oldest first; 0 means the store's default
}

// EventTypes lists every event type, sorted, for checking the patterns a
// webhook subscribes to. A test keeps it complete.
var EventTypes = []string{
	EventAuditRecorded,
	EventBlueprintBuilt,
	EventBlueprintPushed,
	EventBlueprintUnyanked,
	EventBlueprintYanked,
	EventIncidentAcknowledged,
	EventIncidentOpened,
	EventIncidentResolved,
	EventIncidentUpdated,
	EventKeysRotated,
	EventReleaseAborted,
	EventReleaseCreated,
	EventReleaseFailed,
	EventReleaseGate,
	EventReleasePaused,
	EventReleaseResumed,
	EventReleaseSucceeded,
	EventReleaseTenant,
	EventReleaseWave,
	EventTenantAsleep,
	EventTenantBackedUp,
	EventTenantChanged,
	EventTenantCreated,
	EventTenantDeleted,
	EventTenantDeleting,
	EventTenantExposed,
	EventTenantFailed,
	EventTenantHolding,
	EventTenantPinned,
	EventTenantReady,
	EventTenantRestored,
	EventTenantRestoring,
	EventTenantResuming,
	EventRetry,
	EventTenantRetrying,
	EventTenantRolledBack,
	EventTenantSecretsRevealed,
	EventTenantSoftDeleted,
	EventStep,
	EventTenantSuspended,
	EventTenantSuspending,
	EventTenantUndeleted,
	EventTenantUpgradeRequested,
	EventTenantUpgraded,
	EventTenantUpgrading,
	EventTenantWaking,
}
