package stamp

import "time"

// Bundle is one immutable version of a blueprint: a gzipped tar of its
// directory, addressed by the sha256 of the archive.
type Bundle struct {
	Name        string    `json:"name"`
	Version     string    `json:"version"`
	Description string    `json:"description,omitempty"`
	Digest      string    `json:"digest"` // "sha256:<hex>"
	Size        int64     `json:"size"`
	CreatedAt   time.Time `json:"createdAt"`
	// Yanked withdraws the version: no new tenant, upgrade or release
	// takes it, and "the latest version" passes over it. Tenants on it run
	// on. YankedAt and YankReason say when and why; all three are zero
	// for a version that is not yanked.
	Yanked     bool      `json:"yanked,omitempty"`
	YankedAt   time.Time `json:"yankedAt,omitzero"`
	YankReason string    `json:"yankReason,omitempty"`
	// Content is the archive. Listings leave it empty.
	Content []byte `json:"-"`
}

// Ref returns "name@version".
func (b *Bundle) Ref() string { return b.Name + "@" + b.Version }
