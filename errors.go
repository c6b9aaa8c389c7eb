package stamp

import (
	"errors"
	"fmt"
)

// Error codes: each maps to one HTTP status in httpapi.
const (
	EINVALID       = "invalid"       // malformed request: 400
	EUNAUTHORIZED  = "unauthorized"  // no or bad credentials: 401
	EFORBIDDEN     = "forbidden"     // not allowed: 403
	ENOTFOUND      = "not_found"     // no such resource: 404
	ECONFLICT      = "conflict"      // duplicate or stale write: 409
	ETOOLARGE      = "too_large"     // request body over the limit: 413
	EUNPROCESSABLE = "unprocessable" // well-formed but unacceptable: 422
	ETOOMANY       = "too_many"      // over a rate limit; try again later: 429
	EUNAVAILABLE   = "unavailable"   // try again later: 503
	EINTERNAL      = "internal"      // a bug or a broken dependency: 500
)

// Error is an error meant for the user: a code and a message that is safe to
// show. Any other error reaching a client is reported as "internal error".
type Error struct {
	Code    string
	Message string
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or
// "internal error" for any other error: internal detail never reaches users.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
