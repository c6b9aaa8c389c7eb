package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// uploadWait is how long a bundle push may take, from its headers to its
// answer: a bundle may be hundreds of MiB on a slow link, well past the
// read and write timeouts the server sets for every other request.
const uploadWait = 30 * time.Minute

// slowUpload gives each request the uploadWait to send its body and get
// its answer, in place of the server's read and write timeouts. (Followed
// streams need no such thing for reading: the server lifts the read
// deadline once a request's body is read; they set write deadlines of
// their own.)
func slowUpload(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctl := http.NewResponseController(w)
		until := time.Now().Add(uploadWait)
		setDeadline(r, "read", ctl.SetReadDeadline, until)
		setDeadline(r, "write", ctl.SetWriteDeadline, until)
		h.ServeHTTP(w, r)
	})
}

// setDeadline sets a connection deadline with set; a writer that cannot
// have one (ErrNotSupported) goes without.
func setDeadline(r *http.Request, which string, set func(time.Time) error, t time.Time) {
	if err := set(t); err != nil && !errors.Is(err, http.ErrNotSupported) {
		noteError(r, fmt.Errorf("set %s deadline: %w", which, err))
	}
}
