package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// call is one request to the API server as the proxy classifies it, in
// the API server's own terms.
type call struct {
	// verb is get, list, watch, create, update, patch, apply, delete or
	// deletecollection.
	verb string
	// namespace is the request's namespace, or a Namespace's own name
	// for a request on it; "" for other cluster-wide objects.
	namespace string
	// resource is the kind's resource name ("secrets"), with
	// "/<subresource>" for a subresource ("pods/log").
	resource string
}

// writeVerbs are the verbs that change what the cluster holds.
var writeVerbs = []string{"create", "update", "patch", "apply", "delete", "deletecollection"}

// isWrite reports whether verb changes what the cluster holds.
func isWrite(verb string) bool { return slices.Contains(writeVerbs, verb) }

// applyPatchType is the content type of a server-side apply.
const applyPatchType = "application/apply-patch+yaml"

// classify names the call an HTTP request to the API server makes:
// /api/v1/<resource>..., /api/v1/namespaces/<ns>/<resource>/<name>/<sub>,
// the same under /apis/<group>/<version>. Paths outside the API (such as
// /version) are a get of resource "".
func classify(method, path string, query url.Values, contentType string) call {
	var segs []string
	switch parts := strings.Split(strings.Trim(path, "/"), "/"); {
	case len(parts) >= 2 && parts[0] == "api":
		segs = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		segs = parts[3:]
	}
	var c call
	if len(segs) >= 3 && segs[0] == "namespaces" && !(len(segs) == 3 && (segs[2] == "status" || segs[2] == "finalize")) {
		c.namespace, segs = segs[1], segs[2:]
	}
	name := ""
	if len(segs) > 0 {
		c.resource = segs[0]
	}
	if len(segs) > 1 {
		name = segs[1]
		if c.resource == "namespaces" {
			c.namespace = name
		}
	}
	if len(segs) > 2 {
		c.resource += "/" + segs[2]
	}
	switch method {
	case http.MethodGet, http.MethodHead:
		switch {
		case query.Get("watch") == "true" || query.Get("watch") == "1":
			c.verb = "watch"
		case name == "" && c.resource != "":
			c.verb = "list"
		default:
			c.verb = "get"
		}
	case http.MethodPost:
		c.verb = "create"
	case http.MethodPut:
		c.verb = "update"
	case http.MethodPatch:
		c.verb = "patch"
		if strings.HasPrefix(contentType, applyPatchType) {
			c.verb = "apply"
		}
	case http.MethodDelete:
		c.verb = "delete"
		if name == "" {
			c.verb = "deletecollection"
		}
	default:
		c.verb = strings.ToLower(method)
	}
	return c
}

// countKey is what the proxy counts requests by.
type countKey struct {
	tenant   string // "" outside the namespaces of the instance's tenants
	verb     string
	resource string
}

// counts are requests by tenant, verb and resource.
type counts map[countKey]int

