// Package kube is the Kubernetes driver: each tenant runs in a namespace
// of its own, its objects written with server-side apply.
package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Labels every object of a tenant carries: the driver lists and watches
// by them, and an operator finds a tenant's objects with them.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// LabelInstance names the control plane (Config.Instance) whose
	// tenant an object is: one never touches another's.
	LabelInstance  = "stamp.dev/instance"
	LabelTenant    = "stamp.dev/tenant"
	LabelBlueprint = "stamp.dev/blueprint"
	LabelVersion   = "stamp.dev/version"
	LabelService   = "stamp.dev/service"
	LabelRevision  = "stamp.dev/revision"
	// AnnotationRevision holds a pod's revision as the reconciler names
	// it ("1.2.0+build.5"), which a label value cannot always hold.
	AnnotationRevision = "stamp.dev/revision"
	// AnnotationEnv holds a hash of the environment a pod template's
	// containers get from their Secret: the environment changes the
	// template, so a change rolls the pods, which read it only at start.
	AnnotationEnv = "stamp.dev/env"
	// AnnotationPublic marks the Deployment of a public service.
	AnnotationPublic = "stamp.dev/public"
	// FieldManager owns the fields the driver applies.
	FieldManager = "stamp"
	managedBy    = "stamp"
)

// maxName is the longest DNS label: namespaces, services and the names
// of most objects.
const maxName = 63

// DefaultInstance is the name of a control plane on a cluster unless
// configured: its tenants' namespaces are "stamp-<tenant>".
const DefaultInstance = "stamp"

// namespaceOf returns the namespace of tenant of control plane
// instance: "stamp-acme". Tenant names are DNS labels already; one too
// long to take the prefix keeps its start and a hash of the whole, so
// that two never meet.
func namespaceOf(instance, tenant string) string {
	return fit(instance + "-" + tenant)
}

// objectName returns the name of a service's object (its Deployment,
// Secret, Service) of one revision: "web-1-2-0".
func objectName(service, revision string) string {
	return fit(service + "-" + labelSafe(revision))
}

// labelSafe maps a revision ("1.2.0+build.5") to a label value and name
// part: lower case, with every character a name may not hold as '-'.
func labelSafe(s string) string {
	s = strings.ToLower(s)
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, s)
}

// labelValue maps a value to a valid label value: at most 63 of
// [A-Za-z0-9._-], starting and ending with an alphanumeric.
func labelValue(s string) string {
	v := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, s)
	if len(v) > maxName {
		v = fit(v)
	}
	return strings.Trim(v, "._-")
}

// fit returns name if it is a short enough DNS label, else its first
// characters, '-' and 8 hex digits of its hash.
func fit(name string) string {
	name = strings.Trim(name, "-")
	if len(name) <= maxName {
		return name
	}
	return strings.TrimRight(name[:maxName-9], "-") + "-" + hashOf(name)
}

// hashOf is 8 hex digits of name's SHA-256.
func hashOf(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:4])
}
