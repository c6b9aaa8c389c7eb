package stamp

import (
	"strconv"
	"time"
)

// Desired states of a tenant, set by the API and acted on by the reconciler.
const (
	DesiredRunning   = "running"
	DesiredDeleted   = "deleted"
	DesiredSuspended = "suspended" // stopped by the operator, data and secrets kept
	// DesiredSoftDeleted: deleted by its operator, but kept stopped, as
	// a suspended tenant is, until TenantSpec.PurgeAt; an undelete
	// brings it back as it was, and past PurgeAt it is removed.
	DesiredSoftDeleted = "soft-deleted"
)

// Phases of a tenant, set by the reconciler.
const (
	PhaseProvisioning = "provisioning" // steps are being taken
	PhaseReady        = "ready"        // serving through the router
	PhaseFailed       = "failed"       // a step failed for good; see Status
	PhaseDeleting     = "deleting"     // resources are being released
	PhaseUpgrading    = "upgrading"    // moving to another version; the old one serves
	// PhaseSleeping: idle past its plan's idle time, the tenant's
	// instances are stopped; its data stays and a request wakes it.
	PhaseSleeping = "sleeping"
	// PhaseSuspended: an operator suspended the tenant; its instances
	// are stopped, its data and secrets stay, the router answers 503
	// and nothing wakes it but a resume.
	PhaseSuspended = "suspended"
	// PhaseRestoring: the tenant's instances are stopped while its data
	// is put back to a backup; it serves again once started from it.
	PhaseRestoring = "restoring"
	// PhaseSoftDeleted: deleted, its instances stopped, its data kept
	// until it is purged (TenantSpec.PurgeAt) or undeleted.
	PhaseSoftDeleted = "soft-deleted"
)

// Phases returns the tenant's phases, in the order a tenant meets them.
func Phases() []string {
	return []string{PhaseProvisioning, PhaseReady, PhaseUpgrading, PhaseSleeping, PhaseSuspended, PhaseRestoring, PhaseFailed,
		PhaseSoftDeleted, PhaseDeleting}
}

// Channels a tenant may follow; a release may target one.
const (
	ChannelStable = "stable"
	ChannelBeta   = "beta"
)

// Results of an upgrade (Upgrade.Result).
const (
	UpgradeSucceeded  = "upgraded"
	UpgradeRolledBack = "rolled-back"
	// UpgradeFailed is a move back to a snapshot that failed: it cannot be
	// undone by itself, so the tenant is failed for an operator.
	UpgradeFailed = "failed"
)

// Tenant is one customer: what it should run (Spec, versioned by
// Generation) and what the reconciler last saw (Status).
type Tenant struct {
	Name   string       `json:"name"`
	Spec   TenantSpec   `json:"spec"`
	Status TenantStatus `json:"status"`

	// Generation counts changes to Spec; the API bumps it.
	Generation int64 `json:"generation"`
	// ResourceVersion counts every write; a write carrying an older one is
	// refused with ECONFLICT. The store sets it.
	ResourceVersion int64     `json:"resourceVersion"`
	CreatedAt       time.Time `json:"createdAt"`
	UpdatedAt       time.Time `json:"updatedAt"`
	// Health is what the monitor of the server that answered sees now; it
	// is not stored, and absent when that server does not watch the tenant.
	Health *TenantHealth `json:"health,omitempty"`
}

// TenantHealth is a tenant's health as the monitor sees it: the tenant's
// state and each service's (stamp.Health*).
type TenantHealth struct {
	State    string            `json:"state"`
	Services map[string]string `json:"services"`
	// Instances says, by service, how many instances run and how often
	// they restarted, as of the monitor's last look.
	Instances map[string]InstanceCount `json:"instances,omitempty"`
}

// InstanceCount is what the monitor last saw of a service's instances.
type InstanceCount struct {
	Running  int `json:"running"`  // of the serving version
	Replicas int `json:"replicas"` // wanted
	Restarts int `json:"restarts"` // since the control plane started watching
}

