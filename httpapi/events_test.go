package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// appendEvents appends events to the store and returns them with their Seq.
func (e *testEnv) appendEvents(t *testing.T, events ...stamp.Event) []*stamp.Event {
	t.Helper()
	ptrs := make([]*stamp.Event, len(events))
	for i := range events {
		ptrs[i] = &events[i]
	}
	if err := e.store.AppendEvents(context.Background(), ptrs...); err != nil {
		t.Fatal(err)
	}
	return ptrs
}

// testStream is a followed event stream read over raw HTTP.
type testStream struct {
	resp *http.Response
	dec  *sseDecoder
}

// follow opens GET path (with ?follow=1 in it) with the admin token and
// header. The stream is closed when the test ends; its context's deadline
// only keeps a broken test from hanging.
func (e *testEnv) follow(t *testing.T, path string, header http.Header) *testStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	req, err := http.NewRequestWithContext(ctx, "GET", e.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
	})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", path, resp.StatusCode, responseError(resp))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("GET %s: Content-Type %q, want text/event-stream", path, ct)
	}
	return &testStream{resp: resp, dec: newSSEDecoder(resp.Body)}
}

// start reads the stream's first message, which only names the Seq it
// starts after.
func (s *testStream) start(t *testing.T) int64 {
	t.Helper()
	m, err := s.dec.next()
	if err != nil {
		t.Fatalf("first message: %v", err)
	}
	if m.dispatch {
		t.Fatalf("first message is event %s %q, want only an id", m.event, m.data)
	}
	n, err := strconv.ParseInt(m.id, 10, 64)
	if err != nil {
		t.Fatalf("first message: id %q: %v", m.id, err)
	}
	return n
}

// events reads the next n events, checking that each message's id and
// event fields match the event it carries.
func (s *testStream) events(t *testing.T, n int) []*stamp.Event {
	t.Helper()
	var out []*stamp.Event
	for len(out) < n {
		m, err := s.dec.next()
		if err != nil {
			t.Fatalf("after %d of %d events: %v", len(out), n, err)
		}
		if !m.dispatch {
			t.Fatalf("after %d of %d events: a message without data (id %q)", len(out), n, m.id)
		}
		e := new(stamp.Event)
		if err := json.Unmarshal([]byte(m.data), e); err != nil {
			t.Fatalf("data %q: %v", m.data, err)
		}
		if m.id != strconv.FormatInt(e.Seq, 10) || m.event != e.Type {
			t.Errorf("message id %q event %q carries event %d %s", m.id, m.event, e.Seq, e.Type)
		}
		out = append(out, e)
	}
	return out
}

// eventSeqs returns the Seq of each event.
func eventSeqs(events []*stamp.Event) []int64 {
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = e.Seq
	}
	return out
}

func TestFollowEventsFromNow(t *testing.T) {
	env := newTestEnv(t)
	env.appendEvents(t, stamp.Event{Type: stamp.EventTenantCreated, Tenant: "old"}, stamp.Event{Type: stamp.EventTenantReady, Tenant: "old"})
	s := env.follow(t, "/v1/events?follow=1", nil)
	if got := s.start(t); got != 2 {
		t.Errorf("starts after %d, want 2 (the newest event)", got)
	}
	if cc := s.resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	want := env.appendEvents(t,
		stamp.Event{Type: stamp.EventTenantCreated, Tenant: "acme"},
		stamp.Event{Type: stamp.EventStep, Tenant: "acme", Step: "allocate", Status: stamp.StatusOK, Message: "line one\nline two"},
	)
	want = append(want, env.appendEvents(t, stamp.Event{Type: stamp.EventTenantReady, Tenant: "acme", Message: "http://acme.localhost"})...)
	got := s.events(t, 3)
	for i := range want {
		if g, w := jsonString(t, got[i]), jsonString(t, want[i]); g != w {
			t.Errorf("event %d: got %s, want %s", i, g, w)
		}
	}
}

