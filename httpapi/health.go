package httpapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/stamphq/stamp"
)

// handleHealthz answers 200 while the process serves HTTP at all.
func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
}

// handleReadyz answers 200 when ready says so and 503 otherwise; the
// cause is logged, not shown, since this endpoint is unauthenticated.
func handleReadyz(ready func(context.Context) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ready != nil {
			if err := ready(r.Context()); err != nil {
				writeError(w, r, fmt.Errorf("%w: %w", stamp.Errorf(stamp.EUNAVAILABLE, "not ready"), err))
				return
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
}
