package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stamphq/stamp"
)

// maxEventLimit caps how many events one request returns, and is the page
// size of a followed stream.
const maxEventLimit = 1000

// A followed stream (?follow=1) polls the store at eventPollInterval. It
// writes a comment every eventKeepAlive so that proxies and the client see
// a live connection when nothing happens, and gives each write
// eventWriteWait to reach a client before the stream is cut.
const (
	eventPollInterval = 250 * time.Millisecond
	eventKeepAlive    = 15 * time.Second
	eventWriteWait    = 10 * time.Second
)

type eventList struct {
	Events []*stamp.Event `json:"events"`
}

// handleEvents lists events of every tenant, or of ?tenant= (which may
// have been deleted already) and ?release=, oldest first; with ?follow=1
// it streams them as they are appended (see streamEvents).
func handleEvents(st stamp.EventLog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f, err := eventFilter(q)
		if err != nil {
			writeError(w, r, err)
			return
		}
		follow, err := followParam(q)
		if err != nil {
			writeError(w, r, err)
			return
		}
		f.Tenant = q.Get("tenant")
		f.Release = q.Get("release")
		if follow {
			streamEvents(w, r, st, f)
			return
		}
		listEvents(w, r, st, f)
	})
}

// handleTenantEvents lists the events of an existing tenant, oldest first,
// narrowed to ?release= if given; with ?follow=1 it streams them. The
// tenant must exist when the request starts; a stream goes on after it is
// deleted, so that its follower sees tenant.deleted.
func handleTenantEvents(st Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f, err := eventFilter(q)
		if err != nil {
			writeError(w, r, err)
			return
		}
		follow, err := followParam(q)
		if err != nil {
			writeError(w, r, err)
			return
		}
		t, err := getTenant(r.Context(), st, r.PathValue("name"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		f.Tenant = t.Name
		f.Release = q.Get("release")
		if follow {
			streamEvents(w, r, st, f)
			return
		}
		listEvents(w, r, st, f)
	})
}

func listEvents(w http.ResponseWriter, r *http.Request, st stamp.EventLog, f stamp.EventFilter) {
	events, err := st.ListEvents(r.Context(), f)
	if err != nil {
		writeError(w, r, fmt.Errorf("list events: %w", err))
		return
	}
	encode(w, r, http.StatusOK, eventList{Events: nonNil(events)})
}

// eventFilter reads ?after= and ?limit=.
func eventFilter(q url.Values) (stamp.EventFilter, error) {
	var f stamp.EventFilter
	if s := q.Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return f, stamp.Errorf(stamp.EINVALID, "query parameter after=%q is not a sequence number (a non-negative integer)", s)
		}
		f.AfterSeq = n
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxEventLimit {
			return f, stamp.Errorf(stamp.EINVALID, "query parameter limit=%q must be an integer from 1 to %d", s, maxEventLimit)
		}
		f.Limit = n
	}
	return f, nil
}

// followParam reads ?follow=, false when absent.
func followParam(q url.Values) (bool, error) {
	s := q.Get("follow")
	if s == "" {
		return false, nil
	}
	follow, err := strconv.ParseBool(s)
	if err != nil {
		return false, stamp.Errorf(stamp.EINVALID, "query parameter follow=%q is not a boolean (use 1 or 0)", s)
	}
	return follow, nil
}

// tailParam reads ?tail=, the number of last lines of logs to return; 0
// (or none) is all of them.
func tailParam(q url.Values) (int, error) {
	s := q.Get("tail")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, stamp.Errorf(stamp.EINVALID, "query parameter tail=%q is not a number of lines (0 or more)", s)
	}
	return n, nil
}

