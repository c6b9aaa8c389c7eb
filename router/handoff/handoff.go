// Package handoff passes a listening TCP socket from one process to
// another over a Unix socket, so that the router's port stays open while
// the process serving it changes: the kernel keeps queueing connections
// on the one socket, and whichever process holds it accepts them. No
// client is refused while a server stops and the next one starts.
//
// One side offers the socket it serves on (Offer); the other takes it
// (Take), starts serving on it, and then releases the offerer (Taken.Release),
// which stops accepting and lets its own requests finish. The protocol
// is three lines on the Unix socket:
//
//	taker:   take 1
//	offerer: listener 1         (with the socket as SCM_RIGHTS)
//	taker:   release
//	offerer: released           (after it has removed the Unix socket)
//
// A taker that goes away before "release" leaves the offerer serving and
// still offering.
package handoff

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

const (
	takeLine     = "take 1"
	listenerLine = "listener 1"
	releaseLine  = "release"
	releasedLine = "released"
)

// ErrNoOffer is returned by Take when nothing offers a socket at the path.
var ErrNoOffer = errors.New("no socket offered")

// Offer offers ln's socket on a Unix socket at path (mode 0600, replacing
// a stale one) until a taker takes and releases it, then removes path and
// returns nil: from then on the taker serves, and the caller should stop
// accepting on ln and let its requests finish. It returns ctx's error if
// ctx ends first. ready, if not nil, is called once path accepts takers.
func Offer(ctx context.Context, path string, ln *net.TCPListener, ready func()) error {
	os.Remove(path) // a stale socket of a process that died
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("offer router socket on %s: %w", path, err)
	}
	ul.SetUnlinkOnClose(false) // removed below, before the taker may bind path
	if err := os.Chmod(path, 0o600); err != nil {
		ul.Close()
		os.Remove(path)
		return fmt.Errorf("offer router socket on %s: %w", path, err)
	}
	stop := context.AfterFunc(ctx, func() { ul.Close() })
	defer stop()
	if ready != nil {
		ready()
	}
	for {
		conn, err := ul.AcceptUnix()
		if err != nil {
			ul.Close()
			os.Remove(path)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("offer router socket on %s: %w", path, err)
		}
		if released := offerTo(conn, ln); released {
			// The taker binds path for its own offer once it reads
			// "released": path must be gone by then.
			ul.Close()
			os.Remove(path)
			fmt.Fprintln(conn, releasedLine)
			conn.Close()
			return nil
		}
		conn.Close() // the taker went away: keep offering
	}
}

// offerTo runs the offerer's side of one exchange; it reports whether
// the taker released this side.
func offerTo(conn *net.UnixConn, ln *net.TCPListener) bool {
	// A taker that stops half-way must not block the offer for ever; a
	// released taker is serving already, so release comes at once.
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(conn)
	if line, err := r.ReadString('\n'); err != nil || strings.TrimSpace(line) != takeLine {
		return false
	}
	raw, err := ln.SyscallConn()
	if err != nil {
		return false
	}
	// The socket itself is sent, not a copy made with File (whose Fd
	// would switch the shared socket to blocking mode under our own
	// Accept).
	var sendErr error
	if err := raw.Control(func(fd uintptr) {
		_, _, sendErr = conn.WriteMsgUnix([]byte(listenerLine+"\n"), syscall.UnixRights(int(fd)), nil)
	}); err != nil || sendErr != nil {
		return false
	}
	line, err := r.ReadString('\n')
	return err == nil && strings.TrimSpace(line) == releaseLine
}

// Taken is a socket taken from an offerer that still serves on it.
type Taken struct {
	conn *net.UnixConn
	r    *bufio.Reader
}

// Take takes the socket offered at path. The offerer keeps serving on it
// until Release; closing the listener without Release (Abandon) leaves it
// serving. When nothing offers at path, the error is ErrNoOffer.
func Take(ctx context.Context, path string) (*net.TCPListener, *Taken, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, nil, ErrNoOffer
		}
		return nil, nil, fmt.Errorf("take router socket from %s: %w", path, err)
	}
	conn := c.(*net.UnixConn)
	ln, err := take(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("take router socket from %s: %w", path, err)
	}
	return ln, &Taken{conn: conn, r: bufio.NewReader(conn)}, nil
}

func take(ctx context.Context, conn *net.UnixConn) (*net.TCPListener, error) {
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	} else {
		conn.SetDeadline(time.Now().Add(30 * time.Second))
	}
	if _, err := fmt.Fprintln(conn, takeLine); err != nil {
		return nil, err
	}
	buf := make([]byte, len(listenerLine)+1)
	oob := make([]byte, syscall.CmsgSpace(4))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, err
	}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("offerer sent no socket")
	}
	fds, err := syscall.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("offerer sent no socket")
	}
	f := os.NewFile(uintptr(fds[0]), "router socket")
	defer f.Close() // FileListener holds a duplicate
	if strings.TrimSpace(string(buf[:n])) != listenerLine {
		return nil, fmt.Errorf("offerer answered %q, want %q", buf[:n], listenerLine)
	}
	l, err := net.FileListener(f)
	if err != nil {
		return nil, err
	}
	ln, ok := l.(*net.TCPListener)
	if !ok {
		l.Close()
		return nil, fmt.Errorf("offered socket is %s, not TCP", l.Addr().Network())
	}
	conn.SetDeadline(time.Time{})
	return ln, nil
}

// Release tells the offerer to stop accepting, once the caller serves
// on the taken socket, and waits until it has removed its Unix socket.
func (t *Taken) Release(ctx context.Context) error {
	defer t.conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		t.conn.SetDeadline(deadline)
	}
	if _, err := fmt.Fprintln(t.conn, releaseLine); err != nil {
		return fmt.Errorf("release router socket's offerer: %w", err)
	}
	line, err := t.r.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != releasedLine {
		return fmt.Errorf("release router socket's offerer: answered %q (%v)", line, err)
	}
	return nil
}

// Abandon ends the exchange without releasing the offerer, which keeps
// serving and offering: for a taker that failed before it could serve.
func (t *Taken) Abandon() { t.conn.Close() }