// TenantSpec is the desired state of a tenant.
type TenantSpec struct {
	Blueprint string            `json:"blueprint"`
	Version   string            `json:"version"`
	Plan      string            `json:"plan"`
	Params    map[string]string `json:"params,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Desired   string            `json:"desired"` // DesiredRunning or DesiredDeleted
	// Pin, if set, is the only version releases may move the tenant to:
	// a pinned tenant is left out of every release of another version.
	Pin string `json:"pin,omitempty"`
	// Channel is the release channel the tenant follows (ChannelStable
	// when empty).
	Channel string `json:"channel,omitempty"`
	// SecretParams names the parameters declared `secret: true`: their
	// values are not in Params but among the tenant's secrets (see
	// SecretParamPrefix), sealed at rest.
	SecretParams []string `json:"secretParams,omitempty"`
	// ConfigGeneration is the Generation at which the plan or parameters
	// last changed (`stamp tenant set`); 0 if never. A change rolls the
	// tenant's instances blue/green like an upgrade.
	ConfigGeneration int64 `json:"configGeneration,omitempty"`
	// Pooled marks a stamp of the warm pool: made ahead from its plan's
	// blueprint version (database, migration, processes), serving no one
	// and listed nowhere, until a create of that version and plan claims
	// it (see TenantStore.ClaimTenant).
	Pooled bool `json:"pooled,omitempty"`
	// Load, if set, is the backup whose data the tenant is to hold: a
	// restore, or a new tenant made from another's backup (a clone) or
	// from an export; TenantStatus.Loaded says when it does.
	Load *BackupRef `json:"load,omitempty"`
	// PurgeAt is when a soft-deleted tenant (DesiredSoftDeleted) is
	// removed for good; zero otherwise.
	PurgeAt time.Time `json:"purgeAt,omitzero"`
}

// BackupRef names a backup to load into a tenant, and the request.
type BackupRef struct {
	Tenant string `json:"tenant"` // whose backup it is
	ID     string `json:"id"`
	// Generation is the tenant's Generation when the load was asked
	// for: loading one backup again is another request.
	Generation int64 `json:"generation"`
}

// String is "<tenant>/<id>@<generation>", what TenantStatus.Loaded holds
// once the load is done.
func (r *BackupRef) String() string {
	return r.Tenant + "/" + r.ID + "@" + strconv.FormatInt(r.Generation, 10)
}

// TenantStatus is what the reconciler observed and did.
type TenantStatus struct {
	Phase string `json:"phase"`
	// ObservedGeneration is the Generation the status describes.
	ObservedGeneration int64 `json:"observedGeneration"`
	// FailedStep and Message explain a failed phase.
	FailedStep string `json:"failedStep,omitempty"`
	Message    string `json:"message,omitempty"`
	// MigratedVersion is the blueprint version whose migrate hook last
	// succeeded; Seeded is set once the seed hook succeeded.
	MigratedVersion string `json:"migratedVersion,omitempty"`
	Seeded          bool   `json:"seeded,omitempty"`
	// Endpoints are the addresses (host:port) of the public service's
	// instances, which the router spreads traffic over.
	Endpoints []string `json:"endpoints,omitempty"`
	// URL is where customers reach the tenant.
	URL string `json:"url,omitempty"`
	// ReadyAt is when the tenant last became ready.
	ReadyAt time.Time `json:"readyAt,omitzero"`
	// Version is the blueprint version the routed instances run; empty
	// until the tenant first becomes ready.
	Version string `json:"version,omitempty"`
	// Revision is the runtime revision of the routed instances
	// (TenantSpec.Revision); empty for a tenant routed before revisions
	// were recorded, whose revision is its Version.
	Revision string `json:"revision,omitempty"`
	// Config is the plan and parameters the routed instances run with;
	// nil for a tenant routed before they were recorded.
	Config *TenantConfig `json:"config,omitempty"`
	// Upgrade is the tenant's current or last move between versions.
	Upgrade *Upgrade `json:"upgrade,omitempty"`
	// UID is the Unix user (and group) the tenant's processes run as,
	// given once from the server's range and kept for the tenant's life;
	// 0 when tenants run as the server's user. No two tenants hold the
	// same UID: the store refuses the write with ECONFLICT.
	UID int `json:"uid,omitempty"`
	// Runtime is the name the driver and the database engine know the
	// tenant's runtime by (directories, processes, databases): the name of
	// the pooled stamp it claimed, or "" for its own name (RuntimeName).
	// No two tenants hold the same runtime: the store refuses the write.
	Runtime string `json:"runtime,omitempty"`
	// SleptAt is when the tenant last went to sleep (PhaseSleeping);
	// zero while it is awake.
	SleptAt time.Time `json:"sleptAt,omitzero"`
	// WakeAt is when a request asked a sleeping tenant to wake; zero
	// when no wake is pending. The pass that wakes it clears both.
	WakeAt time.Time `json:"wakeAt,omitzero"`
	// SuspendedAt is when the tenant's instances were stopped by a
	// suspension (PhaseSuspended); zero while it is being suspended.
	SuspendedAt time.Time `json:"suspendedAt,omitzero"`
	// Loaded is the last backup load done (BackupRef.String), so a pass
	// that crashed after it does not load again.
	Loaded string `json:"loaded,omitempty"`
	// Limits are the limits in force for the tenant's processes, as the
	// driver reported them: a plan's limit the host cannot enforce is 0
	// here. Nil when the driver does not say.
	Limits *Limits `json:"limits,omitempty"`
}

// Upgrade is one blue/green move of a tenant from one version to another:
// the new version's instances start beside the old ones, the route
// switches once they are healthy, and the old ones stop. Its fields record
// progress, so a pass that crashed resumes where it stopped.
type Upgrade struct {
	From string `json:"from"`
	To   string `json:"to"`
	// FromRev and ToRev are the runtime revisions moved between, when
	// they are not the versions: a change of plan or parameters moves
	// between two revisions of one version.
	FromRev string `json:"fromRevision,omitempty"`
	ToRev   string `json:"toRevision,omitempty"`
	// FromConfig is the plan and parameters the move starts from: a
	// failed change of them puts them back. Nil for a tenant routed
	// before they were recorded.
	FromConfig *TenantConfig `json:"fromConfig,omitempty"`
	// KeptSnapshot and KeptFrom carry, across changes of plan or
	// parameters (which take no snapshot), the snapshot of the last
	// version upgrade and the version it was taken of, so that going back
	// to that version still restores it.
	KeptSnapshot string `json:"keptSnapshot,omitempty"`
	KeptFrom     string `json:"keptFrom,omitempty"`
	// Snapshot names the copy of each database taken before the move;
	// empty until taken. It is kept after a successful upgrade, so that
	// rolling back to From restores it.
	Snapshot string `json:"snapshot,omitempty"`
	// Restore means the move goes back to the version a snapshot was taken
	// for: the snapshot is restored instead of migrating.
	Restore bool `json:"restore,omitempty"`
	// Migrating is set before the migrate hook (or the restore) starts: a
	// failure from then on restores the snapshot.
	Migrating bool `json:"migrating,omitempty"`
	// Recreate means the old version stops before the new one starts
	// (a service of To chose upgrade: recreate), the router holding
	// requests meanwhile; Stopped is set once routing to it stopped.
	Recreate bool `json:"recreate,omitempty"`
	Stopped  bool `json:"stopped,omitempty"`
	// Asleep means the tenant slept when the move began: nothing ran, so
	// it moves as a recreate with the old version already stopped, and
	// goes back to sleep once the new version has served its health
	// check, unless a request came meanwhile.
	Asleep bool `json:"asleep,omitempty"`
	// SwitchedAt is when the route began to serve To; the old version's
	// instances stop once it is a drain period old.
	SwitchedAt time.Time `json:"switchedAt,omitzero"`
	// FailedStep and Message say why the move failed; the old version
	// keeps serving and the move is undone.
	FailedStep string `json:"failedStep,omitempty"`
	Message    string `json:"message,omitempty"`
	// Result is empty while the move runs, then UpgradeSucceeded,
	// UpgradeRolledBack or UpgradeFailed.
	Result     string    `json:"result,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
}

// Upgrading reports whether a move between versions is under way.
func (t *Tenant) Upgrading() bool {
	return t.Status.Upgrade != nil && t.Status.Upgrade.Result == ""
}

// RuntimeName returns the name the driver and the database engine know
// the tenant's runtime by: Status.Runtime, or the tenant's own name.
func (t *Tenant) RuntimeName() string {
	if t.Status.Runtime != "" {
		return t.Status.Runtime
	}
	return t.Name
}

// FollowsChannel returns the channel the tenant follows.
func (s *TenantSpec) FollowsChannel() string {
	if s.Channel == "" {
		return ChannelStable
	}
	return s.Channel
}

// Ready reports whether the tenant serves its current spec.
func (t *Tenant) Ready() bool {
	return t.Status.Phase == PhaseReady && t.Status.ObservedGeneration == t.Generation
}