func TestFollowEventsResume(t *testing.T) {
	env := newTestEnv(t)
	for range 5 {
		env.appendEvents(t, stamp.Event{Type: stamp.EventStep, Tenant: "acme"})
	}
	tests := []struct {
		name, query, lastID string
		start               int64
		want                []int64
	}{
		{"Last-Event-ID over after", "&after=4", "2", 2, []int64{3, 4, 5}},
		{"Last-Event-ID", "", "3", 3, []int64{4, 5}},
		{"after", "&after=4", "", 4, []int64{5}},
		{"from the start", "&after=0", "", 0, []int64{1, 2, 3, 4, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.lastID != "" {
				h.Set("Last-Event-ID", tt.lastID)
			}
			s := env.follow(t, "/v1/events?follow=1"+tt.query, h)
			if got := s.start(t); got != tt.start {
				t.Errorf("starts after %d, want %d", got, tt.start)
			}
			if got := eventSeqs(s.events(t, len(tt.want))); !slices.Equal(got, tt.want) {
				t.Errorf("got events %v, want %v", got, tt.want)
			}
		})
	}

	// A follower that reconnects with the last id it saw gets exactly the
	// events appended while it was away, and nothing twice.
	s := env.follow(t, "/v1/events?follow=1", http.Header{"Last-Event-Id": {"4"}})
	s.start(t)
	last := s.events(t, 1)[0].Seq
	s.resp.Body.Close()
	missed := eventSeqs(env.appendEvents(t, stamp.Event{Type: stamp.EventStep, Tenant: "acme"}, stamp.Event{Type: stamp.EventTenantReady, Tenant: "acme"}))
	s = env.follow(t, "/v1/events?follow=1", http.Header{"Last-Event-Id": {strconv.FormatInt(last, 10)}})
	s.start(t)
	if got := eventSeqs(s.events(t, 2)); !slices.Equal(got, missed) {
		t.Errorf("after reconnecting: got %v, want the missed %v", got, missed)
	}
	later := eventSeqs(env.appendEvents(t, stamp.Event{Type: stamp.EventTenantDeleting, Tenant: "acme"}))
	if got := eventSeqs(s.events(t, 1)); !slices.Equal(got, later) {
		t.Errorf("then: got %v, want %v", got, later)
	}
}

// TestFollowEventsPages follows a backlog longer than a page.
func TestFollowEventsPages(t *testing.T) {
	env := newTestEnv(t)
	backlog := make([]stamp.Event, 2*maxEventLimit+500)
	for i := range backlog {
		backlog[i] = stamp.Event{Type: stamp.EventStep, Tenant: "acme", Message: fmt.Sprint(i)}
	}
	want := eventSeqs(env.appendEvents(t, backlog...))
	s := env.follow(t, "/v1/events?follow=1&after=0", nil)
	s.start(t)
	if got := eventSeqs(s.events(t, len(want))); !slices.Equal(got, want) {
		t.Errorf("got %d events from %d to %d, want %d from %d to %d", len(got), got[0], got[len(got)-1], len(want), want[0], want[len(want)-1])
	}
}

func TestFollowEventsFilters(t *testing.T) {
	env := newTestEnv(t)
	env.push(t, ledgerYAML)
	if _, err := env.client.CreateTenant(context.Background(), CreateTenantRequest{Name: "acme", Blueprint: "ledger", Params: map[string]string{"admin_email": "a@b.c"}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		want       []string
	}{
		{"tenant", "/v1/events?follow=1&after=0&tenant=acme", []string{"tenant.created acme", "tenant.step acme", "release.tenant acme rel-1", "tenant.ready acme"}},
		{"release", "/v1/events?follow=1&after=0&release=rel-1", []string{"release.created rel-1", "release.tenant acme rel-1"}},
		{"tenant route", "/v1/tenants/acme/events?follow=1&after=0", []string{"tenant.created acme", "tenant.step acme", "release.tenant acme rel-1", "tenant.ready acme"}},
		{"tenant route and release", "/v1/tenants/acme/events?follow=1&after=0&release=rel-1", []string{"release.tenant acme rel-1"}},
	}
	streams := make([]*testStream, len(tests))
	for i, tt := range tests {
		streams[i] = env.follow(t, tt.path, nil)
		streams[i].start(t)
	}
	env.appendEvents(t,
		stamp.Event{Type: stamp.EventTenantCreated, Tenant: "globex"},
		stamp.Event{Type: stamp.EventStep, Tenant: "acme"},
		stamp.Event{Type: stamp.EventReleaseCreated, Release: "rel-1"},
		stamp.Event{Type: stamp.EventReleaseTenant, Tenant: "acme", Release: "rel-1"},
		stamp.Event{Type: stamp.EventTenantReady, Tenant: "globex"},
		stamp.Event{Type: stamp.EventReleaseCreated, Release: "rel-2"},
		stamp.Event{Type: stamp.EventTenantReady, Tenant: "acme"},
		// Every filter selects the last one, so that each stream can be
		// read up to it and shown to have held nothing else.
		stamp.Event{Type: "test.end", Tenant: "acme", Release: "rel-1"},
	)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := streams[i].events(t, len(tt.want)+1)
			var got []string
			for _, e := range events[:len(tt.want)] {
				got = append(got, strings.Join(strings.Fields(e.Type+" "+e.Tenant+" "+e.Release), " "))
			}
			if !slices.Equal(got, tt.want) || events[len(tt.want)].Type != "test.end" {
				t.Errorf("got %q then %s, want %q then test.end", got, events[len(tt.want)].Type, tt.want)
			}
		})
	}
}

