package main

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
)

// fixedVars are the variables serve reads at start that it cannot change
// while it runs: a bind that changes one is refused, and Stamp restarts
// the app instead. $SESSION_KEY is not among them: the app has no
// sessions, so a new key changes nothing.
var fixedVars = []string{"DATABASE_URL", "HOST", "PORT"}

// readTenant sets what of c tells one tenant from another, from getenv:
// the name shown ($TENANT, else $STAMP_TENANT) and the currency. serve
// reads it at start, and a bind again from the environment it is sent.
func (c *config) readTenant(getenv func(string) string) error {
	c.tenant = getenv("TENANT")
	if c.tenant == "" {
		c.tenant = getenv("STAMP_TENANT")
	}
	c.currency = getenv("CURRENCY")
	if c.currency != "" && !currencyPattern.MatchString(c.currency) {
		return fmt.Errorf("CURRENCY %q is not a three-letter code such as EUR", c.currency)
	}
	return nil
}

// handleBind is POST /stamp/bind, where Stamp hands the running app a new
// environment (the blueprint's bind), as when a pre-made copy of the app
// becomes a customer's: {"env": {...}}. The router passes every path on
// to the app, so only a request carrying $STAMP_BIND_TOKEN as bearer is
// taken: any other is 401, as is every bind to an app started without a
// token. It swaps the tenant's config in at once, for the requests that
// follow, and answers 204. A bind that changes a fixed variable is 409,
// one with an invalid value 400: Stamp then restarts the app with the new
// environment.
func handleBind(cur *atomic.Pointer[config]) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cfg := cur.Load()
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || cfg.bindToken == "" || subtle.ConstantTimeCompare([]byte(token), []byte(cfg.bindToken)) != 1 {
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeError(w, http.StatusUnauthorized, "a bind needs the bearer token the app was started with")
			return
		}
		var in struct {
			Env map[string]string `json:"env"`
		}
		if !decodeJSON(w, r, &in) {
			return
		}
		if in.Env == nil {
			writeError(w, http.StatusBadRequest, "env is required: the whole new environment")
			return
		}
		for _, k := range fixedVars {
			if in.Env[k] != cfg.started[k] {
				writeError(w, http.StatusConflict, fmt.Sprintf("%s changed: the app takes it only at start", k))
				return
			}
		}
		next := *cfg
		if err := next.readTenant(func(k string) string { return in.Env[k] }); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		cur.Store(&next)
		w.WriteHeader(http.StatusNoContent)
	})
}
