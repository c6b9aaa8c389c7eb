package health

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// Prober probes the health endpoints of many instances again and again,
// as the monitor does: every instance every second or so. It keeps one
// idle connection per endpoint and runs each exchange on the calling
// goroutine: it writes the request and reads the answer itself, with
// net/http's parser but without an http.Transport, whose two goroutines
// per connection and hand-offs between them cost more than the exchange
// at that rate (bench/probe has the figures). A Prober is safe for
// concurrent use; Close ends its idle connections.
type Prober struct {
	mu     sync.Mutex
	idle   map[string]*probeConn // endpoint -> a connection no probe uses now
	swept  time.Time             // when idle connections were last swept
	closed bool
}

// probeConn is a kept connection to one endpoint.
type probeConn struct {
	conn   net.Conn
	br     *bufio.Reader
	usedAt time.Time
}

// idleTimeout is how long an unused connection is kept: an instance that
// is retired or moved stops being probed, and its connection goes.
const idleTimeout = time.Minute

// NewProber returns a Prober with no connection yet.
func NewProber() *Prober {
	return &Prober{idle: map[string]*probeConn{}, swept: time.Now()}
}

// Probe GETs path from the instance at endpoint (host:port) within timeout
// and returns nil if the answer is a 2xx, or the same errors as the
// package's Probe: "GET http://<endpoint><path>: status 503: <the start
// of the answer>", "...: connection refused", "...: no answer within 2s".
// A kept connection the instance closed meanwhile is replaced once.
func (p *Prober) Probe(ctx context.Context, endpoint, path string, timeout time.Duration) error {
	url := "http://" + endpoint + path
	deadline := time.Now().Add(timeout)
	pc, reused := p.take(endpoint)
	for {
		if pc == nil {
			var err error
			if pc, err = dial(ctx, endpoint, deadline); err != nil {
				return &probeError{url: url, what: describe(ctx, err, timeout), err: err}
			}
		}
		keep, err := exchange(ctx, pc, endpoint, path, deadline)
		if keep {
			p.put(endpoint, pc)
		} else {
			pc.conn.Close()
		}
		var perr *probeError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &perr):
			perr.url = url
			return perr // an answer that is not a 2xx
		case reused && !answered(err) && ctx.Err() == nil && time.Now().Before(deadline):
			// The instance closed the kept connection before this
			// request reached it (it restarted, or timed the connection
			// out): not an answer about its health. Ask again on a new one.
			pc, reused = nil, false
			continue
		}
		return &probeError{url: url, what: describe(ctx, err, timeout), err: err}
	}
}

// exchange sends one GET on pc and reads the answer; it reports whether
// pc can be kept for the next probe. A non-2xx answer is a *probeError
// without its url.
func exchange(ctx context.Context, pc *probeConn, endpoint, path string, deadline time.Time) (keep bool, err error) {
	if err := pc.conn.SetDeadline(deadline); err != nil {
		return false, err
	}
	// Cancelling ctx cuts the exchange short, as it would a net/http one.
	stop := context.AfterFunc(ctx, func() { pc.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	req := "GET " + path + " HTTP/1.1\r\nHost: " + endpoint + "\r\nUser-Agent: stamp-health\r\n\r\n"
	if _, err := io.WriteString(pc.conn, req); err != nil {
		return false, err
	}
	resp, err := http.ReadResponse(pc.br, nil)
	if err != nil {
		return false, err
	}
	head := make([]byte, maxQuoted)
	n, _ := io.ReadFull(resp.Body, head)
	rest, rerr := io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	whole := rerr == nil && rest < maxDrain
	if !whole {
		pc.conn.Close() // or Body.Close would read the rest, however long
	}
	resp.Body.Close()
	// Keep the connection only if the whole answer was read, it was the
	// final one (a 1xx is followed by another), and the instance did not
	// ask to close it.
	keep = whole && resp.StatusCode >= 200 && !resp.Close && stop()
	if err := statusError(resp.StatusCode, head[:n]); err != nil {
		return keep, err
	}
	return keep, nil
}

// answered reports whether err may have come after the instance read the
// request: anything but the connection found closed or reset before a
// byte of the answer.
func answered(err error) bool {
	return !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) &&
		!errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE)
}

func dial(ctx context.Context, endpoint string, deadline time.Time) (*probeConn, error) {
	d := net.Dialer{Deadline: deadline}
	conn, err := d.DialContext(ctx, "tcp", endpoint)
	if err != nil {
		return nil, err
	}
	return &probeConn{conn: conn, br: bufio.NewReaderSize(conn, 4096)}, nil
}

// take returns the idle connection to endpoint, if there is one, and
// whether there was.
func (p *Prober) take(endpoint string) (*probeConn, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pc := p.idle[endpoint]
	delete(p.idle, endpoint)
	return pc, pc != nil
}

// put keeps pc as endpoint's idle connection, and now and then closes the
// connections no probe has used for idleTimeout.
func (p *Prober) put(endpoint string, pc *probeConn) {
	now := time.Now()
	pc.usedAt = now
	var drop []*probeConn
	p.mu.Lock()
	if p.closed || p.idle[endpoint] != nil {
		drop = append(drop, pc) // closed, or another probe of it kept one
	} else {
		p.idle[endpoint] = pc
	}
	if now.Sub(p.swept) >= idleTimeout/2 {
		p.swept = now
		for ep, c := range p.idle {
			if now.Sub(c.usedAt) >= idleTimeout {
				delete(p.idle, ep)
				drop = append(drop, c)
			}
		}
	}
	p.mu.Unlock()
	for _, c := range drop {
		c.conn.Close()
	}
}

// Close closes the idle connections; a probe after Close still works but
// keeps no connection.
func (p *Prober) Close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = map[string]*probeConn{}, true
	p.mu.Unlock()
	for _, c := range idle {
		c.conn.Close()
	}
}