func TestFollowEventsRefused(t *testing.T) {
	env := newTestEnv(t)
	tests := []struct {
		name, path, lastID, token string
		want                      apiError
	}{
		{"follow not a boolean", "/v1/events?follow=maybe", "", env.token,
			apiError{400, stamp.EINVALID, `query parameter follow="maybe" is not a boolean (use 1 or 0)`}},
		{"limit", "/v1/events?follow=1&limit=5", "", env.token,
			apiError{400, stamp.EINVALID, "query parameter limit does not apply to follow=1: a followed stream sends every event as it comes"}},
		{"after", "/v1/events?follow=1&after=x", "", env.token,
			apiError{400, stamp.EINVALID, `query parameter after="x" is not a sequence number (a non-negative integer)`}},
		{"Last-Event-ID not a number", "/v1/events?follow=1", "abc", env.token,
			apiError{400, stamp.EINVALID, `header Last-Event-ID "abc" is not a sequence number (a non-negative integer)`}},
		{"Last-Event-ID negative", "/v1/events?follow=1", "-1", env.token,
			apiError{400, stamp.EINVALID, `header Last-Event-ID "-1" is not a sequence number (a non-negative integer)`}},
		{"no such tenant", "/v1/tenants/nope/events?follow=1", "", env.token,
			apiError{404, stamp.ENOTFOUND, `tenant "nope" does not exist`}},
		{"no token", "/v1/events?follow=1", "", "",
			apiError{401, stamp.EUNAUTHORIZED, `missing bearer token: send the header "Authorization: Bearer <token>"`}},
		{"bad token", "/v1/events?follow=1", "", NewToken(),
			apiError{401, stamp.EUNAUTHORIZED, "bearer token is not valid"}},
		{"bad token, tenant route", "/v1/tenants/acme/events?follow=1", "", NewToken(),
			apiError{401, stamp.EUNAUTHORIZED, "bearer token is not valid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", env.url+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			if tt.lastID != "" {
				req.Header.Set("Last-Event-ID", tt.lastID)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body errorBody
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("%d: error body: %v", resp.StatusCode, err)
			}
			tt.want.check(t, resp.StatusCode, body.Error)
		})
	}
	t.Run("client", func(t *testing.T) {
		err := NewClient(env.url, NewToken()).FollowEvents(context.Background(), stamp.EventFilter{}, -1, func(*stamp.Event) error {
			t.Error("handed an event")
			return nil
		})
		wantError(t, err, stamp.EUNAUTHORIZED, "bearer token is not valid")
	})
	t.Run("client, no server", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		err := NewClient(srv.URL, env.token).FollowEvents(context.Background(), stamp.EventFilter{}, -1, func(*stamp.Event) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "is `stamp server` running?") {
			t.Errorf("got %v, want a failure to connect", err)
		}
	})
}

// TestFollowEventsClientGone checks that a stream's handler returns when
// its client goes away: the request's log line is written only then.
func TestFollowEventsClientGone(t *testing.T) {
	env := newTestEnv(t)
	s := env.follow(t, "/v1/events?follow=1", http.Header{requestIDHeader: {"follow-gone"}})
	s.start(t)
	if strings.Contains(env.logs.String(), "follow-gone") {
		t.Fatal("the stream's request was logged while it was open")
	}
	s.resp.Body.Close()
	log := env.logs.waitFor(t, `"request_id":"follow-gone"`)
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "follow-gone") && (!strings.Contains(line, `"status":200`) || strings.Contains(line, `"error"`)) {
			t.Errorf("log line %s, want status 200 and no error", line)
		}
	}
}

// String returns what was written so far.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// cuttingProxy forwards to a server and can drop every connection of its
// clients, as a restarting load balancer would. It records the
// Last-Event-ID of each request.
type cuttingProxy struct {
	*httptest.Server
	mu      sync.Mutex
	lastIDs []string
}

func newCuttingProxy(t *testing.T, target string) *cuttingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttingProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.lastIDs = append(p.lastIDs, r.Header.Get("Last-Event-ID"))
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *cuttingProxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.lastIDs)
}

