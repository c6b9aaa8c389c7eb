package main

import (
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/pflag"
)

// httpTimeouts bound how long the API and the router wait on a client,
// and the router on a tenant, so that no slow or silent peer holds a
// connection for ever.
type httpTimeouts struct {
	// ReadHeader bounds sending a request's headers (API and router).
	ReadHeader time.Duration
	// Idle bounds a kept-alive connection's wait for its next request.
	Idle time.Duration
	// Request bounds an API request from its headers to the end of its
	// answer, its body included; pushes and followed streams set their
	// own deadlines (see httpapi).
	Request time.Duration
	// Response bounds the router's wait for a tenant's answer headers.
	Response time.Duration
}

// flags registers the timeouts; api adds the API's own.
func (t *httpTimeouts) flags(f *pflag.FlagSet, api bool) {
	f.DurationVar(&t.ReadHeader, "read-header-timeout", 10*time.Second, "how long a client may take to send a request's headers")
	f.DurationVar(&t.Idle, "idle-timeout", 2*time.Minute, "how long a kept-alive client connection may wait for its next request")
	f.DurationVar(&t.Response, "response-timeout", 30*time.Second, "how long the router waits for a tenant to begin its answer before it answers 504")
	if api {
		f.DurationVar(&t.Request, "request-timeout", 2*time.Minute, "how long an API request may take, body and answer included (pushes get 30m, followed streams no limit)")
	}
}

// problems reports every timeout that is not positive; api adds the
// API's own.
func (t *httpTimeouts) problems(api bool) []string {
	type timeout struct {
		flag string
		v    time.Duration
	}
	all := []timeout{{"--read-header-timeout", t.ReadHeader}, {"--idle-timeout", t.Idle}, {"--response-timeout", t.Response}}
	if api {
		all = append(all, timeout{"--request-timeout", t.Request})
	}
	var out []string
	for _, d := range all {
		if d.v <= 0 {
			out = append(out, fmt.Sprintf("%s %s: want a positive duration", d.flag, d.v))
		}
	}
	return out
}

// apiServer returns the API's server. Its answers are short, so a whole
// request is bounded as well.
func (t *httpTimeouts) apiServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Request,
		WriteTimeout:      t.Request,
		IdleTimeout:       t.Idle,
	}
}

// routerServer returns the router's server. A proxied request may
// rightly last for hours (an upload, a download, server-sent events, a
// websocket), so only its headers and idle time are bounded here; the
// router bounds the tenant's wait to begin its answer (Response).
func (t *httpTimeouts) routerServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: t.ReadHeader, IdleTimeout: t.Idle}
}
