package main

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// newProxy returns a reverse proxy to upstream that does the work nginx
// and Stamp's router do for each request, no more: set the URL, the
// X-Forwarded headers and the client's Host. Its body buffers come from
// a pool, as the router's do, so that the floor is not raised by 32KiB
// allocated per request.
func newProxy(upstream string, flush time.Duration) *httputil.ReverseProxy {
	u := &url.URL{Scheme: "http", Host: upstream}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.SetXForwarded()
			pr.Out.Host = pr.In.Host
		},
		Transport:     newTransport(),
		FlushInterval: flush,
		BufferPool:    &bufferPool{},
	}
}

// newTransport is a copy of router.newTransport's settings (router/router.go),
// with its default 30s response timeout: the proxies must differ in
// nothing but the router's own work.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   2 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		DisableCompression:    true,
	}
}

// bufferSize is io.Copy's buffer size, which ReverseProxy allocates per
// request without a pool.
const bufferSize = 32 << 10

// bufferPool recycles ReverseProxy's copy buffers, pooling pointers to
// arrays so that Put allocates nothing.
type bufferPool struct{ pool sync.Pool }

func (p *bufferPool) Get() []byte {
	if b, ok := p.pool.Get().(*[bufferSize]byte); ok {
		return b[:]
	}
	return make([]byte, bufferSize)
}

func (p *bufferPool) Put(b []byte) {
	if cap(b) >= bufferSize {
		p.pool.Put((*[bufferSize]byte)(b[:bufferSize]))
	}
}

var _ httputil.BufferPool = (*bufferPool)(nil)
