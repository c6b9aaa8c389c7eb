package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/stamphq/stamp"
)

// statusByCode maps stamp error codes to HTTP statuses. Any other code,
// EINTERNAL included, is a 500 whose message never reaches the client.
var statusByCode = map[string]int{
	stamp.EINVALID:       http.StatusBadRequest,
	stamp.EUNAUTHORIZED:  http.StatusUnauthorized,
	stamp.EFORBIDDEN:     http.StatusForbidden,
	stamp.ENOTFOUND:      http.StatusNotFound,
	stamp.ECONFLICT:      http.StatusConflict,
	stamp.ETOOLARGE:      http.StatusRequestEntityTooLarge,
	stamp.EUNPROCESSABLE: http.StatusUnprocessableEntity,
	stamp.ETOOMANY:       http.StatusTooManyRequests,
	stamp.EUNAVAILABLE:   http.StatusServiceUnavailable,
}

// errorBody is the JSON of every error response.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// encode writes v as the JSON response with status. It marshals before
// writing so that a value that cannot be encoded still gets a clean 500.
func encode[T any](w http.ResponseWriter, r *http.Request, status int, v T) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, r, fmt.Errorf("encode %T response: %w", v, err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if _, err := w.Write(append(body, '\n')); err != nil {
		noteError(r, fmt.Errorf("write response: %w", err))
	}
}

// decode reads a JSON request body into a T, strictly: unknown fields and
// trailing data are refused. Its errors are *stamp.Error.
func decode[T any](r *http.Request) (T, error) {
	var v T
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			return v, decodeError(err)
		}
		return v, stamp.Errorf(stamp.EINVALID, "malformed JSON: unexpected data after the object")
	}
	return v, nil
}

// decodeError turns a JSON decoding failure into a message for the client.
func decodeError(err error) error {
	var (
		maxErr  *http.MaxBytesError
		typeErr *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &maxErr):
		return bodyTooLarge(maxErr)
	case errors.Is(err, io.EOF):
		return stamp.Errorf(stamp.EINVALID, "request body is empty; a JSON object is expected")
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return stamp.Errorf(stamp.EINVALID, "field %q: expected %s, got a JSON %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	case stamp.ErrorCode(err) == stamp.EINVALID:
		return err // a field's own check (a duration) said what is wrong
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return stamp.Errorf(stamp.EINVALID, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return stamp.Errorf(stamp.EINVALID, "malformed JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// jsonKind names a Go kind the way a JSON user thinks of it.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "bool":
		return "a boolean"
	}
	return "a number"
}

// bodyTooLarge reports a request body over its limit.
func bodyTooLarge(err *http.MaxBytesError) error {
	return stamp.Errorf(stamp.ETOOLARGE, "request body is over the %s limit", humanBytes(err.Limit))
}

// humanBytes formats n in the largest binary unit it is at least one of.
func humanBytes(n int64) string {
	units := []struct {
		size int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}}
	for _, u := range units {
		if n >= u.size {
			if n%u.size == 0 {
				return fmt.Sprintf("%d %s", n/u.size, u.name)
			}
			return fmt.Sprintf("%.1f %s", float64(n)/float64(u.size), u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// limitBody caps the request body at n bytes. A body that says it is
// larger (Content-Length) is refused with ETOOLARGE before a byte of it is
// read, so that a client waiting on Expect: 100-continue gets the 413
// instead of sending the body first; reading past n of a body of unstated
// length fails with *http.MaxBytesError, which the handlers report as
// ETOOLARGE.
func limitBody(n int64) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return bodyLimited(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > n {
				writeError(w, r, bodyTooLarge(&http.MaxBytesError{Limit: n}))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, n)
			h.ServeHTTP(w, r)
		})
	}
}

// bodyLimited is a handler whose request body limitBody bounds.
type bodyLimited func(http.ResponseWriter, *http.Request)

// ServeHTTP calls f.
func (f bodyLimited) ServeHTTP(w http.ResponseWriter, r *http.Request) { f(w, r) }

// writeError writes err as a JSON error with the status of its code. An
// error without a stamp code is a 500 reported as "internal error"; the
// real error goes to the request's log line.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := stamp.ErrorCode(err), stamp.ErrorMessage(err)
	status, ok := statusByCode[code]
	if !ok {
		code, msg, status = stamp.EINTERNAL, "internal error", http.StatusInternalServerError
	}
	noteError(r, err)
	if st := stateOf(r.Context()); st != nil {
		st.answered = msg
	}
	body, _ := json.Marshal(errorBody{Error: errorDetail{Code: code, Message: msg}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if _, err := w.Write(append(body, '\n')); err != nil {
		noteError(r, fmt.Errorf("write error response: %w", err))
	}
}
