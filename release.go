package stamp

import (
	"encoding/json"
	"time"
)

// Release states, set by the release controller.
const (
	ReleaseRunning     = "running"      // waves are being rolled out
	ReleasePaused      = "paused"       // an operator or a failed gate (on-failure pause) stopped it
	ReleaseRollingBack = "rolling-back" // a gate failed: upgraded tenants go back to their versions
	ReleaseSucceeded   = "succeeded"    // every wave passed its gate
	ReleaseFailed      = "failed"       // a gate failed and the rollback is done
	ReleaseAborted     = "aborted"      // an operator aborted it
)

// States of one tenant within a release.
const (
	ReleaseTenantPending     = "pending"      // its wave has not reached it
	ReleaseTenantUpgrading   = "upgrading"    // its spec names the release's version
	ReleaseTenantUpgraded    = "upgraded"     // it serves the release's version
	ReleaseTenantFailed      = "failed"       // its upgrade failed and was rolled back
	ReleaseTenantSkipped     = "skipped"      // left out; Message says why
	ReleaseTenantRollingBack = "rolling-back" // going back to its earlier version
	ReleaseTenantRolledBack  = "rolled-back"  // back on its earlier version
)

// What a release does when a wave fails its gate.
const (
	OnFailureRollback = "rollback" // every tenant the release upgraded goes back
	OnFailurePause    = "pause"    // the release stops where it is for an operator
)

// Release rolls one blueprint version out over the tenants that run the
// blueprint, wave after wave, each wave gated on the health of the last.
type Release struct {
	ID     string        `json:"id"`
	Spec   ReleaseSpec   `json:"spec"`
	Status ReleaseStatus `json:"status"`
	// ResourceVersion counts every write, as for tenants.
	ResourceVersion int64     `json:"resourceVersion"`
	CreatedAt       time.Time `json:"createdAt"`
	UpdatedAt       time.Time `json:"updatedAt"`
}

// ReleaseSpec is what a release should do.
type ReleaseSpec struct {
	Blueprint string `json:"blueprint"`
	Version   string `json:"version"`
	// Channel, if set, limits the release to tenants following it.
	Channel string `json:"channel,omitempty"`
	// Selector limits the release to tenants carrying every label in it.
	Selector map[string]string `json:"selector,omitempty"`
	Waves    []Wave            `json:"waves"`
	// MaxParallel bounds the tenants upgrading at once.
	MaxParallel int `json:"maxParallel"`
	// Soak is how long every tenant of a wave must stay healthy after its
	// upgrade before the wave's gate passes.
	Soak Duration `json:"soak"`
	// MaxErrorRate is the highest share of 5xx answers (0..1) the router
	// may give for a wave's tenants while it soaks.
	MaxErrorRate float64 `json:"maxErrorRate"`
	// OnFailure is OnFailureRollback or OnFailurePause.
	OnFailure string `json:"onFailure"`
	// AllowDowngrade lets the release move tenants on a newer version
	// back to its own; without it they are skipped.
	AllowDowngrade bool `json:"allowDowngrade,omitempty"`
	// Paused and Aborted are an operator's requests.
	Paused  bool `json:"paused,omitempty"`
	Aborted bool `json:"aborted,omitempty"`
}

// Wave picks the tenants of one step of a release, among those not in an
// earlier wave. Exactly one field is set. Count and Percent are of the
// release's whole target set; Percent waves are cumulative ("10%" then
// "50%" upgrades half the fleet by the end of the second wave).
type Wave struct {
	Count    int               `json:"count,omitempty"`
	Percent  float64           `json:"percent,omitempty"`
	Tenants  []string          `json:"tenants,omitempty"`
	Selector map[string]string `json:"selector,omitempty"`
}

// ReleaseStatus is what the release controller did.
type ReleaseStatus struct {
	State   string `json:"state"`
	Message string `json:"message,omitempty"`
	// Wave is the index of the wave being rolled out or gated.
	Wave int `json:"wave"`
	// GateSince is when every tenant of the current wave was first seen
	// upgraded: the soak runs from then.
	GateSince time.Time `json:"gateSince,omitzero"`
	// Tenants is every tenant the release targets, with its wave and state,
	// in the order they are upgraded.
	Tenants    []ReleaseTenant `json:"tenants"`
	StartedAt  time.Time       `json:"startedAt,omitzero"`
	FinishedAt time.Time       `json:"finishedAt,omitzero"`
}

// ReleaseTenant is one tenant's part in a release.
type ReleaseTenant struct {
	Name string `json:"name"`
	Wave int    `json:"wave"`
	// From is the version the tenant ran when the release took it on.
	From    string `json:"from"`
	State   string `json:"state"`
	Message string `json:"message,omitempty"`
	// Generation is the tenant generation the release's spec change made;
	// the tenant's status at or after it tells how the upgrade went.
	Generation int64     `json:"generation,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
}

// Finished reports whether the release has come to rest for good.
func (r *Release) Finished() bool {
	switch r.Status.State {
	case ReleaseSucceeded, ReleaseFailed, ReleaseAborted:
		return true
	}
	return false
}

// Duration is a time.Duration that JSON writes and reads as Go writes one
// ("30s", "1m30s"), not as nanoseconds.
type Duration time.Duration

// String returns d as Go writes a time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a string such as "30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a string such as "30s"; a negative duration is
// EINVALID.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return Errorf(EINVALID, "duration %s: want a string such as \"30s\"", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return Errorf(EINVALID, "duration %q: want a non-negative duration such as \"30s\"", s)
	}
	*d = Duration(v)
	return nil
}
