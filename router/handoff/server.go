package handoff

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Server serves HTTP on a socket that may be handed over, and can stop
// without dropping a connection it accepted (Drain).
type Server struct {
	srv  *http.Server
	ln   net.Listener
	open atomic.Int64 // connections accepted and not yet closed
	done chan struct{}
	err  error // why Serve returned, once done is closed
}

// Serve starts srv on ln. It takes over srv.ConnState.
func Serve(srv *http.Server, ln net.Listener) *Server {
	s := &Server{srv: srv, ln: ln, done: make(chan struct{})}
	srv.ConnState = s.track
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.err = err
		}
		close(s.done)
	}()
	return s
}

func (s *Server) track(_ net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		s.open.Add(1)
	case http.StateClosed, http.StateHijacked:
		s.open.Add(-1)
	}
}

// Done is closed when the server has stopped serving; Err then says why.
func (s *Server) Done() <-chan struct{} { return s.done }

// Err is nil once the server was stopped by Shutdown or Drain, or the
// error serving failed with.
func (s *Server) Err() error {
	<-s.done
	return s.err
}

// Shutdown stops the server gracefully, as http.Server.Shutdown does,
// and closes it if ctx ends first.
func (s *Server) Shutdown(ctx context.Context) {
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close()
	}
}

// Drain stops the server once its socket has been handed over: it stops
// accepting, answers every connection it had accepted, then closes, or
// closes at once when ctx ends. Shutdown alone would drop a connection
// accepted just before it whose request was not read yet, and that
// client would see its connection closed unanswered although the socket
// stayed open all along.
func (s *Server) Drain(ctx context.Context) {
	s.ln.Close()
	select {
	case <-s.done: // every accepted connection is counted now
	case <-ctx.Done():
	}
	// Each connection closes after its answer; idle ones close now.
	s.srv.SetKeepAlivesEnabled(false)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for s.open.Load() > 0 && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	s.srv.Close()
}
