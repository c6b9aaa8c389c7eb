package httpapi

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/stamphq/stamp"
)

// Kinds of a tenant's secrets (TenantSecret.Kind).
const (
	SecretGenerated = "generated"         // a blueprint secret, generated at create
	SecretDatabase  = "database-password" // the password of a database's role
	SecretParameter = "parameter"         // the value of a secret parameter
)

// TenantSecret is one of a tenant's secrets, as GET
// /v1/tenants/{name}/secrets lists it.
type TenantSecret struct {
	// Name is the name it is kept under: the blueprint secret's name,
	// db.NAME.password, or param.NAME.
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Value is set only when the secrets were revealed.
	Value string `json:"value,omitempty"`
}

// TenantSecrets is the answer of GET /v1/tenants/{name}/secrets.
type TenantSecrets struct {
	Tenant   string         `json:"tenant"`
	Revealed bool           `json:"revealed"`
	Secrets  []TenantSecret `json:"secrets"`
}

// handleTenantSecrets lists a tenant's secrets, their values only with
// ?reveal=true. Only an admin token may ask (see routes); every reveal
// is recorded as an event naming the token and the secrets, never the
// values, before the values are sent.
func handleTenantSecrets(st Store, clock stamp.Clock) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		reveal := false
		switch v := r.URL.Query().Get("reveal"); v {
		case "", "false":
		case "true":
			reveal = true
		default:
			writeError(w, r, stamp.Errorf(stamp.EINVALID, "reveal %q: want true or false", v))
			return
		}
		t, err := getTenant(r.Context(), st, name)
		if err != nil {
			writeError(w, r, err)
			return
		}
		values, err := st.Secrets(r.Context(), t.Name)
		if err != nil {
			writeError(w, r, fmt.Errorf("read secrets of tenant %s: %w", t.Name, err))
			return
		}
		out := TenantSecrets{Tenant: t.Name, Revealed: reveal, Secrets: []TenantSecret{}}
		names := slices.Sorted(maps.Keys(values))
		for _, n := range names {
			s := TenantSecret{Name: n, Kind: secretKind(n)}
			if reveal {
				s.Value = values[n]
			}
			out.Secrets = append(out.Secrets, s)
		}
		if reveal {
			ev := &stamp.Event{Time: clock.Now(), Type: stamp.EventTenantSecretsRevealed, Tenant: t.Name, Generation: t.Generation,
				Message: fmt.Sprintf("by %s: %s", caller(r.Context()), strings.Join(names, ", "))}
			if err := st.AppendEvents(r.Context(), ev); err != nil {
				writeError(w, r, fmt.Errorf("record the reveal of tenant %s's secrets: %w", t.Name, err))
				return
			}
		}
		encode(w, r, http.StatusOK, out)
	})
}

// secretKind tells what the secret kept under name is.
func secretKind(name string) string {
	switch {
	case strings.HasPrefix(name, stamp.SecretParamPrefix):
		return SecretParameter
	case strings.HasPrefix(name, "db."):
		return SecretDatabase
	}
	return SecretGenerated
}
