package stamp

import (
	"fmt"
	"time"
)

// Role is what an API token may do.
type Role string

// Roles, from most to least able.
const (
	// RoleAdmin may do everything: tokens, keys, webhooks, secrets.
	RoleAdmin Role = "admin"
	// RoleOperator may operate tenants, releases, blueprints and
	// incidents; it may not manage tokens, keys or webhooks, nor see
	// secrets.
	RoleOperator Role = "operator"
	// RoleViewer may read everything but secrets and change nothing.
	RoleViewer Role = "viewer"
)

// Roles lists every role, most able first.
var Roles = []Role{RoleAdmin, RoleOperator, RoleViewer}

// ParseRole returns the role named s, or EINVALID.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", Errorf(EINVALID, "role %q: want admin, operator or viewer", s)
}

// Allows reports whether a token of role r may do what role need may.
func (r Role) Allows(need Role) bool {
	rank := func(r Role) int {
		switch r {
		case RoleAdmin:
			return 3
		case RoleOperator:
			return 2
		case RoleViewer:
			return 1
		}
		return 0
	}
	return rank(r) > 0 && rank(r) >= rank(need)
}

// Token is an API credential. Only a hash of the secret is kept.
type Token struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Hash string `json:"-"` // hex sha256 of the secret
	Role Role   `json:"role"`
	// Tenant, if set, is the one tenant the token sees and acts on:
	// every other tenant does not exist for it.
	Tenant    string    `json:"tenant,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	// ExpiresAt is when the token stops working; zero for never.
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	// RevokedAt is when the token was revoked; zero while it is not.
	RevokedAt time.Time `json:"revokedAt,omitzero"`
}

// Valid returns nil if t works at now, else EUNAUTHORIZED saying why.
func (t *Token) Valid(now time.Time) error {
	switch {
	case !t.RevokedAt.IsZero():
		return Errorf(EUNAUTHORIZED, "token %q was revoked at %s", t.Name, t.RevokedAt.UTC().Format(time.RFC3339))
	case !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt):
		return Errorf(EUNAUTHORIZED, "token %q expired at %s", t.Name, t.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// String names the token for logs and the audit log: its name and role,
// and its tenant if it has one.
func (t *Token) String() string {
	if t.Tenant != "" {
		return fmt.Sprintf("%s (%s of tenant %s)", t.Name, t.Role, t.Tenant)
	}
	return fmt.Sprintf("%s (%s)", t.Name, t.Role)
}
