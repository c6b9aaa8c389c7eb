package stamp

import "strconv"

// Event types of a tenant's plan and parameter changes and of its secrets.
const (
	// EventTenantChanged records a change of a tenant's plan or
	// parameters (`stamp tenant set`); Message names what changed, with
	// the values of secret parameters masked.
	EventTenantChanged = "tenant.changed"
	// EventTenantSecretsRevealed records that the values of a tenant's
	// secrets were shown: Message names the caller and the secrets,
	// never their values.
	EventTenantSecretsRevealed = "tenant.secrets-revealed"
)

// SecretParamPrefix starts the name, among a tenant's secrets, of the
// value of a parameter declared `secret: true`: "param.admin_password".
// The dot keeps it apart from blueprint secret names.
const SecretParamPrefix = "param."

// MaskedValue is shown instead of a secret parameter's value.
const MaskedValue = "[redacted]"

// Revision returns the runtime revision a tenant's instances run under
// for spec s: the blueprint version, and the change of plan or
// parameters they run with, if there was one ("2.0.0_c7"), so that a
// changed spec starts beside the old instances of the same version.
func (s *TenantSpec) Revision() string {
	if s.ConfigGeneration == 0 {
		return s.Version
	}
	return s.Version + "_c" + strconv.FormatInt(s.ConfigGeneration, 10)
}

// ServingRevision returns the runtime revision the tenant's route serves:
// Status.Revision, or the version for a tenant routed before revisions
// were recorded.
func (s *TenantStatus) ServingRevision() string {
	if s.Revision != "" {
		return s.Revision
	}
	return s.Version
}

// FromRevision returns the revision the move starts from.
func (u *Upgrade) FromRevision() string {
	if u.FromRev != "" {
		return u.FromRev
	}
	return u.From
}

// ToRevision returns the revision the move goes to.
func (u *Upgrade) ToRevision() string {
	if u.ToRev != "" {
		return u.ToRev
	}
	return u.To
}

// TenantConfig is the plan and parameters a tenant's instances run with.
type TenantConfig struct {
	// Plan names the plan the instances are sized by.
	Plan string `json:"plan"`
	// Params holds no secret parameter: those are among the secrets.
	Params map[string]string `json:"params,omitempty"`
	// Generation is the TenantSpec.ConfigGeneration they come from.
	Generation int64 `json:"generation,omitempty"`
}

// Config returns the plan and parameters of spec s, a copy.
func (s *TenantSpec) Config() *TenantConfig {
	params := make(map[string]string, len(s.Params))
	for k, v := range s.Params {
		params[k] = v
	}
	return &TenantConfig{Plan: s.Plan, Params: params, Generation: s.ConfigGeneration}
}