// streamEvents sends the events f selects as server-sent events
// (text/event-stream), each as "id: <seq>", "event: <type>" and "data:
// <the event as JSON>", until the client goes away. A browser's
// EventSource can read it as is.
//
// The stream starts after the Last-Event-ID header of a reconnecting
// client, else after ?after=, else after the newest event: a follower that
// names no position sees what happens from now on, since the log's history
// can be long and GET without follow pages through it. To get history and
// then live events, list them and follow with ?after= the last Seq seen.
// The first message carries only "id:" with that position, so a client
// that reconnects before any event arrives resumes from there rather than
// from a later "now".
//
// Between polls the stream holds no store connection: each poll is one
// ListEvents per page, read to the end before anything is written. Seqs
// never become visible out of order (the stores promise it), so resuming
// after the last Seq sent loses nothing and repeats nothing.
func streamEvents(w http.ResponseWriter, r *http.Request, st stamp.EventLog, f stamp.EventFilter) {
	if f.Limit != 0 {
		writeError(w, r, stamp.Errorf(stamp.EINVALID, "query parameter limit does not apply to follow=1: a followed stream sends every event as it comes"))
		return
	}
	after, err := streamStart(r, st, f)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s := &eventStream{w: w, ctl: http.NewResponseController(w)}
	// A server-wide write timeout must not cut a stream that is meant to
	// last; each write gets its own deadline instead (s.send). The last
	// one is cleared so that it cannot outlive this request on a
	// connection that is kept alive.
	defer s.setWriteDeadline(r, time.Time{})

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(&s.buf, ": events after %d\nid: %d\n\n", after, after)
	if err := s.send(r); err != nil {
		noteError(r, fmt.Errorf("start event stream: %w", err))
		return
	}

	ctx := r.Context()
	poll := time.NewTicker(eventPollInterval)
	defer poll.Stop()
	keepAlive := time.NewTicker(eventKeepAlive)
	defer keepAlive.Stop()
	for {
		if err := s.sendNew(r, st, f, &after); err != nil {
			if ctx.Err() == nil {
				noteError(r, fmt.Errorf("stream events after %d: %w", after, err))
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
		case <-keepAlive.C:
			s.buf.WriteString(": keep-alive\n\n")
			if err := s.send(r); err != nil {
				if ctx.Err() == nil {
					noteError(r, fmt.Errorf("stream events after %d: keep-alive: %w", after, err))
				}
				return
			}
		}
	}
}

// streamStart returns the Seq a followed stream starts after (see
// streamEvents).
func streamStart(r *http.Request, st stamp.EventLog, f stamp.EventFilter) (int64, error) {
	if s := r.Header.Get("Last-Event-ID"); s != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || n < 0 {
			return 0, stamp.Errorf(stamp.EINVALID, "header Last-Event-ID %q is not a sequence number (a non-negative integer)", s)
		}
		return n, nil
	}
	if r.URL.Query().Get("after") != "" {
		return f.AfterSeq, nil
	}
	seq, err := st.LastEventSeq(r.Context())
	if err != nil {
		return 0, fmt.Errorf("start event stream: %w", err)
	}
	return seq, nil
}

// eventStream writes one followed stream.
type eventStream struct {
	w   http.ResponseWriter
	ctl *http.ResponseController
	buf bytes.Buffer // what the next send writes
}

// sendNew sends the events f selects after *after, a page at a time, and
// moves *after past them.
func (s *eventStream) sendNew(r *http.Request, st stamp.EventLog, f stamp.EventFilter, after *int64) error {
	for {
		f.AfterSeq, f.Limit = *after, maxEventLimit
		events, err := st.ListEvents(r.Context(), f)
		if err != nil {
			return fmt.Errorf("list events: %w", err)
		}
		for _, e := range events {
			data, err := json.Marshal(e)
			if err != nil {
				return fmt.Errorf("encode event %d: %w", e.Seq, err)
			}
			fmt.Fprintf(&s.buf, "id: %d\n", e.Seq)
			// A type is one of the stamp.Event* names; a line break in one
			// would end the field early and garble the stream.
			if e.Type != "" && !strings.ContainsAny(e.Type, "\r\n") {
				fmt.Fprintf(&s.buf, "event: %s\n", e.Type)
			}
			fmt.Fprintf(&s.buf, "data: %s\n\n", data)
		}
		if len(events) > 0 {
			if err := s.send(r); err != nil {
				return err
			}
			*after = events[len(events)-1].Seq
		}
		if len(events) < maxEventLimit {
			return nil
		}
	}
}

// send writes what is buffered and flushes it to the client, within
// eventWriteWait: a client that stops reading ends the stream rather than
// holding it forever.
func (s *eventStream) send(r *http.Request) error {
	s.setWriteDeadline(r, time.Now().Add(eventWriteWait))
	_, err := s.w.Write(s.buf.Bytes())
	s.buf.Reset()
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if err := s.ctl.Flush(); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	return nil
}

// setWriteDeadline sets the connection's write deadline; a writer that
// cannot have one (ErrNotSupported) streams without.
func (s *eventStream) setWriteDeadline(r *http.Request, t time.Time) {
	if err := s.ctl.SetWriteDeadline(t); err != nil && !errors.Is(err, http.ErrNotSupported) {
		noteError(r, fmt.Errorf("set write deadline: %w", err))
	}
}

