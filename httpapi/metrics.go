package httpapi

import (
	"net/http"
	"time"
)

// Metrics is what the API reports its requests to and serves at
// GET /metrics (behind the bearer token, like /v1). Package metrics
// implements it, so the API links no metrics library of its own.
type Metrics interface {
	// ObserveRequest records one answered request: route is the pattern
	// that matched it ("GET /v1/tenants/{name}"), "" if none did; status
	// is the status sent; d runs from the request's arrival until its
	// handler returned, so a followed stream (logs -f, events -f) counts
	// its whole life.
	ObserveRequest(route string, status int, d time.Duration)
	// ServeHTTP writes every metric in the Prometheus text format.
	http.Handler
}

// observeRequests reports every request h serves to m, with the pattern
// of mux that matches it; with a nil m it returns h as it is. The pattern
// is looked up again rather than read after serving because h hands mux a
// copy of the request, and it is the copy that the mux stamps.
func observeRequests(m Metrics, mux *http.ServeMux, h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		_, route := mux.Handler(r)
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		m.ObserveRequest(route, status, time.Since(start))
	})
}

// statusWriter remembers the status a handler sent.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the real writer to flush.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
