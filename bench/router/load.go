package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// target is what a load sends: GET path to addr with Host host.
type target struct {
	addr string // host:port to connect to
	host string // the Host header
	path string
}

// request returns the bytes of the one request a load sends, over and
// over: what a browser's fetch sends, less its cookies.
func (t target) request() []byte {
	return []byte("GET " + t.path + " HTTP/1.1\r\nHost: " + t.host + "\r\nUser-Agent: stamp-bench-router\r\nAccept: */*\r\n\r\n")
}

// loadResult is what one load measured.
type loadResult struct {
	// ok counts the answers 200 that ended inside the measured window,
	// and hist their latencies, from the request's first byte written to
	// the answer's last byte read.
	ok   uint64
	hist histogram
	// failed counts the other answers and the broken connections.
	failed uint64
	// firstFailure says what the first of them was.
	firstFailure string
	window       time.Duration
}

// rate returns the answers 200 per second of the window.
func (r *loadResult) rate() float64 {
	if r.window <= 0 {
		return 0
	}
	return float64(r.ok) / r.window.Seconds()
}

// runLoad keeps conns keep-alive connections to t busy for window, each
// sending a request as soon as the answer to the one before is read. Each
// connection stops on its own at the end, or when ctx ends; one that
// breaks is counted and dialled again. A request still in flight at the
// end cannot hold the load up for longer than ioGrace, nor past the end
// of ctx.
func runLoad(ctx context.Context, t target, conns int, window time.Duration) (*loadResult, error) {
	from := time.Now()
	end := from.Add(window)
	results := make([]*loadResult, conns)
	var wg sync.WaitGroup
	for i := range conns {
		results[i] = &loadResult{}
		wg.Go(func() { runConn(ctx, t, from, end, results[i]) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	total := &loadResult{}
	for _, r := range results {
		total.add(r)
	}
	total.window = window
	return total, nil
}

// add adds o, a load after r's or beside it, to r. The windows add up:
// loads beside one another must share one window, which runLoad sets.
func (r *loadResult) add(o *loadResult) {
	r.ok += o.ok
	r.failed += o.failed
	r.hist.merge(&o.hist)
	if r.firstFailure == "" {
		r.firstFailure = o.firstFailure
	}
	r.window += o.window
}

// ioGrace bounds a dial, or a request in flight past the end of the load.
const ioGrace = 5 * time.Second

// runConn is one connection of a load: requests, one after the other,
// until end, counted into r when they end between from and end.
func runConn(ctx context.Context, t target, from, end time.Time, r *loadResult) {
	req := t.request()
	fail := func(what string) {
		if now := time.Now(); now.After(from) && now.Before(end) {
			r.failed++
			if r.firstFailure == "" {
				r.firstFailure = what
			}
		}
	}
	var (
		c       net.Conn
		br      *bufio.Reader
		unwatch func() bool // stops the watch that cuts c short when ctx ends
	)
	hangUp := func() {
		unwatch()
		c.Close()
		c = nil
	}
	defer func() {
		if c != nil {
			hangUp()
		}
	}()
	d := net.Dialer{Timeout: ioGrace}
	for ctx.Err() == nil && time.Now().Before(end) {
		if c == nil {
			var err error
			if c, err = d.DialContext(ctx, "tcp", t.addr); err != nil {
				fail(err.Error())
				c = nil
				sleepUntil(ctx, time.Now().Add(10*time.Millisecond)) // no tight loop on a refusing port
				continue
			}
			_ = c.SetDeadline(end.Add(ioGrace))
			conn := c
			unwatch = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
			br = bufio.NewReaderSize(c, 16<<10)
		}
		sent := time.Now()
		status, closing, err := roundTrip(c, br, req)
		done := time.Now()
		switch {
		case err != nil:
			fail(err.Error())
		case status != 200:
			fail("status " + strconv.Itoa(status))
		case !sent.Before(from) && !done.After(end):
			r.ok++
			r.hist.record(done.Sub(sent))
		}
		if err != nil || closing {
			hangUp()
		}
	}
}

// sleepUntil waits until t or the end of ctx.
func sleepUntil(ctx context.Context, t time.Time) {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}

// roundTrip writes req on c and reads the answer from br: its status and
// whether the server closes the connection after it.
func roundTrip(c net.Conn, br *bufio.Reader, req []byte) (status int, closing bool, err error) {
	if _, err := c.Write(req); err != nil {
		return 0, false, fmt.Errorf("write request: %w", err)
	}
	return readResponse(br)
}

var (
	errMalformed = errors.New("malformed answer")
	crlf         = []byte("\r\n")
)

// readResponse reads one HTTP/1.1 answer to a GET, body included, and
// returns its status and whether the server closes the connection after
// it. It knows what the three servers measured send: a body of
// Content-Length bytes, a chunked one, or one that ends with the
// connection.
func readResponse(br *bufio.Reader) (status int, closing bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, false, fmt.Errorf("read status line: %w", err)
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	if status, err = strconv.Atoi(string(line[9:12])); err != nil {
		return 0, false, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	closing = line[7] == '0' // HTTP/1.0 closes unless told otherwise
	length, chunked := int64(-1), false
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return status, false, fmt.Errorf("read headers: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return status, false, fmt.Errorf("%w: header line %q", errMalformed, line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 {
				return status, false, fmt.Errorf("%w: Content-Length %q", errMalformed, value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closing = bytes.EqualFold(value, []byte("close"))
		}
	}
	switch {
	case status == 204 || status == 304 || status < 200:
		return status, closing, nil
	case chunked:
		return status, closing, readChunked(br)
	case length >= 0:
		if _, err := br.Discard(int(length)); err != nil {
			return status, false, fmt.Errorf("read body: %w", err)
		}
		return status, closing, nil
	}
	// No length: the body ends with the connection.
	if _, err := io.Copy(io.Discard, br); err != nil {
		return status, true, fmt.Errorf("read body: %w", err)
	}
	return status, true, nil
}

// readChunked reads a chunked body and its trailer.
func readChunked(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("read chunk size: %w", err)
		}
		size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%w: chunk size %q", errMalformed, line)
		}
		if n == 0 {
			break
		}
		if _, err := br.Discard(int(n)); err != nil {
			return fmt.Errorf("read chunk: %w", err)
		}
		if end, err := br.ReadSlice('\n'); err != nil || !bytes.Equal(end, crlf) {
			return fmt.Errorf("%w: no CRLF after a chunk", errMalformed)
		}
	}
	for { // the trailer, up to its empty line
		line, err := br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("read trailer: %w", err)
		}
		if bytes.Equal(line, crlf) {
			return nil
		}
	}
}
