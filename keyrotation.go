package stamp

import (
	"fmt"
	"strings"
)

// EventKeysRotated records a rotation of the master key; Message says
// what it did (key ids and counts, never a key or a secret).
const EventKeysRotated = "keys.rotated"

// KeyRotation is what a rotation of the master key did: every secret in
// the store is sealed under ActiveKey once it returns.
type KeyRotation struct {
	// ActiveKey is the id of the key that seals from now on.
	ActiveKey string `json:"activeKey"`
	// Generated is true when the rotation made ActiveKey (keys in a key
	// file); false when the keys come from the environment, where the
	// operator made it.
	Generated bool `json:"generated"`
	// Resealed counts the values (tenant and webhook secrets) encrypted
	// anew under ActiveKey; Total counts every value in the store.
	Resealed int `json:"resealed"`
	Total    int `json:"total"`
	// Retired are the ids of the keys removed from the key file, which no
	// value used any more.
	Retired []string `json:"retired,omitempty"`
	// Unused are the ids of keys from the environment that no value uses
	// any more: the operator may now remove them.
	Unused []string `json:"unused,omitempty"`
}

// Summary says in one line what the rotation did.
func (r *KeyRotation) Summary() string {
	s := fmt.Sprintf("%d of %d secrets resealed under key %s", r.Resealed, r.Total, r.ActiveKey)
	if len(r.Retired) > 0 {
		s += "; retired key " + strings.Join(r.Retired, ", ")
	}
	if len(r.Unused) > 0 {
		s += "; no secret uses key " + strings.Join(r.Unused, ", ") + " any more: remove it from STAMP_MASTER_KEY"
	}
	return s
}
