package httpapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/stamphq/stamp"
)

// KeyRotator seals every secret in the store anew under a new master key.
type KeyRotator interface {
	RotateKeys(ctx context.Context) (*stamp.KeyRotation, error)
}

// handleKeyRotate rotates the master key, records it in the event log and
// answers with what was done. A rotation cut off (the client left) is
// safe: every value is sealed under the old key or the new one, both
// still in the key file; rotating again finishes the job.
func handleKeyRotate(st stamp.EventLog, keys KeyRotator, clock stamp.Clock) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if keys == nil {
			writeError(w, r, stamp.Errorf(stamp.EUNAVAILABLE, "this server does not encrypt secrets, so it has no key to rotate"))
			return
		}
		rot, err := keys.RotateKeys(r.Context())
		if err != nil {
			writeError(w, r, fmt.Errorf("rotate keys: %w", err))
			return
		}
		e := &stamp.Event{Type: stamp.EventKeysRotated, Time: clock.Now(), Status: stamp.StatusOK, Message: rot.Summary()}
		if err := st.AppendEvents(r.Context(), e); err != nil {
			writeError(w, r, fmt.Errorf("record key rotation: %w", err))
			return
		}
		encode(w, r, http.StatusOK, rot)
	})
}
