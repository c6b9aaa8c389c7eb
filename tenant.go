package stamp

import "time"

// Desired states of a tenant, set by the API and acted on by the reconciler.
const (
	DesiredRunning = "running"
	DesiredDeleted = "deleted"
)

// Phases of a tenant, set by the reconciler.
const (
	PhaseProvisioning = "provisioning" // steps are being taken
	PhaseReady        = "ready"        // serving through the router
	PhaseFailed       = "failed"       // a step failed for good; see Status
	PhaseDeleting     = "deleting"     // resources are being released
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
}

// TenantSpec is the desired state of a tenant.
type TenantSpec struct {
	Blueprint string            `json:"blueprint"`
	Version   string            `json:"version"`
	Plan      string            `json:"plan"`
	Params    map[string]string `json:"params,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Desired   string            `json:"desired"` // DesiredRunning or DesiredDeleted
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
}

// Ready reports whether the tenant serves its current spec.
func (t *Tenant) Ready() bool {
	return t.Status.Phase == PhaseReady && t.Status.ObservedGeneration == t.Generation
}
