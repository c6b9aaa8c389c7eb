package local

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stamphq/stamp"
)

// A bind hands a running instance its new environment over HTTP instead
// of restarting it (stamp.Service.Bind): a claimed warm stamp becomes its
// tenant's in the time of a request, not of the app's whole start.

// bindTokenVar holds the token a process's bind requests carry, so that
// no one but the driver (the router proxies every path to the app) can
// rebind it.
const bindTokenVar = "STAMP_BIND_TOKEN"

// bindTimeout is how long an app has to answer a bind request.
const bindTimeout = 5 * time.Second

// bindClient sends bind requests: straight to the instance (no proxy of
// the environment), one connection per request, no redirect followed.
var bindClient = &http.Client{
	Transport:     &http.Transport{DisableKeepAlives: true},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// newBindToken returns a new token: 32 random bytes, base64url without
// padding.
func newBindToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (see crypto/rand.Read)
	return base64.RawURLEncoding.EncodeToString(b)
}

// bind gives the new environment of rt to each instance of want that runs
// the same spec but for its Env (per byID, what runs), one by one, for
// services with a bind path, and adds those that took it to keep: they go
// on running. An instance that did not take it is logged and left out of
// keep, to be restarted as for any change. t.op must be held.
func (d *Driver) bind(ctx context.Context, t *tenant, rt *stamp.Runtime, want []instanceState, byID map[string]instanceState, keep map[string]bool) {
	for _, w := range want {
		prev, ok := byID[w.ID]
		svc := findService(rt, w.Service)
		if !ok || keep[w.ID] || svc.Bind == "" || prev.Base == "" || prev.Base != w.Base || prev.Port != w.Port {
			continue
		}
		t.mu.Lock()
		s := t.sups[w.ID]
		t.mu.Unlock()
		if s == nil {
			continue
		}
		if err := s.bind(ctx, *svc); err != nil {
			d.log.Warn("instance did not take its new environment; restarting it", "tenant", t.name, "instance", w.ID, "err", err)
			continue
		}
		keep[w.ID] = true
	}
}

// bind sends the instance's process the environment it would start with
// under svc, which from now on its restarts start with.
func (s *supervisor) bind(ctx context.Context, svc stamp.Service) error {
	s.t.mu.Lock()
	running := s.proc != nil
	token := ""
	if inst := s.t.instance(s.id); inst != nil {
		token = inst.BindToken
	}
	s.svc = svc
	s.t.mu.Unlock()
	if !running || token == "" {
		return fmt.Errorf("bind %s of %s: no process that takes binds runs", s.id, s.t.name)
	}
	vars := s.t.vars(s.t.host(), s.port)
	path, _ := s.t.path()
	body, err := json.Marshal(map[string]any{"env": s.environ(svc, vars, path, token)})
	if err != nil {
		return fmt.Errorf("bind %s of %s: %w", s.id, s.t.name, err)
	}
	endpoint := net.JoinHostPort(vars[stamp.VarHost], strconv.Itoa(s.port))
	if err := postBind(ctx, endpoint, svc.Bind, token, body); err != nil {
		return fmt.Errorf("bind %s of %s: %w", s.id, s.t.name, err)
	}
	return nil
}

// environ is the environment of the instance's process running svc: the
// driver's (see Driver.environ) and, if svc takes binds, token as
// STAMP_BIND_TOKEN.
func (s *supervisor) environ(svc stamp.Service, vars map[string]string, path, token string) map[string]string {
	env := s.d.environ(s.t, s.id, svc.Env, vars, s.bundleDir, path, svc.NoPortEnv)
	if svc.Bind != "" {
		env[bindTokenVar] = token
	}
	return env
}

// postBind sends body to path at endpoint with token as bearer and
// succeeds on a 2xx answer within bindTimeout.
func postBind(ctx context.Context, endpoint, path, token string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, bindTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+endpoint+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := bindClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	return fmt.Errorf("POST %s answered %s: %q", path, resp.Status, strings.TrimSpace(string(msg)))
}
