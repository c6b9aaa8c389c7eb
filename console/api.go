package console

import (
	"net/http"
	"net/http/httptest"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/httpapi"
)

// client returns an API client acting with token, calling the API in
// process. Its calls carry the browser's address and request id, so the
// audit log names the operator's machine, not the console.
func (c *Console) client(r *http.Request, token string) *httpapi.Client {
	return &httpapi.Client{BaseURL: "http://console.invalid", Token: token,
		HTTP: &http.Client{Transport: inProcess{api: c.api, remote: r.RemoteAddr, requestID: r.Header.Get("X-Request-Id")}}}
}

// inProcess sends requests to the API handler without a network.
type inProcess struct {
	api       http.Handler
	remote    string
	requestID string
}

// RoundTrip serves req with the API handler and returns its recorded
// answer.
func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.RemoteAddr = t.remote
	req.RequestURI = req.URL.RequestURI()
	if t.requestID != "" {
		req.Header.Set("X-Request-Id", t.requestID)
	}
	rec := httptest.NewRecorder()
	t.api.ServeHTTP(rec, req)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// whoami is the signed-in operator as the pages show them.
type whoami struct{ *stamp.Token }

// CanOperate reports whether the operator may change tenants: an
// operator or an admin.
func (w whoami) CanOperate() bool { return w.Role == stamp.RoleOperator || w.Role == stamp.RoleAdmin }