// handleTenantLogs streams a service's logs as plain text, flushing as
// output arrives: all the driver keeps, or with ?tail=N the last N lines
// of each instance; with ?follow=1 it keeps going until the client leaves.
func handleTenantLogs(st stamp.TenantStore, logs stamp.LogReader) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if logs == nil {
			writeError(w, r, stamp.Errorf(stamp.EUNAVAILABLE, "logs are not available"))
			return
		}
		q := r.URL.Query()
		service := q.Get("service")
		if service == "" {
			service = "web"
		}
		follow, err := followParam(q)
		if err != nil {
			writeError(w, r, err)
			return
		}
		tail, err := tailParam(q)
		if err != nil {
			writeError(w, r, err)
			return
		}
		t, err := getTenant(r.Context(), st, r.PathValue("name"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		rc, err := logs.Logs(r.Context(), t.Name, service, stamp.LogOptions{Tail: tail, Follow: follow})
		if err != nil {
			writeError(w, r, fmt.Errorf("logs of %s of %s: %w", service, t.Name, err))
			return
		}
		defer rc.Close()

		ctl := http.NewResponseController(w)
		if follow {
			// A server-wide write timeout must not cut a followed stream.
			if err := ctl.SetWriteDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
				noteError(r, fmt.Errorf("clear write deadline: %w", err))
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		// Send the headers now: a follower waits for them before reading.
		if err := ctl.Flush(); err != nil {
			noteError(r, fmt.Errorf("flush logs of %s of %s: %w", service, t.Name, err))
			return
		}
		if err := copyFlushing(w, ctl, rc); err != nil && r.Context().Err() == nil {
			noteError(r, fmt.Errorf("stream logs of %s of %s: %w", service, t.Name, err))
		}
	})
}

// copyFlushing copies src to w, flushing after every read so that a
// follower sees each line as it is written.
func copyFlushing(w io.Writer, ctl *http.ResponseController, src io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if ferr := ctl.Flush(); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// sseMessage is one message of a server-sent event stream, read by
// sseDecoder.
type sseMessage struct {
	// id is the stream's last event ID once the message is read: it
	// carries over from earlier messages unless this one sets it.
	id string
	// event is the event type, "message" when the stream named none.
	event string
	data  string
	// dispatch is false for a message without data, which only sets id
	// (the stream's starting position, say) and is no event.
	dispatch bool
}

// maxEventLine bounds one line of an event stream, an event's JSON: its
// message may quote a failing process's output at length.
const maxEventLine = 8 << 20

// sseDecoder reads a text/event-stream as the HTML standard's
// server-sent events section says: lines end in LF, CR LF or CR; a line
// starting with a colon is a comment (the keep-alives); "field: value"
// sets a field (one space after the colon is dropped); a blank line ends
// the message. Fields other than id, event and data (retry) are ignored:
// the Client reconnects on its own schedule.
type sseDecoder struct {
	sc     *bufio.Scanner
	lastID string
	begun  bool
}

func newSSEDecoder(r io.Reader) *sseDecoder {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventLine)
	sc.Split(scanSSELines)
	return &sseDecoder{sc: sc}
}

// next returns the next message that sets the id or carries data. At the
// end of the stream it returns io.EOF, dropping a message the end cut off
// (as the standard says), or the read error; a line over maxEventLine is
// bufio.ErrTooLong.
func (d *sseDecoder) next() (sseMessage, error) {
	var (
		m     sseMessage
		data  strings.Builder
		sawID bool
	)
	for d.sc.Scan() {
		line := d.sc.Text()
		if !d.begun {
			d.begun = true
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if line == "" {
			switch {
			case m.dispatch:
				m.id = d.lastID
				m.data = strings.TrimSuffix(data.String(), "\n")
				if m.event == "" {
					m.event = "message"
				}
				return m, nil
			case sawID:
				return sseMessage{id: d.lastID}, nil
			}
			m = sseMessage{}
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			m.event = value
		case "data":
			data.WriteString(value)
			data.WriteByte('\n')
			m.dispatch = true
		case "id":
			if !strings.ContainsRune(value, 0) {
				d.lastID, sawID = value, true
			}
		}
	}
	if err := d.sc.Err(); err != nil {
		return sseMessage{}, err
	}
	return sseMessage{}, io.EOF
}

// scanSSELines is a bufio.SplitFunc for the line breaks of an event
// stream: LF, CR LF or a lone CR.
func scanSSELines(data []byte, atEOF bool) (advance int, token []byte, err error) {
	i := bytes.IndexAny(data, "\r\n")
	switch {
	case i < 0:
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	case data[i] == '\n':
		return i + 1, data[:i], nil
	case i+1 < len(data):
		if data[i+1] == '\n' {
			return i + 2, data[:i], nil
		}
		return i + 1, data[:i], nil
	case atEOF:
		return i + 1, data[:i], nil
	}
	return 0, nil, nil // a CR last: wait to see whether an LF follows
}

// The pause before FollowEvents reconnects grows from followRetryMin to
// followRetryMax while reconnects fail.
const (
	followRetryMin = 500 * time.Millisecond
	followRetryMax = 15 * time.Second
)

// stopFollowing wraps an error that ends FollowEvents rather than leading
// to a reconnect.
type stopFollowing struct{ err error }

func (e *stopFollowing) Error() string { return e.err.Error() }

// readFunc is an io.Reader made of a function.
type readFunc func(p []byte) (int, error)

func (f readFunc) Read(p []byte) (int, error) { return f(p) }
