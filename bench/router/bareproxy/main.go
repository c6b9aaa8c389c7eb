// Command bareproxy is the floor of a Go reverse proxy on net/http, which
// bench/router measures next to Stamp's router and nginx: an
// httputil.ReverseProxy in front of one upstream and nothing else, no
// route table, stats, logging or control plane. Whatever Stamp's router
// costs beyond it is the router's own work; what it costs beyond nginx is
// Go's HTTP stack.
//
// Usage (bench/router builds and starts it):
//
//	bareproxy -listen 127.0.0.1:8080 -upstream 127.0.0.1:9000 [-flush-interval -1ns]
//
// GOMAXPROCS is left to the runtime: as many as the machine's CPUs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

func main() { benchkit.Main("bareproxy", run) }

// run serves the proxy until ctx ends.
func run(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("bareproxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve on")
	upstream := fs.String("upstream", "", "host:port every request is sent to")
	flush := fs.Duration("flush-interval", 0, "ReverseProxy's FlushInterval: 0 as Stamp's router, -1ns to flush every write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(*upstream); err != nil {
		return fmt.Errorf("-upstream %q: want host:port", *upstream)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	srv := newServer(*upstream, *flush)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", *listen, err)
	case <-ctx.Done():
	}
	if err := srv.Close(); err != nil {
		return fmt.Errorf("close the server on %s: %w", *listen, err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve on %s: %w", *listen, err)
	}
	return nil
}

// Stamp's router's server timeouts by default (the read-header and idle
// timeouts of `stamp router`), so that the servers differ in nothing.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
)

// newServer returns the server of a proxy to upstream.
func newServer(upstream string, flush time.Duration) *http.Server {
	return &http.Server{Handler: newProxy(upstream, flush), ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: idleTimeout}
}
