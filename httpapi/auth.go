package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/stamphq/stamp"
)

// tokenPrefix marks Stamp secrets so that secret scanners and people can
// tell them apart.
const tokenPrefix = "stp_"

// NewToken returns a new API token secret: "stp_" and 32 random bytes in
// lowercase base32. Only its HashToken is stored.
func NewToken() (secret string) {
	var b [32]byte
	rand.Read(b[:]) // never fails: crypto/rand crashes the program instead
	return tokenPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// HashToken returns the hex sha256 of a token secret, as kept in
// stamp.Token.Hash.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// scope says how a route treats a token confined to one tenant.
type scope int

const (
	// fleetWide routes are refused to a tenant's token (403).
	fleetWide scope = iota
	// tenantNamed routes act on the tenant {name}: a tenant's token may
	// call them on its own tenant, and every other is not found (404),
	// so that its name does not leak.
	tenantNamed
	// tenantListed routes list tenants: a tenant's token sees its own.
	tenantListed
	// shared routes hold nothing of any tenant (the blueprints'
	// catalogue, which a tenant's upgrade picks from): a tenant's token
	// may call them.
	shared
)

// access is who may call a route: tokens whose role allows role (none at
// all when role is empty), confined to a tenant as scope says.
type access struct {
	role  stamp.Role
	scope scope
}

// Accesses of the routes (see addRoutes).
var (
	public = access{}
	viewer = access{role: stamp.RoleViewer}
	oper   = access{role: stamp.RoleOperator}
	admin  = access{role: stamp.RoleAdmin}
)

// of returns a with scope s.
func (a access) of(s scope) access { a.scope = s; return a }

// tokenKey is the context key of the token a request came with, where
// withRequest gave it no state to hold it.
type tokenKey struct{}

// guard refuses requests that a has no room for: no or a bad, revoked or
// expired token (401), a role too weak or a tenant's token on a
// fleet-wide route (403), a tenant's token on another tenant (404).
func guard(tokens tokenSource, clock stamp.Clock, a access) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		if a.role == "" {
			return h
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, err := authenticate(r, tokens, clock)
			if err != nil {
				if stamp.ErrorCode(err) == stamp.EUNAUTHORIZED {
					w.Header().Set("WWW-Authenticate", `Bearer realm="stamp"`)
				}
				writeError(w, r, err)
				return
			}
			if st := stateOf(r.Context()); st != nil {
				st.token = tok // for the audit log too, if refused below; no copy of the request
			} else {
				r = r.WithContext(context.WithValue(r.Context(), tokenKey{}, tok))
			}
			if err := authorize(r, tok, a); err != nil {
				writeError(w, r, err)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

// tokenSource finds tokens by hash: the store, through the cache if
// there is one.
type tokenSource struct {
	store stamp.TokenStore
	cache *TokenCache // nil: every request reads the store
}

// byHash returns the token whose hash is hash.
func (s tokenSource) byHash(ctx context.Context, hash string) (*stamp.Token, error) {
	if s.cache == nil {
		return s.store.TokenByHash(ctx, hash)
	}
	tok, gen := s.cache.get(hash)
	if tok != nil {
		return tok, nil
	}
	tok, err := s.store.TokenByHash(ctx, hash)
	if err == nil {
		s.cache.put(hash, tok, gen)
	}
	return tok, err
}

// authenticate returns the valid token r came with.
func authenticate(r *http.Request, tokens tokenSource, clock stamp.Clock) (*stamp.Token, error) {
	scheme, secret, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	secret = strings.TrimSpace(secret)
	if !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return nil, stamp.Errorf(stamp.EUNAUTHORIZED, "missing bearer token: send the header \"Authorization: Bearer <token>\"")
	}
	hash := HashToken(secret)
	tok, err := tokens.byHash(r.Context(), hash)
	switch {
	case stamp.ErrorCode(err) == stamp.ENOTFOUND:
		return nil, stamp.Errorf(stamp.EUNAUTHORIZED, "bearer token is not valid")
	case err != nil:
		return nil, fmt.Errorf("look up token: %w", err)
	case subtle.ConstantTimeCompare([]byte(tok.Hash), []byte(hash)) != 1:
		return nil, stamp.Errorf(stamp.EUNAUTHORIZED, "bearer token is not valid")
	}
	if err := tok.Valid(clock.Now()); err != nil {
		return nil, err
	}
	return tok, nil
}

// authorize checks that tok may call a route of access a with r. A
// tenant's token is checked against the tenant first, so that another
// tenant is not found whatever the route.
func authorize(r *http.Request, tok *stamp.Token, a access) error {
	if tok.Tenant != "" {
		switch a.scope {
		case fleetWide:
			return stamp.Errorf(stamp.EFORBIDDEN, "token %s is confined to tenant %q and may not use %s", tok.Name, tok.Tenant, r.Pattern)
		case tenantNamed:
			if name := r.PathValue("name"); name != tok.Tenant {
				return stamp.Errorf(stamp.ENOTFOUND, "tenant %q does not exist", name)
			}
		}
	}
	if !tok.Role.Allows(a.role) {
		return stamp.Errorf(stamp.EFORBIDDEN, "%s %s needs a token of role %s or above; token %s is %s", r.Method, r.URL.Path, a.role, tok.Name, tok.Role)
	}
	return nil
}

// requestToken returns the token ctx's request came with, nil on a
// public route.
func requestToken(ctx context.Context) *stamp.Token {
	if st := stateOf(ctx); st != nil && st.token != nil {
		return st.token
	}
	tok, _ := ctx.Value(tokenKey{}).(*stamp.Token)
	return tok
}

// caller names who sent the request: its token's name.
func caller(ctx context.Context) string {
	if tok := requestToken(ctx); tok != nil {
		return tok.Name
	}
	return "an operator"
}
