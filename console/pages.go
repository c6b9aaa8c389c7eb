package console

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/internal/human"
)

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"ago": human.Age,
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	},
	"ms":    human.Duration,
	"sub":   func(a, b time.Time) time.Duration { return a.Sub(b) },
	"list":  func(s ...string) []string { return s },
	"title": func(s string) string { return strings.ToUpper(s[:1]) + s[1:] },
	"sub40": func(n int) int { return 42 - n },
	"inc":   func(n int) int { return n + 1 },
	// eventTypes names every event type, for a live page to listen to.
	"eventTypes": func() string { return strings.Join(stamp.EventTypes, " ") },
}

// page is what every page's layout shows.
type page struct {
	Title string
	Who   *whoami
	CSRF  string
	Flash string // what the last action did
	Error string // what went wrong, if anything
}

// page is the layout's part of a page: the flash or the error an action
// sent back with (see backTo).
func (s *session) page(title string, r *http.Request) page {
	q := r.URL.Query()
	return page{Title: title, Who: s.whoami, CSRF: s.csrf, Flash: q.Get("done"), Error: q.Get("err")}
}

// backTo ends an action: it sends the browser to path, the page to show
// next, saying what was done, or what the API answered if err is set.
func backTo(w http.ResponseWriter, r *http.Request, path, done string, err error) {
	q := url.Values{"done": {done}}
	if err != nil {
		q = url.Values{"err": {stamp.ErrorMessage(err)}}
	}
	http.Redirect(w, r, path+"?"+q.Encode(), http.StatusSeeOther)
}

// render writes template name with data, whole or not at all.
func (c *Console) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := c.pages.ExecuteTemplate(&buf, name, data); err != nil {
		c.log.Error("render the console page", "page", name, "err", err)
		http.Error(w, "The console could not draw this page; the server's log says why.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	buf.WriteTo(w)
}

// failed renders the error page for err, with the status the API gave.
func (c *Console) failed(w http.ResponseWriter, r *http.Request, s *session, err error) {
	status := http.StatusInternalServerError
	switch stamp.ErrorCode(err) {
	case stamp.ENOTFOUND:
		status = http.StatusNotFound
	case stamp.EFORBIDDEN:
		status = http.StatusForbidden
	case stamp.EINVALID:
		status = http.StatusBadRequest
	}
	if status == http.StatusInternalServerError {
		c.log.Error("console page", "path", r.URL.Path, "err", err)
	}
	p := s.page("Error", r)
	p.Error = stamp.ErrorMessage(err)
	c.render(w, status, "error.html", p)
}

// loginPage asks for a token.
func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c.render(w, http.StatusOK, "login.html", struct {
		page
		Next string
	}{page{Title: "Sign in", Error: q.Get("msg")}, safeNext(q.Get("next"))})
}

// login checks the token with the API and, if it works, keeps it in the
// session cookie. The form needs no CSRF token: signing in as yourself
// on another site's behalf gains an attacker nothing the token did not
// already give; SameSite and the Origin check still apply.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	token := strings.TrimSpace(r.PostFormValue("token"))
	next := safeNext(r.PostFormValue("next"))
	fail := func(msg string) {
		c.render(w, http.StatusUnauthorized, "login.html", struct {
			page
			Next string
		}{page{Title: "Sign in", Error: msg}, next})
	}
	switch {
	case !sameOrigin(r):
		http.Error(w, "This sign-in did not come from this console's own page.", http.StatusForbidden)
		return
	case token == "":
		fail("Paste an API token (stamp token create NAME --role viewer prints one).")
		return
	}
	if _, err := c.client(r, token).WhoAmI(r.Context()); err != nil {
		fail("That token does not work: " + stamp.ErrorMessage(err))
		return
	}
	setSession(w, r, token)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// safeNext is where to go after signing in: a path of the console only,
// never another site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix) || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return Prefix
	}
	return next
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, _ *session) {
	clearSession(w, r)
	http.Redirect(w, r, Prefix+"login?msg="+"Signed+out.", http.StatusSeeOther)
}
