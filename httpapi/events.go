package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/stamphq/stamp"
)

// maxEventLimit caps how many events one request returns.
const maxEventLimit = 1000

type eventList struct {
	Events []*stamp.Event `json:"events"`
}

// handleEvents lists events of every tenant, or of ?tenant= (which may
// have been deleted already), oldest first.
func handleEvents(st stamp.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := eventFilter(r.URL.Query())
		if err != nil {
			writeError(w, r, err)
			return
		}
		f.Tenant = r.URL.Query().Get("tenant")
		f.Release = r.URL.Query().Get("release")
		listEvents(w, r, st, f)
	})
}

// handleTenantEvents lists the events of an existing tenant, oldest first.
func handleTenantEvents(st stamp.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := eventFilter(r.URL.Query())
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
		listEvents(w, r, st, f)
	})
}

func listEvents(w http.ResponseWriter, r *http.Request, st stamp.Store, f stamp.EventFilter) {
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

// handleTenantLogs streams a service's logs as plain text, flushing as
// output arrives; with ?follow=1 it keeps going until the client leaves.
func handleTenantLogs(st stamp.Store, logs stamp.LogReader) http.Handler {
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
		var follow bool
		if s := q.Get("follow"); s != "" {
			var err error
			if follow, err = strconv.ParseBool(s); err != nil {
				writeError(w, r, stamp.Errorf(stamp.EINVALID, "query parameter follow=%q is not a boolean (use 1 or 0)", s))
				return
			}
		}
		t, err := getTenant(r.Context(), st, r.PathValue("name"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		rc, err := logs.Logs(r.Context(), t.Name, service, follow)
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
