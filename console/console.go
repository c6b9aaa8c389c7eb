// Package console serves the web console: the fleet at a glance, each
// tenant's story and actions, updated live. It is plain HTML rendered by
// the server with a little script, embedded in the binary, and it acts
// only through the API, in process, as the operator who signed in: what
// the API refuses the console cannot do.
package console

import (
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/httpapi"
)

//go:embed web
var web embed.FS

// Prefix is where the console is served.
const Prefix = "/console/"

// sessionCookie holds the operator's API token: HttpOnly (no script
// reads it), SameSite=Strict (no other site's page sends it), scoped to
// the console's path, and Secure when the console is served over TLS.
const sessionCookie = "stamp_session"

// Config is what the console needs.
type Config struct {
	// API is the API server's handler; the console calls it in process
	// with the signed-in operator's token.
	API http.Handler
	// Logger logs what fails to render; nil discards.
	Logger *slog.Logger
}

// Console serves the console's pages.
type Console struct {
	api    http.Handler
	log    *slog.Logger
	pages  *template.Template
	static http.Handler
}

// New returns the console.
func New(cfg Config) *Console {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	static, _ := fs.Sub(web, "web/static") // the directory is embedded
	return &Console{
		api: cfg.API, log: cfg.Logger,
		pages:  template.Must(template.New("").Funcs(funcs).ParseFS(web, "web/*.html")),
		static: http.StripPrefix(Prefix+"static/", http.FileServerFS(static)),
	}
}

// Handler returns the console's routes, all under Prefix.
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+Prefix+"static/", c.static)
	mux.HandleFunc("GET "+Prefix+"login", c.loginPage)
	mux.HandleFunc("POST "+Prefix+"login", c.login)
	mux.Handle("POST "+Prefix+"logout", c.signedIn(c.logout))
	mux.Handle("GET "+Prefix+"{$}", c.signedIn(c.fleet))
	mux.Handle("GET "+Prefix+"tenants/{name}", c.signedIn(c.tenant))
	mux.Handle("POST "+Prefix+"tenants/{name}/{action}", c.signedIn(c.tenantAction))
	mux.Handle("GET "+Prefix+"live", c.signedIn(c.live))
	mux.Handle("GET "+Prefix+"releases", c.signedIn(c.releases))
	mux.Handle("GET "+Prefix+"releases/{id}", c.signedIn(c.release))
	mux.Handle("POST "+Prefix+"releases/{id}/{action}", c.signedIn(c.releaseAction))
	mux.Handle("GET "+Prefix+"incidents", c.signedIn(c.incidents))
	mux.Handle("GET "+Prefix+"incidents/{id}", c.signedIn(c.incident))
	mux.Handle("POST "+Prefix+"incidents/{id}/{action}", c.signedIn(c.incidentAction))
	mux.Handle("GET "+Prefix+"flow", c.signedIn(c.flowPage))
	return securityHeaders(mux)
}

// securityHeaders keeps the console's pages out of frames and other
// origins' scripts and styles out of its pages. Inline styles are let
// in: the value stream map is SVG with a style element of its own.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// session is a signed-in operator's request: the API client acting as
// them, and who they are.
type session struct {
	token  string
	api    *httpapi.Client
	whoami *whoami
	csrf   string
}

// signedIn runs h with the session of the request's cookie, sending a
// browser without one (or with a token the API no longer takes) to the
// login page. A request that changes something must carry the session's
// CSRF token and, if the browser says where it comes from, come from
// the console's own origin.
func (c *Console) signedIn(h func(http.ResponseWriter, *http.Request, *session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cookie, err := r.Cookie(sessionCookie)
		if err != nil || cookie.Value == "" {
			c.toLogin(w, r, "")
			return
		}
		s := &session{token: cookie.Value, api: c.client(r, cookie.Value), csrf: csrfToken(cookie.Value)}
		if r.Method != http.MethodGet {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if !sameOrigin(r) || subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.csrf)) != 1 {
				http.Error(w, "This form did not come from this console's own page (a missing or wrong CSRF token, or another origin). Reload the page and try again.", http.StatusForbidden)
				return
			}
		}
		who, err := s.api.WhoAmI(r.Context())
		switch {
		case stamp.ErrorCode(err) == stamp.EUNAUTHORIZED:
			c.toLogin(w, r, "Your session ended: "+stamp.ErrorMessage(err))
			return
		case err != nil: // the API could not tell: keep the session
			c.log.Warn("console: check the session's token", "err", err)
			http.Error(w, "The console cannot reach the API just now ("+stamp.ErrorMessage(err)+"). Try again in a moment.", http.StatusServiceUnavailable)
			return
		}
		s.whoami = &whoami{who}
		h(w, r, s)
	})
}

// toLogin sends the browser to the login page with a message, and back
// to where it was going once signed in.
func (c *Console) toLogin(w http.ResponseWriter, r *http.Request, msg string) {
	clearSession(w, r)
	q := url.Values{}
	if msg != "" {
		q.Set("msg", msg)
	}
	if r.Method == http.MethodGet && r.URL.Path != Prefix {
		q.Set("next", r.URL.RequestURI())
	}
	target := Prefix + "login"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	if r.Header.Get("Accept") == "text/event-stream" {
		http.Error(w, "signed out", http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// maxForm bounds the body of a console form: a few fields.
const maxForm = 64 << 10

// csrfToken is the CSRF token of the session whose cookie holds token:
// a hash of it, which a page of another origin cannot compute without
// the cookie it cannot read.
func csrfToken(token string) string {
	sum := sha256.Sum256([]byte("stamp console csrf\x00" + token))
	return hex.EncodeToString(sum[:])
}

// sameOrigin reports whether r, which changes something, came from a
// page of the console's own origin, as far as the browser says.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return r.Header.Get("Sec-Fetch-Site") == "" || r.Header.Get("Sec-Fetch-Site") == "same-origin"
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

// setSession stores token in the session cookie.
func setSession(w http.ResponseWriter, r *http.Request, token string) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: Prefix, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: 12 * 60 * 60})
}

func clearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: Prefix, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: -1})
}
