// Command fastproxy is a reverse proxy on github.com/valyala/fasthttp,
// which bench/router measures next to bareproxy, Stamp's router and
// nginx: does a Go proxy that is not built on net/http reach nginx's
// throughput? It does bareproxy's job, no more: a fasthttp.Server whose
// handler sends each request to one upstream through a
// fasthttp.HostClient with keep-alive connections, the client's Host
// kept, the X-Forwarded headers set and hop-by-hop headers dropped both
// ways. Answers are read whole before they are written back (fasthttp's
// default): no streaming, which Stamp's router must do.
//
// Usage (bench/router builds and starts it):
//
//	fastproxy -listen 127.0.0.1:8080 -upstream 127.0.0.1:9000
//
// GOMAXPROCS is left to the runtime: as many as the machine's CPUs.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

func main() { benchkit.Main("fastproxy", run) }

// shutdownTimeout bounds the wait for requests in flight when ctx ends.
const shutdownTimeout = 5 * time.Second

// run serves the proxy until ctx ends.
func run(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("fastproxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve on")
	upstream := fs.String("upstream", "", "host:port every request is sent to")
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
	srv := newServer(newProxy(*upstream))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", *listen, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.ShutdownWithContext(sctx); err != nil {
		return fmt.Errorf("shut down the server on %s: %w", *listen, err)
	}
	if err := <-errc; err != nil {
		return fmt.Errorf("serve on %s: %w", *listen, err)
	}
	return nil
}