func TestClientFollowEvents(t *testing.T) {
	env := newTestEnv(t)
	proxy := newCuttingProxy(t, env.url)
	env.appendEvents(t, stamp.Event{Type: stamp.EventTenantCreated, Tenant: "acme"}, stamp.Event{Type: stamp.EventTenantCreated, Tenant: "globex"})

	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan *stamp.Event)
	done := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		done <- NewClient(proxy.URL, env.token).FollowEvents(ctx, stamp.EventFilter{Tenant: "acme"}, 2, func(e *stamp.Event) error {
			select {
			case got <- e:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	// Registered after the servers' cleanups, so it runs first: a server
	// waits for its open streams when it closes.
	t.Cleanup(func() {
		cancel()
		<-exited
	})
	receive := func(want ...int64) {
		t.Helper()
		var seen []int64
		for len(seen) < len(want) {
			select {
			case e := <-got:
				seen = append(seen, e.Seq)
			case err := <-done:
				t.Fatalf("FollowEvents returned %v after %v, want %v", err, seen, want)
			case <-time.After(10 * time.Second):
				t.Fatalf("got %v, want %v", seen, want)
			}
		}
		if !slices.Equal(seen, want) {
			t.Errorf("got %v, want %v", seen, want)
		}
	}

	env.appendEvents(t,
		stamp.Event{Type: stamp.EventStep, Tenant: "acme"},
		stamp.Event{Type: stamp.EventStep, Tenant: "globex"},
		stamp.Event{Type: stamp.EventTenantReady, Tenant: "acme"},
	)
	receive(3, 5)
	proxy.CloseClientConnections()
	env.appendEvents(t,
		stamp.Event{Type: stamp.EventTenantDeleting, Tenant: "acme"},
		stamp.Event{Type: stamp.EventTenantDeleted, Tenant: "acme"},
	)
	receive(6, 7)
	if got, want := proxy.requests(), []string{"2", "5"}; !slices.Equal(got, want) {
		t.Errorf("Last-Event-ID of each request: got %q, want %q", got, want)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("after cancel: got %v, want %v", err, context.Canceled)
	}

	t.Run("handler error", func(t *testing.T) {
		stop := errors.New("seen enough")
		var seen []int64
		err := env.client.FollowEvents(context.Background(), stamp.EventFilter{AfterSeq: 5}, -1, func(e *stamp.Event) error {
			seen = append(seen, e.Seq)
			return stop
		})
		if err != stop || !slices.Equal(seen, []int64{6}) {
			t.Errorf("got %v after %v, want %v after [6]", err, seen, stop)
		}
	})
}

func TestSSEDecoder(t *testing.T) {
	ev := func(id, event, data string) sseMessage {
		return sseMessage{id: id, event: event, data: data, dispatch: true}
	}
	tests := []struct {
		name, in string
		want     []sseMessage
	}{
		{"one event", "id: 1\nevent: tenant.ready\ndata: {}\n\n", []sseMessage{ev("1", "tenant.ready", "{}")}},
		{"CR LF", "id: 1\r\nevent: a\r\ndata: {}\r\n\r\n", []sseMessage{ev("1", "a", "{}")}},
		{"CR", "id: 1\revent: a\rdata: {}\r\r", []sseMessage{ev("1", "a", "{}")}},
		{"keep-alive comments", ": keep-alive\n\n: events after 2\nid: 3\n: inside\ndata: x\n\n: keep-alive\n\n", []sseMessage{ev("3", "message", "x")}},
		{"id only", ": events after 7\nid: 7\n\n", []sseMessage{{id: "7"}}},
		{"id carries over", "id: 5\ndata: a\n\ndata: b\n\n", []sseMessage{ev("5", "message", "a"), ev("5", "message", "b")}},
		{"data lines join", "data: a\ndata: b\n\n", []sseMessage{ev("", "message", "a\nb")}},
		{"one space dropped", "data:x\ndata:  y\n\n", []sseMessage{ev("", "message", "x\n y")}},
		{"retry and unknown fields ignored", "retry: 100\nfoo: bar\ndata: z\n\n", []sseMessage{ev("", "message", "z")}},
		{"field without colon", "data\n\n", []sseMessage{ev("", "message", "")}},
		{"event without data", "event: a\n\ndata: b\n\n", []sseMessage{ev("", "message", "b")}},
		{"id with NUL ignored", "id: 1\x00\ndata: a\n\n", []sseMessage{ev("", "message", "a")}},
		{"byte order mark", "\ufeffdata: a\n\n", []sseMessage{ev("", "message", "a")}},
		{"cut off at the end", "data: a\n\ndata: b", []sseMessage{ev("", "message", "a")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec := newSSEDecoder(strings.NewReader(tt.in))
			var got []sseMessage
			for {
				m, err := dec.next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, m)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	t.Run("line too long", func(t *testing.T) {
		_, err := newSSEDecoder(strings.NewReader("data: " + strings.Repeat("x", maxEventLine) + "\n\n")).next()
		if !errors.Is(err, bufio.ErrTooLong) {
			t.Errorf("got %v, want %v", err, bufio.ErrTooLong)
		}
	})
}
