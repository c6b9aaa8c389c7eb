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
//
// While it keeps any, a timer sweeps them every few seconds: it closes a
// connection the instance has closed (it exited, was stopped or its
// tenant deleted, and nothing probes it again) and one unused for
// idleTimeout. Sweeping only when a probe ends would keep them for ever
// once the last instance is gone, each a socket in CLOSE-WAIT.
type Prober struct {
	mu     sync.Mutex
	idle   map[string]*probeConn // endpoint -> a connection no probe uses now
	sweep  *time.Timer           // runs sweepIdle while idle is not empty; nil otherwise
	every  time.Duration         // between sweeps: sweepEvery, shorter in tests
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

// sweepEvery is how often idle connections are looked at: how long one
// the instance closed stays in CLOSE-WAIT at most.
const sweepEvery = 5 * time.Second

// NewProber returns a Prober with no connection yet.
func NewProber() *Prober {
	return &Prober{idle: map[string]*probeConn{}, every: sweepEvery}
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

// put keeps pc as endpoint's idle connection, and has the idle ones
// swept while there are any.
func (p *Prober) put(endpoint string, pc *probeConn) {
	p.mu.Lock()
	if p.closed || p.idle[endpoint] != nil {
		p.mu.Unlock()
		pc.conn.Close() // closed, or another probe of it kept one
		return
	}
	pc.usedAt = time.Now()
	p.idle[endpoint] = pc
	if p.sweep == nil {
		p.sweep = time.AfterFunc(p.every, p.sweepIdle)
	}
	p.mu.Unlock()
}

// sweepIdle closes the idle connections no probe used for idleTimeout or
// the instance closed, and comes again while any is left. The others are
// taken out while they are looked at, so no probe uses one meanwhile (it
// dials anew), and put back unless a probe kept another since.
func (p *Prober) sweepIdle() {
	now := time.Now()
	var drop []*probeConn
	p.mu.Lock()
	look := p.idle
	p.idle = make(map[string]*probeConn, len(look))
	for ep, pc := range look {
		if now.Sub(pc.usedAt) >= idleTimeout {
			delete(look, ep)
			drop = append(drop, pc)
		}
	}
	p.mu.Unlock()
	for ep, pc := range look {
		if !pc.open() {
			delete(look, ep)
			drop = append(drop, pc)
		}
	}
	p.mu.Lock()
	for ep, pc := range look {
		if p.closed || p.idle[ep] != nil {
			drop = append(drop, pc)
		} else {
			p.idle[ep] = pc
		}
	}
	if len(p.idle) > 0 && !p.closed {
		p.sweep.Reset(p.every)
	} else {
		p.sweep = nil
	}
	p.mu.Unlock()
	for _, pc := range drop {
		pc.conn.Close()
	}
}

// open reports whether pc can still carry a request: the instance has
// neither closed it (a read would see end-of-file or a reset) nor sent
// anything unasked. It peeks without waiting, so it takes nothing a probe
// would read.
func (pc *probeConn) open() bool {
	if pc.br.Buffered() > 0 {
		return false
	}
	sc, ok := pc.conn.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var perr error
	buf := make([]byte, 1)
	err = raw.Read(func(fd uintptr) bool {
		_, _, perr = syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true // never wait for readiness
	})
	// Only "nothing to read yet" is open: end-of-file reads 0 bytes with
	// no error, data reads some, a reset is an error.
	return err == nil && perr == syscall.EAGAIN
}

// Close closes the idle connections; a probe after Close still works but
// keeps no connection.
func (p *Prober) Close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = map[string]*probeConn{}, true
	if p.sweep != nil {
		p.sweep.Stop()
		p.sweep = nil
	}
	p.mu.Unlock()
	for _, c := range idle {
		c.conn.Close()
	}
}
