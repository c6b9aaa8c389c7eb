package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stamphq/stamp"
)

// CreateTokenRequest is the body of POST /v1/tokens.
type CreateTokenRequest struct {
	Name string     `json:"name"`
	Role stamp.Role `json:"role"`
	// Tenant, if set, confines the token to that tenant.
	Tenant string `json:"tenant,omitempty"`
	// Expires is how long the token works, as "30d", "12h" or "90m";
	// empty for ever.
	Expires string `json:"expires,omitempty"`
}

// CreatedToken is the answer of POST /v1/tokens: the token and its
// secret, which no later answer shows.
type CreatedToken struct {
	Token  *stamp.Token `json:"token"`
	Secret string       `json:"secret"`
}

type tokenList struct {
	Tokens []*stamp.Token `json:"tokens"`
}

// maxTokenLife bounds Expires: a token that should never expire is
// asked for without one.
const maxTokenLife = 10 * 365 * 24 * time.Hour

// handleTokenCreate makes a token and answers with its secret, the only
// time it is shown; only its hash is kept.
func handleTokenCreate(st Store, clock stamp.Clock) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[CreateTokenRequest](r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if err := stamp.ValidateName("token", req.Name); err != nil {
			writeError(w, r, err)
			return
		}
		if _, err := stamp.ParseRole(string(req.Role)); err != nil {
			writeError(w, r, err)
			return
		}
		now := clock.Now()
		tok := &stamp.Token{ID: "tok-" + randomHex(6), Name: req.Name, Role: req.Role, Tenant: req.Tenant, CreatedAt: now}
		if req.Expires != "" {
			life, err := ParseLifetime(req.Expires)
			if err != nil {
				writeError(w, r, err)
				return
			}
			tok.ExpiresAt = now.Add(life)
		}
		if req.Tenant != "" {
			if _, err := getTenant(r.Context(), st, req.Tenant); err != nil {
				writeError(w, r, err)
				return
			}
		}
		secret := NewToken()
		tok.Hash = HashToken(secret)
		if err := st.CreateToken(r.Context(), tok); err != nil {
			writeError(w, r, fmt.Errorf("create token: %w", err))
			return
		}
		encode(w, r, http.StatusCreated, CreatedToken{Token: tok, Secret: secret})
	})
}

// ParseLifetime parses a token's lifetime: a Go duration ("12h", "90m")
// or a number of days ("30d"), positive and at most ten years.
func ParseLifetime(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		n, err = strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 || d > maxTokenLife {
		return 0, stamp.Errorf(stamp.EINVALID, "expires %q: want a positive duration of at most ten years, such as 30d, 12h or 90m", s)
	}
	return d, nil
}

// handleTokenList lists every token, revoked ones included; no secret.
func handleTokenList(st Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		toks, err := st.ListTokens(r.Context())
		if err != nil {
			writeError(w, r, fmt.Errorf("list tokens: %w", err))
			return
		}
		encode(w, r, http.StatusOK, tokenList{Tokens: nonNil(toks)})
	})
}

// handleTokenRevoke revokes the token {ref} names (its ID or name): it
// fails from then on, on every server sharing the store.
func handleTokenRevoke(st Store, clock stamp.Clock, cache *TokenCache) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := st.RevokeToken(r.Context(), r.PathValue("ref"), clock.Now())
		if err != nil {
			writeError(w, r, err)
			return
		}
		if cache != nil {
			cache.forget() // at once here, whatever the store's notice does
		}
		encode(w, r, http.StatusOK, tok)
	})
}

// handleWhoAmI answers the token the request came with: its name, role
// and tenant, so a client (the console) can tell what its caller may do.
func handleWhoAmI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, r, http.StatusOK, requestToken(r.Context()))
	})
}
