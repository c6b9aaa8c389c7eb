package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stamphq/stamp"
)

// Client calls a Stamp server's API. Errors the server reports are
// *stamp.Error carrying its code and message, so stamp.ErrorCode works on
// them as it does server-side.
type Client struct {
	// BaseURL is the server's address, such as "http://127.0.0.1:7070".
	BaseURL string
	// Token is the bearer token sent with every request.
	Token string
	// HTTP sends the requests. It should have no overall timeout, since
	// followed logs stream until their context ends; bound calls with ctx.
	HTTP *http.Client
}

// NewClient returns a Client for the server at baseURL.
func NewClient(baseURL, token string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Token: token, HTTP: &http.Client{}}
}

// PushBundle uploads a bundle archive. created is false when the server
// already held the same content.
func (c *Client) PushBundle(ctx context.Context, content []byte) (b *stamp.Bundle, created bool, err error) {
	p, created, err := c.PushBuiltBundle(ctx, content, 0)
	if err != nil {
		return nil, false, err
	}
	return &p.Bundle, created, nil
}

// PushBuiltBundle is PushBundle for a bundle whose build took built (0:
// none ran), recorded with the push; the answer also says what the
// blueprint requires that the server's host lacks.
func (c *Client) PushBuiltBundle(ctx context.Context, content []byte, built time.Duration) (p *PushedBundle, created bool, err error) {
	var header http.Header
	if built > 0 {
		header = http.Header{BuildDurationHeader: {built.String()}}
	}
	resp, err := c.sendWith(ctx, http.MethodPost, "/v1/blueprints", "application/gzip", bytes.NewReader(content), header)
	if err != nil {
		return nil, false, err
	}
	p = new(PushedBundle)
	if err := decodeResponse(resp, p); err != nil {
		return nil, false, err
	}
	return p, resp.StatusCode == http.StatusCreated, nil
}

// ListBundles returns every pushed bundle.
func (c *Client) ListBundles(ctx context.Context) ([]*stamp.Bundle, error) {
	var out bundleList
	if err := c.do(ctx, http.MethodGet, "/v1/blueprints", nil, &out); err != nil {
		return nil, err
	}
	return out.Blueprints, nil
}

