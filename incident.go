package stamp

import "time"

// Health states of a service or a tenant, as the monitor sees them.
const (
	HealthHealthy   = "healthy"   // every instance answers its probe (or runs, without one)
	HealthDegraded  = "degraded"  // some instances do, not all
	HealthDown      = "down"      // none does
	HealthSleeping  = "sleeping"  // scaled to zero while idle, on purpose
	HealthSuspended = "suspended" // stopped by an operator, on purpose
)

// Incident states.
const (
	IncidentOpen         = "open"
	IncidentAcknowledged = "acknowledged" // open, and someone is on it
	IncidentResolved     = "resolved"
)

// Incident causes.
const (
	CauseExit  = "exit"  // a process exited (Message has the exit status)
	CauseProbe = "probe" // a health probe failed
	CauseOOM   = "oom"   // a process was killed for memory
	CauseStep  = "step"  // a reconcile step failed
)

// ResolutionTenantDeleted is the Resolution of the incidents a tenant had
// open when it was deleted: nothing of it is left to recover.
const ResolutionTenantDeleted = "tenant deleted"

// ResolutionTenantAsleep is the Resolution of the incidents a tenant had
// open when it went to sleep (scale to zero): nothing of it runs to be
// down, and a wake that fails opens one anew.
const ResolutionTenantAsleep = "tenant went to sleep"

// ResolutionTenantSuspended resolves the incidents of a tenant that was
// suspended: it is stopped on purpose.
const ResolutionTenantSuspended = "tenant suspended"

// ResolutionTenantSoftDeleted resolves the incidents of a tenant that
// was deleted and is kept stopped until it is purged.
const ResolutionTenantSoftDeleted = "tenant deleted"

// Incident is one stretch of time a tenant (or one of its services) was
// unhealthy: opened by the monitor after a grace period, updated while it
// lasts, resolved when the tenant recovers (or by an operator).
type Incident struct {
	ID      string `json:"id"`
	Tenant  string `json:"tenant"`
	Service string `json:"service,omitempty"` // empty for the tenant as a whole
	Cause   string `json:"cause"`
	// Message says what was seen last: the probe error, the exit status,
	// the failed step; LastLogs holds the service's last output lines.
	Message  string          `json:"message"`
	LastLogs string          `json:"lastLogs,omitempty"`
	State    string          `json:"state"`
	Timeline []IncidentEntry `json:"timeline"`
	OpenedAt time.Time       `json:"openedAt"`
	// AckedAt and ResolvedAt are zero until it happened; AckedBy and
	// ResolvedBy name who did it ("monitor" when it recovered by itself).
	AckedAt    time.Time `json:"ackedAt,omitzero"`
	AckedBy    string    `json:"ackedBy,omitempty"`
	ResolvedAt time.Time `json:"resolvedAt,omitzero"`
	ResolvedBy string    `json:"resolvedBy,omitempty"`
	// Resolution says why it was resolved when it was not by recovering
	// or by hand: ResolutionTenantDeleted, ResolutionTenantAsleep. Such an incident has no time to
	// recovery.
	Resolution      string    `json:"resolution,omitempty"`
	ResourceVersion int64     `json:"resourceVersion"`
	UpdatedAt       time.Time `json:"updatedAt"`
}

// IncidentEntry is one line of an incident's timeline.
type IncidentEntry struct {
	Time    time.Time `json:"time"`
	Message string    `json:"message"`
}

// Summary says in one message what the incident is about as it stands:
// for a resolved one, why it resolved (its Resolution, or the last entry
// of its timeline, where the monitor writes the recovery it saw and an
// operator's resolve is written), else what was seen when it opened.
func (i *Incident) Summary() string {
	if i.State == IncidentResolved {
		switch {
		case i.Resolution != "":
			return "resolved: " + i.Resolution
		case len(i.Timeline) > 0:
			return "resolved: " + i.Timeline[len(i.Timeline)-1].Message
		case i.ResolvedBy != "":
			return "resolved by " + i.ResolvedBy
		}
	}
	return i.Message
}

// Duration is how long the incident lasted, or has lasted by now.
func (i *Incident) Duration(now time.Time) time.Duration {
	if !i.ResolvedAt.IsZero() {
		return i.ResolvedAt.Sub(i.OpenedAt)
	}
	return now.Sub(i.OpenedAt)
}

// IncidentFilter selects incidents. Zero fields select everything.
type IncidentFilter struct {
	Tenant string
	// Tenants selects the incidents of any of these tenants (with Tenant,
	// of both); nil selects every tenant's.
	Tenants []string
	// OpenedSince selects incidents opened at or after it.
	OpenedSince time.Time
	Open        bool // only open or acknowledged ones
	Limit       int  // at most this many, newest first; 0 means the store's default
}
