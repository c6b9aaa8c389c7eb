package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
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

// requireToken refuses requests without a bearer token the store knows.
func requireToken(st stamp.TokenStore) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			scheme, secret, _ := strings.Cut(r.Header.Get("Authorization"), " ")
			secret = strings.TrimSpace(secret)
			if !strings.EqualFold(scheme, "Bearer") || secret == "" {
				unauthorized(w, r, "missing bearer token: send the header \"Authorization: Bearer <token>\"")
				return
			}
			tok, err := st.TokenByHash(r.Context(), HashToken(secret))
			switch {
			case stamp.ErrorCode(err) == stamp.ENOTFOUND:
				unauthorized(w, r, "bearer token is not valid")
				return
			case err != nil:
				writeError(w, r, fmt.Errorf("look up token: %w", err))
				return
			}
			h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenNameKey{}, tok.Name)))
		})
	}
}

// tokenNameKey is the context key of the name of the token a request
// came with.
type tokenNameKey struct{}

// caller names who sent the request: its token's name.
func caller(ctx context.Context) string {
	if name, _ := ctx.Value(tokenNameKey{}).(string); name != "" {
		return name
	}
	return "an operator"
}

func unauthorized(w http.ResponseWriter, r *http.Request, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="stamp"`)
	writeError(w, r, stamp.Errorf(stamp.EUNAUTHORIZED, "%s", msg))
}