// GetBundle returns name@version with its stamp.yaml; an empty version
// means the latest.
func (c *Client) GetBundle(ctx context.Context, name, version string) (*BundleDetail, error) {
	path := "/v1/blueprints/" + url.PathEscape(name)
	if version != "" {
		path += "/" + url.PathEscape(version)
	}
	out := new(BundleDetail)
	if err := c.do(ctx, http.MethodGet, path, nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

// CreateTenant asks for a new tenant; the server answers once it is
// recorded, before it runs (watch Events or GetTenant for progress).
func (c *Client) CreateTenant(ctx context.Context, req CreateTenantRequest) (*stamp.Tenant, error) {
	out := new(stamp.Tenant)
	if err := c.do(ctx, http.MethodPost, "/v1/tenants", req, out); err != nil {
		return nil, err
	}
	return out, nil
}

// GetTenant returns the named tenant.
func (c *Client) GetTenant(ctx context.Context, name string) (*stamp.Tenant, error) {
	out := new(stamp.Tenant)
	if err := c.do(ctx, http.MethodGet, "/v1/tenants/"+url.PathEscape(name), nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

// ListTenants returns every tenant, ordered by name, read a page of
// MaxTenantPage at a time. A tenant that exists throughout is returned
// once; one created or deleted meanwhile may or may not be.
func (c *Client) ListTenants(ctx context.Context) ([]*stamp.Tenant, error) {
	var all []*stamp.Tenant
	for page, err := range c.TenantPages(ctx, TenantQuery{Limit: MaxTenantPage}) {
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
	}
	return all, nil
}

// ListPooled returns the warm pool's stamps (at most MaxTenantPage),
// ordered by name: made ahead, serving no one until a create claims one.
func (c *Client) ListPooled(ctx context.Context) ([]*stamp.Tenant, error) {
	out := new(TenantList)
	if err := c.do(ctx, http.MethodGet, "/v1/tenants?pooled=true&limit="+strconv.Itoa(MaxTenantPage), nil, out); err != nil {
		return nil, err
	}
	return out.Tenants, nil
}

// DeleteOptions are the choices of a delete.
type DeleteOptions struct {
	// Purge deletes at once, skipping the server's grace period.
	Purge bool
	// ConfirmMany lets the delete past the guard against mass deletion.
	ConfirmMany bool
}

// query returns the delete's query string, "" or "?...".
func (o DeleteOptions) query() string {
	q := url.Values{}
	if o.Purge {
		q.Set("purge", "true")
	}
	if o.ConfirmMany {
		q.Set(confirmParam, "many")
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// DeleteTenant marks the tenant for deletion and returns it; the server
// keeps it stopped for its grace period, unless opts.Purge, then
// releases its resources in the background.
func (c *Client) DeleteTenant(ctx context.Context, name string, opts DeleteOptions) (*stamp.Tenant, error) {
	out := new(stamp.Tenant)
	if err := c.do(ctx, http.MethodDelete, "/v1/tenants/"+url.PathEscape(name)+opts.query(), nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

// UndeleteTenant brings back a tenant deleted within its grace period.
func (c *Client) UndeleteTenant(ctx context.Context, name string) (*stamp.Tenant, error) {
	out := new(stamp.Tenant)
	if err := c.do(ctx, http.MethodPost, "/v1/tenants/"+url.PathEscape(name)+"/undelete", nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

// RetryTenant asks a failed tenant to try again (a new generation: its
// hooks run anew). A tenant that is not failed is ECONFLICT.
func (c *Client) RetryTenant(ctx context.Context, name string) (*stamp.Tenant, error) {
	out := new(stamp.Tenant)
	if err := c.do(ctx, http.MethodPost, "/v1/tenants/"+url.PathEscape(name)+"/retry", nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

// WakeTenant asks for sleeping tenant name to be woken; a tenant that is
// awake is returned as it is.
func (c *Client) WakeTenant(ctx context.Context, name string) (*stamp.Tenant, error) {
	out := new(stamp.Tenant)
	if err := c.do(ctx, http.MethodPost, "/v1/tenants/"+url.PathEscape(name)+"/wake", nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

// SetTenant changes tenant name's plan or parameters.
func (c *Client) SetTenant(ctx context.Context, name string, req SetTenantRequest) (*stamp.Tenant, error) {
	out := new(stamp.Tenant)
	if err := c.do(ctx, http.MethodPatch, "/v1/tenants/"+url.PathEscape(name), req, out); err != nil {
		return nil, err
	}
	return out, nil
}

// TenantSecrets lists tenant name's secrets, with their values if reveal
// (which is recorded as an event). It needs an admin token.
func (c *Client) TenantSecrets(ctx context.Context, name string, reveal bool) (*TenantSecrets, error) {
	out := new(TenantSecrets)
	path := "/v1/tenants/" + url.PathEscape(name) + "/secrets"
	if reveal {
		path += "?reveal=true"
	}
	if err := c.do(ctx, http.MethodGet, path, nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

// UpgradeTenant asks for tenant name to move to version.
func (c *Client) UpgradeTenant(ctx context.Context, name, version string) (*stamp.Tenant, error) {
	out := new(stamp.Tenant)
	if err := c.do(ctx, http.MethodPost, "/v1/tenants/"+url.PathEscape(name)+"/upgrade", UpgradeTenantRequest{Version: version}, out); err != nil {
		return nil, err
	}
	return out, nil
}

// PinTenant pins tenant name to version; an empty version unpins it.
func (c *Client) PinTenant(ctx context.Context, name, version string) (*stamp.Tenant, error) {
	out := new(stamp.Tenant)
	path := "/v1/tenants/" + url.PathEscape(name) + "/pin"
	var err error
	if version == "" {
		err = c.do(ctx, http.MethodDelete, path, nil, out)
	} else {
		err = c.do(ctx, http.MethodPost, path, PinTenantRequest{Version: version}, out)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CreateRelease starts a release.
func (c *Client) CreateRelease(ctx context.Context, req CreateReleaseRequest) (*stamp.Release, error) {
	out := new(stamp.Release)
	if err := c.do(ctx, http.MethodPost, "/v1/releases", req, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Releases lists every release, oldest first.
func (c *Client) Releases(ctx context.Context) ([]*stamp.Release, error) {
	var out releaseList
	if err := c.do(ctx, http.MethodGet, "/v1/releases", nil, &out); err != nil {
		return nil, err
	}
	return out.Releases, nil
}

// Release returns release id.
func (c *Client) Release(ctx context.Context, id string) (*stamp.Release, error) {
	out := new(stamp.Release)
	if err := c.do(ctx, http.MethodGet, "/v1/releases/"+url.PathEscape(id), nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

// ControlRelease pauses, resumes or aborts release id (action is "pause",
// "resume" or "abort").
func (c *Client) ControlRelease(ctx context.Context, id, action string) (*stamp.Release, error) {
	out := new(stamp.Release)
	if err := c.do(ctx, http.MethodPost, "/v1/releases/"+url.PathEscape(id)+"/"+url.PathEscape(action), nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

// SkipReleaseTenant leaves tenant out of release id, giving reason.
func (c *Client) SkipReleaseTenant(ctx context.Context, id, tenant, reason string) (*stamp.Release, error) {
	out := new(stamp.Release)
	path := "/v1/releases/" + url.PathEscape(id) + "/tenants/" + url.PathEscape(tenant) + "/skip"
	if err := c.do(ctx, http.MethodPost, path, SkipRequest{Reason: reason}, out); err != nil {
		return nil, err
	}
	return out, nil
}

// RetryReleaseTenant puts a failed or skipped tenant of release id back
// in line.
func (c *Client) RetryReleaseTenant(ctx context.Context, id, tenant string) (*stamp.Release, error) {
	out := new(stamp.Release)
	path := "/v1/releases/" + url.PathEscape(id) + "/tenants/" + url.PathEscape(tenant) + "/retry"
	if err := c.do(ctx, http.MethodPost, path, nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Events returns the events f selects, oldest first. A tenant filter also
// finds the events of tenants deleted since.
func (c *Client) Events(ctx context.Context, f stamp.EventFilter) ([]*stamp.Event, error) {
	q := url.Values{}
	if f.AfterSeq > 0 {
		q.Set("after", strconv.FormatInt(f.AfterSeq, 10))
	}
	if f.Tenant != "" {
		q.Set("tenant", f.Tenant)
	}
	if f.Release != "" {
		q.Set("release", f.Release)
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	path := "/v1/events"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out eventList
	if err := c.do(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	return out.Events, nil
}

// TenantEvents returns the events of tenant name after Seq after, at
// most limit (0: the server's default), oldest first: what a token
// confined to the tenant may read, unlike Events.
func (c *Client) TenantEvents(ctx context.Context, name string, after int64, limit int) ([]*stamp.Event, error) {
	q := url.Values{}
	if after > 0 {
		q.Set("after", strconv.FormatInt(after, 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out eventList
	if err := c.do(ctx, http.MethodGet, "/v1/tenants/"+url.PathEscape(name)+"/events?"+q.Encode(), nil, &out); err != nil {
		return nil, err
	}
	return out.Events, nil
}

// Logs returns a service's logs as a stream: all the server keeps, or
// with opts.Tail the last lines of each instance; with opts.Follow it
// stays open until ctx ends. The caller closes it.
func (c *Client) Logs(ctx context.Context, tenant, service string, opts stamp.LogOptions) (io.ReadCloser, error) {
	q := url.Values{"service": {service}}
	if opts.Follow {
		q.Set("follow", "1")
	}
	if opts.Tail > 0 {
		q.Set("tail", strconv.Itoa(opts.Tail))
	}
	resp, err := c.send(ctx, http.MethodGet, "/v1/tenants/"+url.PathEscape(tenant)+"/logs?"+q.Encode(), "", nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, responseError(resp)
	}
	return resp.Body, nil
}

// do sends in (if not nil) as JSON and decodes a 2xx JSON answer into out.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var (
		body        io.Reader
		contentType string
	)
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s %s request: %w", method, path, err)
		}
		body, contentType = bytes.NewReader(data), "application/json"
	}
	resp, err := c.send(ctx, method, path, contentType, body)
	if err != nil {
		return err
	}
	return decodeResponse(resp, out)
}

// send makes one request, explaining a failure to reach the server.
func (c *Client) send(ctx context.Context, method, path, contentType string, body io.Reader) (*http.Response, error) {
	return c.sendWith(ctx, method, path, contentType, body, nil)
}

// sendWith is send with extra request headers.
func (c *Client) sendWith(ctx context.Context, method, path, contentType string, body io.Reader, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return nil, fmt.Errorf("build %s %s request: %w", method, path, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, ctx.Err())
		}
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // its text repeats the URL
		}
		return nil, fmt.Errorf("connect to stamp server at %s: %w: is `stamp server` running?", c.BaseURL, err)
	}
	return resp, nil
}

// decodeResponse decodes a 2xx answer into out and turns anything else
// into the server's *stamp.Error. It closes the body.
func decodeResponse(resp *http.Response, out any) error {
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return responseError(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode answer to %s %s: %w", resp.Request.Method, resp.Request.URL.Path, err)
	}
	return nil
}

// responseError reads an error answer. A body that is not the API's JSON
// error (a proxy's page, say) still yields a code matching the status.
func responseError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var body errorBody
	if err := json.Unmarshal(data, &body); err != nil || body.Error.Code == "" {
		msg := strings.TrimSpace(string(data))
		if msg == "" {
			msg = resp.Status
		}
		body.Error = errorDetail{Code: codeForStatus(resp.StatusCode), Message: fmt.Sprintf("%s %s: %s", resp.Request.Method, resp.Request.URL.Path, msg)}
	}
	if body.Error.Code == stamp.EINTERNAL {
		if id := resp.Header.Get(requestIDHeader); id != "" {
			body.Error.Message += " (request id " + id + ")"
		}
	}
	return &stamp.Error{Code: body.Error.Code, Message: body.Error.Message}
}

// codeForStatus is statusByCode read backwards.
func codeForStatus(status int) string {
	for code, s := range statusByCode {
		if s == status {
			return code
		}
	}
	return stamp.EINTERNAL
}

// FollowEvents hands handle each event f selects (by f.Tenant and
// f.Release) as it is appended, oldest first, until ctx ends (it returns
// ctx's error) or handle returns an error (returned as is). It starts
// after lastID, the Seq of the last event the caller has seen, or after
// f.AfterSeq if that is higher; a negative lastID with a zero f.AfterSeq
// starts from now. f.Limit does not apply.
//
// Failing to open the stream is returned at once. Once it is open, a
// dropped connection, a stream the server ends, a silence of three
// keep-alive intervals (a peer that vanished) or a 5xx answer to a
// reconnect is followed by a pause (half a second, doubling up to 15s
// while reconnects fail) and a reconnect that sends the last Seq received
// as Last-Event-ID, so that no event is missed or handed over twice. Any
// other error the server reports on a reconnect (a revoked token, say) is
// returned.
func (c *Client) FollowEvents(ctx context.Context, f stamp.EventFilter, lastID int64, handle func(*stamp.Event) error) error {
	q := url.Values{"follow": {"1"}}
	if f.Tenant != "" {
		q.Set("tenant", f.Tenant)
	}
	if f.Release != "" {
		q.Set("release", f.Release)
	}
	path := "/v1/events?" + q.Encode()
	pos := lastID
	if f.AfterSeq > 0 && f.AfterSeq > pos {
		pos = f.AfterSeq
	}
	opened := false
	wait := followRetryMin
	for {
		streamed, err := c.followEventsOnce(ctx, path, &pos, handle)
		var stop *stopFollowing
		if errors.As(err, &stop) {
			return stop.err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !opened && !streamed {
			return err
		}
		if streamed {
			opened, wait = true, followRetryMin
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, followRetryMax)
	}
}

// followEventsOnce reads one event stream from path, starting after *pos
// (from now if negative) and moving *pos past each message's id, until
// the stream ends. streamed reports whether the server answered with an
// event stream.
func (c *Client) followEventsOnce(ctx context.Context, path string, pos *int64, handle func(*stamp.Event) error) (streamed bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL+path, nil)
	if err != nil {
		return false, &stopFollowing{fmt.Errorf("build GET %s request: %w", path, err)}
	}
	req.Header.Set("Accept", "text/event-stream")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if *pos >= 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(*pos, 10))
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // its text repeats the URL
		}
		return false, fmt.Errorf("connect to stamp server at %s: %w: is `stamp server` running?", c.BaseURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		err := responseError(resp)
		if resp.StatusCode >= 500 {
			return false, err
		}
		return false, &stopFollowing{err}
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		return false, &stopFollowing{fmt.Errorf("GET %s: the server answered with %q, not an event stream: is it an older stamp server?", path, resp.Header.Get("Content-Type"))}
	}
	// The server writes a comment at least every keep-alive interval; a
	// connection silent for three of them is dead even if TCP has not
	// noticed (a peer that vanished), so it is dropped and resumed.
	idle := time.AfterFunc(3*eventKeepAlive, cancel)
	defer idle.Stop()
	dec := newSSEDecoder(readFunc(func(p []byte) (int, error) {
		idle.Reset(3 * eventKeepAlive)
		return resp.Body.Read(p)
	}))
	for {
		m, err := dec.next()
		switch {
		case errors.Is(err, io.EOF):
			return true, nil
		case errors.Is(err, bufio.ErrTooLong):
			return true, &stopFollowing{fmt.Errorf("read events after %d: an event is over %d bytes", *pos, maxEventLine)}
		case err != nil:
			return true, fmt.Errorf("read events after %d: %w", *pos, err)
		}
		if m.id != "" {
			id, err := strconv.ParseInt(m.id, 10, 64)
			if err != nil {
				return true, &stopFollowing{fmt.Errorf("read events after %d: event id %q is not a sequence number", *pos, m.id)}
			}
			*pos = id
		}
		if !m.dispatch {
			continue
		}
		e := new(stamp.Event)
		if err := json.Unmarshal([]byte(m.data), e); err != nil {
			return true, &stopFollowing{fmt.Errorf("read events after %d: decode event %s: %w", *pos, m.id, err)}
		}
		if err := handle(e); err != nil {
			return true, &stopFollowing{err}
		}
	}
}
