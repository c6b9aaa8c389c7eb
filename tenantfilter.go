package stamp

import (
	"cmp"
	"strings"
)

// TenantFilter selects tenants by what they are; an empty field selects
// every tenant. The stores apply it in their queries, so that a console
// page over a large fleet reads only the tenants it shows; Holds is the
// same test in Go.
type TenantFilter struct {
	// Phase is the tenant's Status.Phase.
	Phase string
	// Version is the version the tenant runs or is to run
	// (CurrentVersion).
	Version string
	// Plan is the tenant's Spec.Plan.
	Plan string
	// Label is "key", a label the tenant has whatever its value, or
	// "key=value", a label with that value ("key=" for an empty one).
	Label string
	// Name is a part of the tenant's name, which is lower case: a filter
	// with upper-case letters selects none.
	Name string
}

// Empty reports whether f selects every tenant.
func (f TenantFilter) Empty() bool { return f == TenantFilter{} }

// Holds reports whether f selects t.
func (f TenantFilter) Holds(t *Tenant) bool {
	if f.Phase != "" && t.Status.Phase != f.Phase || f.Version != "" && t.CurrentVersion() != f.Version || f.Plan != "" && t.Spec.Plan != f.Plan {
		return false
	}
	if f.Label != "" {
		key, value, hasValue := f.LabelParts()
		got, ok := t.Spec.Labels[key]
		if !ok || hasValue && got != value {
			return false
		}
	}
	return strings.Contains(t.Name, f.Name)
}

// LabelParts splits Label into the key and the value it wants, hasValue
// false when any value will do.
func (f TenantFilter) LabelParts() (key, value string, hasValue bool) {
	return strings.Cut(f.Label, "=")
}

// CurrentVersion is the version the tenant's routed instances run, or,
// until it first becomes ready, the version it is being made at.
func (t *Tenant) CurrentVersion() string { return cmp.Or(t.Status.Version, t.Spec.Version) }

// TenantCount is how many tenants share a phase, a current version and a
// plan: one group of TenantStore.CountTenants.
type TenantCount struct {
	Phase   string `json:"phase"`
	Version string `json:"version"`
	Plan    string `json:"plan"`
	N       int    `json:"n"`
}