// sub returns c less before: what was counted in between.
func (c counts) sub(before counts) counts {
	out := counts{}
	for k, n := range c {
		if d := n - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// sum counts the requests keep selects.
func (c counts) sum(keep func(countKey) bool) int {
	n := 0
	for k, v := range c {
		if keep(k) {
			n += v
		}
	}
	return n
}

// writes counts the writes.
func (c counts) writes() int { return c.sum(func(k countKey) bool { return isWrite(k.verb) }) }

// reads counts gets and lists: the reads a client's rate limit counts
// (watches are long-lived and not limited).
func (c counts) reads() int {
	return c.sum(func(k countKey) bool { return k.verb == "get" || k.verb == "list" })
}

// watches counts the watches opened.
func (c counts) watches() int { return c.sum(func(k countKey) bool { return k.verb == "watch" }) }

// proxy is a reverse proxy on loopback in front of the API server that
// counts every request the stamp server sends, by the tenant whose
// namespace it is in. The server is given a kubeconfig pointing at it,
// over plain HTTP with no credentials; the proxy forwards with the
// admin's.
type proxy struct {
	prefix string // a tenant's namespace is prefix + its name
	srv    *http.Server
	ln     net.Listener
	mu     sync.Mutex
	counts counts
	failed counts // requests answered with a status of 400 or more
	last   time.Time
}

// startProxy starts the proxy to the API server of upstream, counting
// the requests of the tenants of control plane instance.
func startProxy(upstream *rest.Config, instance string) (*proxy, error) {
	target, err := url.Parse(upstream.Host)
	if err != nil || target.Host == "" {
		return nil, fmt.Errorf("API server address %q: want a URL", upstream.Host)
	}
	rt, err := rest.TransportFor(upstream)
	if err != nil {
		return nil, fmt.Errorf("transport to the API server: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxy to the API server: %w", err)
	}
	p := &proxy{prefix: instance + "-", ln: ln, counts: counts{}, failed: counts{}}
	rp := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport: rt,
		// Watches stream: every event goes on at once.
		FlushInterval: -1,
	}
	p.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := classify(r.Method, r.URL.Path, r.URL.Query(), r.Header.Get("Content-Type"))
			p.count(c)
			sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
			rp.ServeHTTP(sw, r)
			p.answered(c, sw.code)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = p.srv.Serve(ln) }() // ends with Close
	return p, nil
}

// count records a request as it comes: a watch is counted when it
// opens, not when it ends.
func (p *proxy) count(c call) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts[p.key(c)]++
}

// key is what c is counted by.
func (p *proxy) key(c call) countKey {
	tenant, ok := strings.CutPrefix(c.namespace, p.prefix)
	if !ok {
		tenant = ""
	}
	return countKey{tenant: tenant, verb: c.verb, resource: c.resource}
}

// answered records the answer to a request.
func (p *proxy) answered(c call, code int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if code >= 400 {
		p.failed[p.key(c)]++
	}
	if isWrite(c.verb) {
		p.last = time.Now()
	}
}

// snapshot returns the requests counted so far, and those of them
// answered with an error.
func (p *proxy) snapshot() (all, failed counts) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.counts), maps.Clone(p.failed)
}

// lastWrite returns when the last write was answered (zero if none).
func (p *proxy) lastWrite() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// waitQuiet returns once no write has been answered for quiet, or fails
// when ctx ends.
func (p *proxy) waitQuiet(ctx context.Context, quiet time.Duration) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for time.Since(p.lastWrite()) < quiet {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s without writes to the API server: %w", quiet, ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

// writeKubeconfig writes to path a kubeconfig for the proxy: plain HTTP
// on loopback, no credentials.
func (p *proxy) writeKubeconfig(path string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["bench"] = &clientcmdapi.Cluster{Server: "http://" + p.ln.Addr().String()}
	cfg.AuthInfos["bench"] = &clientcmdapi.AuthInfo{}
	cfg.Contexts["bench"] = &clientcmdapi.Context{Cluster: "bench", AuthInfo: "bench"}
	cfg.CurrentContext = "bench"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("write the proxy's kubeconfig: %w", err)
	}
	return nil
}

// Close stops the proxy, cutting its open watches.
func (p *proxy) Close() error {
	if err := p.srv.Close(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("stop the proxy: %w", err)
	}
	return nil
}

// statusWriter remembers the status code written through it.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets the reverse proxy flush the response it wraps.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// only keeps the counts of tenants.
func (c counts) only(tenants []string) counts {
	keep := map[string]bool{}
	for _, t := range tenants {
		keep[t] = true
	}
	out := counts{}
	for k, n := range c {
		if keep[k.tenant] {
			out[k] = n
		}
	}
	return out
}

// byVerbResource lists the counts summed by verb and resource, as
// "verb resource: n", sorted.
func (c counts) byVerbResource() []string {
	sums := map[string]int{}
	for k, n := range c {
		sums[k.verb+" "+k.resource] += n
	}
	var out []string
	for k, n := range sums {
		out = append(out, fmt.Sprintf("%s: %d", k, n))
	}
	slices.Sort(out)
	return out
}
