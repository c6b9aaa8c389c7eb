package main

import (
	"bytes"
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// The settings of bareproxy and Stamp's router, so that the proxies
// differ in their HTTP stack alone: the server's read-header and idle
// timeouts (fasthttp's ReadTimeout covers the whole request, which has no
// body here), the Transport's dial and response-header timeouts
// (fasthttp's ReadTimeout covers the whole answer, read at once) and
// idle connections kept per upstream.
const (
	serverReadTimeout = 10 * time.Second
	serverIdleTimeout = 2 * time.Minute
	dialTimeout       = 2 * time.Second
	upstreamTimeout   = 30 * time.Second
	upstreamIdle      = 90 * time.Second
	upstreamConns     = 1024
)

// hopHeaders are the hop-by-hop headers net/http/httputil.ReverseProxy
// drops both ways (RFC 9110, section 7.6.1), besides those that
// Connection names.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// proxy sends every request to one upstream.
type proxy struct {
	client *fasthttp.HostClient
}

// newProxy returns a proxy to upstream (host:port) with keep-alive
// connections to it.
func newProxy(upstream string) *proxy {
	return &proxy{client: &fasthttp.HostClient{
		Addr:                     upstream,
		Dial:                     dial,
		MaxConns:                 upstreamConns,
		MaxIdleConnDuration:      upstreamIdle,
		ReadTimeout:              upstreamTimeout,
		NoDefaultUserAgentHeader: true,
		DisablePathNormalizing:   true,
	}}
}

// dialer dials the upstream as the Transport of bareproxy and Stamp's
// router does.
var dialer = &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}

func dial(addr string) (net.Conn, error) { return dialer.Dial("tcp", addr) }

// newServer returns the server of p, which adds no header of its own
// to the upstream's answers but Date.
func newServer(p *proxy) *fasthttp.Server {
	return &fasthttp.Server{
		Handler:               p.serve,
		ReadTimeout:           serverReadTimeout,
		IdleTimeout:           serverIdleTimeout,
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
	}
}

// serve forwards ctx's request to the upstream and its answer back, the
// way fasthttp's authors write a reverse proxy: HostClient.Do with the
// request and response of ctx. It does what bareproxy's Rewrite does:
// the client's Host is kept and X-Forwarded-For, -Host and -Proto are
// set, the client's own replaced.
func (p *proxy) serve(ctx *fasthttp.RequestCtx) {
	req, resp := &ctx.Request, &ctx.Response
	dropHopHeaders(&req.Header)
	req.Header.Set("X-Forwarded-For", ctx.RemoteIP().String())
	req.Header.SetBytesV("X-Forwarded-Host", req.Header.Host())
	req.Header.Set("X-Forwarded-Proto", "http")
	if err := p.client.Do(req, resp); err != nil {
		// As ReverseProxy's default error handler: 502 and no body.
		ctx.Logger().Printf("proxy to %s: %v", p.client.Addr, err)
		resp.Reset()
		resp.SetStatusCode(fasthttp.StatusBadGateway)
		return
	}
	dropHopHeaders(&resp.Header)
}

// header is what dropHopHeaders needs of fasthttp's request and
// response headers.
type header interface {
	Peek(key string) []byte
	DelBytes(key []byte)
	Del(key string)
}

// dropHopHeaders deletes from h the headers its Connection names, then
// hopHeaders. It reads Connection from a copy: deleting moves the
// header's own buffers.
func dropHopHeaders(h header) {
	var buf [128]byte
	for name := range bytes.SplitSeq(append(buf[:0], h.Peek(fasthttp.HeaderConnection)...), []byte{','}) {
		if name = bytes.TrimSpace(name); len(name) > 0 {
			h.DelBytes(name)
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}
