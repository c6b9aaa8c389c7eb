package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/stamphq/stamp"
)

// requestIDHeader carries the request id in both directions.
const requestIDHeader = "X-Request-Id"

// requestState is what a request carries for its log line.
type requestState struct {
	id  string
	err error
	// token is the token the request came with, once its route's guard
	// let it in.
	token *stamp.Token
	// answered is the error message the request was answered with.
	answered string
	// tenant is the tenant a call names in its body (a create).
	tenant string
}

// noteTenant records that r is about tenant name, for its audit record.
func noteTenant(r *http.Request, name string) {
	if st := stateOf(r.Context()); st != nil {
		st.tenant = name
	}
}

// stateOf returns the state withRequest gave r, nil if none.
func stateOf(ctx context.Context) *requestState {
	st, _ := ctx.Value(requestStateKey{}).(*requestState)
	return st
}

type requestStateKey struct{}

// noteError records err for the request's log line.
func noteError(r *http.Request, err error) {
	if st := stateOf(r.Context()); st != nil {
		st.err = errors.Join(st.err, err)
	}
}

// withRequest gives every request an id (the client's X-Request-Id if it
// is sane, else a new one), echoes it, turns the mux's own 404 and 405
// replies into JSON errors, and logs one line when the request ends: at
// debug level, or at error level with the real error for a 500. Calls
// that change something, and reveals of secrets, leave one record each in
// audit, if not nil: with their first change (see stamp.PendingAudit),
// else once answered.
func withRequest(logger *slog.Logger, audit stamp.AuditLog, anonymousRate float64, mux *http.ServeMux) http.Handler {
	anonymous := newAnonymousAudit(anonymousRate, logger)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		st := &requestState{id: r.Header.Get(requestIDHeader)}
		if !validRequestID(st.id) {
			st.id = newRequestID()
		}
		w.Header().Set(requestIDHeader, st.id)
		outer := r.Context()
		ctx := context.WithValue(outer, requestStateKey{}, st)
		var pending *stamp.PendingAudit
		if audit != nil && audited(r) {
			ctx, pending = stamp.WithPendingAudit(ctx, func() *stamp.AuditRecord { return auditRecord(r, st) })
		}
		r = r.WithContext(ctx)
		rw := &responseWriter{ResponseWriter: w, r: r}
		mux.ServeHTTP(rw, r)

		status := rw.status
		if status == 0 {
			status = http.StatusOK
		}
		if pending != nil && r.Pattern != "" && !pending.Written() && (st.token != nil || anonymous.allow(r.RemoteAddr)) {
			recordAudit(outer, audit, logger, auditRecord(r, st), status, st.answered)
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("pattern", r.Pattern),
			slog.Int("status", status),
			slog.Duration("duration", time.Since(start)),
			slog.String("request_id", st.id),
		}
		if r.Pattern == "" {
			attrs = append(attrs, slog.String("path", r.URL.Path))
		}
		tenant := r.URL.Query().Get("tenant")
		if strings.Contains(r.Pattern, "/tenants/{name}") {
			tenant = r.PathValue("name")
		}
		if tenant != "" {
			attrs = append(attrs, slog.String("tenant", tenant))
		}
		level := slog.LevelDebug
		if st.err != nil {
			attrs = append(attrs, slog.String("error", st.err.Error()))
			if status >= http.StatusInternalServerError && status != http.StatusServiceUnavailable {
				level = slog.LevelError
			}
		}
		logger.LogAttrs(r.Context(), level, "http request", attrs...)
	})
}

// validRequestID accepts ids of 1 to 128 printable ASCII characters, so a
// client cannot inject anything odd into logs or headers.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

func newRequestID() string { return randomHex(12) }

// randomHex returns 2n random hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// responseWriter records the status for the log line and replaces the
// plain-text 404 and 405 the mux writes for unknown routes with JSON.
type responseWriter struct {
	http.ResponseWriter
	r       *http.Request
	status  int
	swallow bool // the mux's plain-text body is being dropped
}

func (w *responseWriter) WriteHeader(status int) {
	if w.status != 0 {
		return
	}
	w.status = status
	// The mux leaves Pattern empty only when no route matched.
	if w.r.Pattern == "" && (status == http.StatusNotFound || status == http.StatusMethodNotAllowed) {
		w.swallow = true
		code, msg := stamp.ENOTFOUND, fmt.Sprintf("no such endpoint: %s %s", w.r.Method, w.r.URL.Path)
		if status == http.StatusMethodNotAllowed {
			code, msg = stamp.EINVALID, fmt.Sprintf("method %s is not allowed on %s (allowed: %s)", w.r.Method, w.r.URL.Path, w.Header().Get("Allow"))
		}
		body, _ := json.Marshal(errorBody{Error: errorDetail{Code: code, Message: msg}})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Del("X-Content-Type-Options")
		w.ResponseWriter.WriteHeader(status)
		w.ResponseWriter.Write(append(body, '\n'))
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.swallow {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the real writer to flush.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
