package console

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/httpapi"
	"github.com/stamphq/stamp/store/sqlite"
)

// env is the console in front of the real API over an SQLite store, on
// loopback, with an operator token.
type env struct {
	url, token string
	store      *sqlite.Store
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "stamp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	token := httpapi.NewToken()
	if err := st.CreateToken(context.Background(), &stamp.Token{ID: "op", Name: "op", Role: stamp.RoleOperator, Hash: httpapi.HashToken(token)}); err != nil {
		t.Fatal(err)
	}
	api := httpapi.NewServer(httpapi.Config{Store: st})
	mux := http.NewServeMux()
	mux.Handle(Prefix, New(Config{API: api}).Handler())
	mux.Handle("/", api)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{url: srv.URL, token: token, store: st}
}

// browser is an HTTP client that keeps cookies and does not follow
// redirects, so each answer can be checked.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func post(t *testing.T, c *http.Client, target string, form url.Values, origin string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestSignIn: a bad token is refused on the page; a good one sets an
// HttpOnly, SameSite=Strict cookie scoped to the console and leads to
// the page asked for, never to another site.
func TestSignIn(t *testing.T) {
	e := newEnv(t)
	c := browser(t)
	if resp := post(t, c, e.url+Prefix+"login", url.Values{"token": {"stp_nope"}}, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a bad token: %d, want 401", resp.StatusCode)
	}
	resp := post(t, c, e.url+Prefix+"login", url.Values{"token": {e.token}, "next": {"//evil.example/x"}}, "")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != Prefix {
		t.Errorf("sign in with next elsewhere: %d to %q, want 303 to %s", resp.StatusCode, resp.Header.Get("Location"), Prefix)
	}
	cookie := resp.Header.Get("Set-Cookie")
	for _, want := range []string{sessionCookie + "=" + e.token, "Path=/console/", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("session cookie %q lacks %q", cookie, want)
		}
	}
	if resp := post(t, c, e.url+Prefix+"login", url.Values{"token": {e.token}}, "http://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a sign-in posted from another origin: %d, want 403", resp.StatusCode)
	}
	get, err := c.Get(e.url + Prefix)
	if err != nil {
		t.Fatal(err)
	}
	get.Body.Close()
	if get.StatusCode != http.StatusOK {
		t.Errorf("the fleet page once signed in: %d", get.StatusCode)
	}
	if get.Header.Get("Content-Security-Policy") == "" || get.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("the page lacks its security headers: %v", get.Header)
	}
}

// TestForgedPost: a change without the session's CSRF token, or from
// another origin, is refused and changes nothing; one signed out goes
// to the login page.
func TestForgedPost(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.store.CreateTenant(ctx, &stamp.Tenant{Name: "acme", Spec: stamp.TenantSpec{Blueprint: "ledger", Version: "1.0.0", Plan: "starter", Desired: stamp.DesiredRunning}, Generation: 1}); err != nil {
		t.Fatal(err)
	}
	c := browser(t)
	post(t, c, e.url+Prefix+"login", url.Values{"token": {e.token}}, "")
	suspend := e.url + Prefix + "tenants/acme/suspend"
	for _, forged := range []struct {
		name   string
		form   url.Values
		origin string
	}{
		{"no CSRF token", url.Values{}, ""},
		{"a wrong CSRF token", url.Values{"csrf": {csrfToken("another session")}}, ""},
		{"the right token from another origin", url.Values{"csrf": {csrfToken(e.token)}}, "http://evil.example"},
	} {
		if resp := post(t, c, suspend, forged.form, forged.origin); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", forged.name, resp.StatusCode)
		}
	}
	if tn, err := e.store.GetTenant(ctx, "acme"); err != nil || tn.Spec.Desired != stamp.DesiredRunning {
		t.Fatalf("after forged suspends: %v, %v; want it running", tn.Spec.Desired, err)
	}
	resp := post(t, c, suspend, url.Values{"csrf": {csrfToken(e.token)}}, e.url)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "done=") {
		t.Errorf("a real suspend: %d to %q", resp.StatusCode, loc)
	}
	if tn, _ := e.store.GetTenant(ctx, "acme"); tn.Spec.Desired != stamp.DesiredSuspended {
		t.Errorf("after the real suspend: %v, want suspended", tn.Spec.Desired)
	}
	if resp := post(t, browser(t), suspend, url.Values{}, ""); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), Prefix+"login") {
		t.Errorf("a post signed out: %d to %q, want the login page", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestOversizedForm: a form past the console's bound is refused without
// being read whole, and changes nothing.
func TestOversizedForm(t *testing.T) {
	e := newEnv(t)
	c := browser(t)
	post(t, c, e.url+Prefix+"login", url.Values{"token": {e.token}}, "")
	form := url.Values{"csrf": {csrfToken(e.token)}, "pad": {strings.Repeat("x", 1<<20)}}
	if resp := post(t, c, e.url+Prefix+"logout", form, ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a 1 MiB form: %d, want 403 (its CSRF field unread)", resp.StatusCode)
	}
	get, err := c.Get(e.url + Prefix)
	if err != nil {
		t.Fatal(err)
	}
	get.Body.Close()
	if get.StatusCode != http.StatusOK {
		t.Errorf("still signed in after the refused form? the fleet page: %d", get.StatusCode)
	}
}
