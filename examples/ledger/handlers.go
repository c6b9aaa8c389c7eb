package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

const (
	maxBodyBytes = 1 << 20          // request bodies above 1 MiB are refused
	drainTimeout = 10 * time.Second // how long shutdown waits for in-flight requests
)

// config is what serve reads from the environment besides the address and
// the database. $SESSION_KEY is accepted but unused: the example has no
// sessions, and the secret must never be logged. A bind replaces tenant
// and currency while the app serves (see bind.go).
type config struct {
	release  int    // the release served, from the build
	tenant   string // $TENANT (else $STAMP_TENANT), shown on the home page
	currency string // $CURRENCY, used when the settings name none
	// bindToken is $STAMP_BIND_TOKEN, which a bind request must carry;
	// empty refuses every bind.
	bindToken string
	// started holds the fixedVars as serve read them at start.
	started map[string]string
}

// serveCmd is `ledger serve`: it serves HTTP on $HOST:$PORT until ctx ends,
// then stops accepting connections, drains in-flight requests for up to
// drainTimeout and closes the database.
func serveCmd(ctx context.Context, rel int, args []string, getenv func(string) string, stderr io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("serve takes no arguments, got %q", args)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	port := getenv("PORT")
	if port == "" {
		return errors.New("PORT is not set: serve needs the port to listen on")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("PORT %q is not a port number", port)
	}
	host := getenv("HOST")
	if host == "" {
		host = "127.0.0.1"
	}
	cfg := config{release: rel, bindToken: getenv("STAMP_BIND_TOKEN"), started: make(map[string]string)}
	for _, k := range fixedVars {
		cfg.started[k] = getenv(k)
	}
	if err := cfg.readTenant(getenv); err != nil {
		return err
	}

	db, d, err := openDB(getenv("DATABASE_URL"))
	if err != nil {
		return err
	}
	defer db.Close()
	if err := checkMigrated(ctx, db, d, rel); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           newServer(db, log, cfg),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String(), "tenant", cfg.tenant, "release", rel)

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "drain_timeout", drainTimeout)
	drainCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
	defer cancel()
	if err := srv.Shutdown(drainCtx); err != nil {
		srv.Close()
		return fmt.Errorf("drain requests: %w", err)
	}
	log.Info("stopped")
	return nil
}

// releaseHeader names the release that served a response, on every
// response, so a test of a blue/green upgrade can tell which version
// answered each request.
const releaseHeader = "Ledger-Release"

// newServer returns the whole HTTP surface of release cfg.release of
// ledger. Handlers that read the tenant's config load it for each
// request: a bind swaps it.
func newServer(db *sql.DB, log *slog.Logger, cfg config) http.Handler {
	cur := new(atomic.Pointer[config])
	cur.Store(&cfg)
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", handleHealthz(db, cfg.release))
	mux.Handle("GET /version", handleVersion(cfg.release))
	mux.Handle("POST /stamp/bind", handleBind(cur))
	mux.Handle("GET /{$}", handleIndex(db, cur))
	mux.Handle("GET /api/customers", handleListCustomers(db))
	mux.Handle("POST /api/customers", handleCreateCustomer(db))
	mux.Handle("/api/customers", handleMethodNotAllowed())
	mux.Handle("GET /api/invoices", handleListInvoices(db, cfg.release))
	mux.Handle("POST /api/invoices", handleCreateInvoice(db, cur))
	mux.Handle("/api/invoices", handleMethodNotAllowed())
	release := strconv.Itoa(cfg.release)
	return logRequests(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(releaseHeader, release)
		mux.ServeHTTP(w, r)
	}))
}

// handleHealthz answers 200 "ok (release N)" while the database answers a
// ping. Release 3 always answers 500: it is deliberately broken, so that
// Stamp's rollback tests have an upgrade that fails its health check after
// its migration has run.
func handleHealthz(db *sql.DB, rel int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if rel == releaseBroken {
			const broken = "release 3 is deliberately broken for rollback tests"
			requestLogOf(r).err = errors.New(broken)
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, broken)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := db.PingContext(ctx); err != nil {
			requestLogOf(r).err = fmt.Errorf("ping database: %w", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "database unavailable")
			return
		}
		fmt.Fprintf(w, "ok (release %d)", rel)
	})
}

// handleVersion answers {"release": N}, the release this binary was built
// as.
func handleVersion(rel int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int{"release": rel})
	})
}

var indexPage = template.Must(template.New("index").Funcs(template.FuncMap{"money": money}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Tenant}} · Ledger</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; color: #222; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
  h1 { margin-bottom: 0; }
  .muted { color: #777; }
  table { border-collapse: collapse; width: 100%; margin-top: 1.5rem; }
  th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #e4e4e4; }
  th { font-weight: 600; color: #555; }
  .num { text-align: right; font-variant-numeric: tabular-nums; }
</style>
</head>
<body>
<h1>{{.Tenant}}</h1>
<p class="muted">Ledger · default currency {{.Currency}}</p>
{{- if .Invoices}}
<table>
<thead><tr><th>#</th><th>Customer</th><th class="num">Amount</th><th>Status</th>{{if .DueDates}}<th>Due</th>{{end}}</tr></thead>
<tbody>
{{- range .Invoices}}
<tr><td>{{.ID}}</td><td>{{.CustomerName}}</td><td class="num">{{money .AmountCents}} {{.Currency}}</td><td>{{.Status}}</td>{{if $.DueDates}}<td>{{.DueOn}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
{{- else}}
<p>No invoices yet.</p>
{{- end}}
</body>
</html>
`))

// money formats an amount in cents as units with two decimals.
func money(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

// handleIndex serves the home page: the tenant and its invoices.
func handleIndex(db *sql.DB, cur *atomic.Pointer[config]) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cfg := cur.Load()
		currency, err := defaultCurrency(r.Context(), db, cfg)
		if err != nil {
			internalError(w, r, err)
			return
		}
		invs, err := listInvoices(r.Context(), db, cfg.release)
		if err != nil {
			internalError(w, r, err)
			return
		}
		tenant := cfg.tenant
		if tenant == "" {
			tenant = "Ledger"
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		data := struct {
			Tenant, Currency string
			Invoices         []invoice
			DueDates         bool
		}{tenant, currency, invs, cfg.release >= releaseDueDates}
		if err := indexPage.Execute(w, data); err != nil {
			requestLogOf(r).err = fmt.Errorf("render home page: %w", err)
		}
	})
}

func handleListCustomers(db *sql.DB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cs, err := listCustomers(r.Context(), db)
		if err != nil {
			internalError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, cs)
	})
}

func handleCreateCustomer(db *sql.DB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Name  string `json:"name"`
			Email string `json:"email"`
		}
		if !decodeJSON(w, r, &in) {
			return
		}
		c := customer{Name: strings.TrimSpace(in.Name), Email: strings.TrimSpace(in.Email)}
		switch {
		case c.Name == "":
			writeError(w, http.StatusBadRequest, "name is required")
			return
		case len(c.Name) > 200:
			writeError(w, http.StatusBadRequest, "name is longer than 200 bytes")
			return
		case c.Email == "":
			writeError(w, http.StatusBadRequest, "email is required")
			return
		case len(c.Email) > 254 || !emailPattern.MatchString(c.Email):
			writeError(w, http.StatusBadRequest, fmt.Sprintf("email %q is not an email address", c.Email))
			return
		}
		c, err := insertCustomer(r.Context(), db, c)
		if err != nil {
			internalError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, c)
	})
}

func handleListInvoices(db *sql.DB, rel int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		invs, err := listInvoices(r.Context(), db, rel)
		if err != nil {
			internalError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, invs)
	})
}

// invoiceRequest is the body of POST /api/invoices in every release.
type invoiceRequest struct {
	CustomerID  int64  `json:"customer_id"`
	AmountCents int64  `json:"amount_cents"`
	Currency    string `json:"currency"`
}

func handleCreateInvoice(db *sql.DB, cur *atomic.Pointer[config]) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cfg := cur.Load()
		var in struct {
			invoiceRequest
			DueOn string `json:"due_on"`
		}
		body := any(&in)
		if cfg.release < releaseDueDates {
			body = &in.invoiceRequest // so due_on is refused as an unknown field
		}
		if !decodeJSON(w, r, body) {
			return
		}
		today := time.Now().UTC().Format(time.DateOnly)
		switch {
		case in.CustomerID <= 0:
			writeError(w, http.StatusBadRequest, "customer_id must be a positive integer")
			return
		case in.AmountCents <= 0:
			writeError(w, http.StatusBadRequest, "amount_cents must be a positive integer")
			return
		case in.Currency != "" && !currencyPattern.MatchString(in.Currency):
			writeError(w, http.StatusBadRequest, fmt.Sprintf("currency %q is not a three-letter code such as EUR", in.Currency))
			return
		case in.DueOn != "" && !isDate(in.DueOn):
			writeError(w, http.StatusBadRequest, fmt.Sprintf("due_on %q is not a date such as 2025-01-31", in.DueOn))
			return
		case in.DueOn != "" && in.DueOn < today:
			writeError(w, http.StatusBadRequest, fmt.Sprintf("due_on %s is before today (%s, UTC)", in.DueOn, today))
			return
		}
		inv := invoice{CustomerID: in.CustomerID, AmountCents: in.AmountCents, Currency: in.Currency, DueOn: in.DueOn}
		if inv.Currency == "" {
			var err error
			if inv.Currency, err = defaultCurrency(r.Context(), db, cfg); err != nil {
				internalError(w, r, err)
				return
			}
		}
		inv, err := insertInvoice(r.Context(), db, cfg.release, inv)
		if errors.Is(err, errUnknownCustomer) {
			writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("customer %d does not exist", in.CustomerID))
			return
		}
		if err != nil {
			internalError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, inv)
	})
}

// handleMethodNotAllowed answers every method the collection routes lack.
func handleMethodNotAllowed() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, HEAD, POST")
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed: use GET or POST", r.Method))
	})
}

// isDate reports whether s is a date in the form YYYY-MM-DD.
func isDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

// defaultCurrency is the currency of an invoice that names none: the
// tenant's currency setting, else $CURRENCY, else EUR.
func defaultCurrency(ctx context.Context, db *sql.DB, cfg *config) (string, error) {
	c, err := setting(ctx, db, "currency")
	switch {
	case err != nil:
		return "", err
	case c != "":
		return c, nil
	case cfg.currency != "":
		return cfg.currency, nil
	default:
		return "EUR", nil
	}
}

// decodeJSON reads the request body, at most maxBodyBytes of one JSON object,
// into v. On failure it writes a 400 or 413 answer and returns false.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(new(json.RawMessage)) != io.EOF {
		err = errors.New("request body holds more than one JSON value")
	}
	if err == nil {
		return true
	}
	var tooLarge *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "request body is larger than 1 MiB")
	case errors.Is(err, io.EOF):
		writeError(w, http.StatusBadRequest, "request body is empty: want a JSON object")
	case errors.As(err, &typeErr) && typeErr.Field == "":
		writeError(w, http.StatusBadRequest, "request body must be a JSON object")
	case errors.As(err, &typeErr):
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%s must be %s, got %s", typeErr.Field, jsonKind(typeErr.Type.Kind()), typeErr.Value))
	default:
		writeError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "json: "))
	}
	return false
}

// jsonKind names a field's Go kind the way a JSON client thinks of it.
func jsonKind(k reflect.Kind) string {
	if k == reflect.Int64 {
		return "an integer"
	}
	return "a " + k.String()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// internalError answers 500 without details; the error itself reaches the
// log through the request's log line.
func internalError(w http.ResponseWriter, r *http.Request, err error) {
	requestLogOf(r).err = err
	writeError(w, http.StatusInternalServerError, "internal error")
}

// requestLog collects what the log line of one request reports.
type requestLog struct {
	http.ResponseWriter
	status int
	err    error
}

func (l *requestLog) WriteHeader(status int) {
	if l.status == 0 {
		l.status = status
	}
	l.ResponseWriter.WriteHeader(status)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (l *requestLog) Unwrap() http.ResponseWriter { return l.ResponseWriter }

func (l *requestLog) Write(b []byte) (int, error) {
	if l.status == 0 {
		l.status = http.StatusOK
	}
	return l.ResponseWriter.Write(b)
}

type requestLogKey struct{}

// requestLogOf returns the log record of r, so a handler can attach the error
// behind a 5xx answer.
func requestLogOf(r *http.Request) *requestLog {
	if l, ok := r.Context().Value(requestLogKey{}).(*requestLog); ok {
		return l
	}
	return &requestLog{}
}

// logRequests writes one line per request: method, path, status, duration,
// and the error behind a failure. Passing health checks, which the
// supervisor sends every second, are logged at debug level only.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &requestLog{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), requestLogKey{}, rec)))
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		level := slog.LevelInfo
		switch {
		case rec.err != nil || rec.status >= 500:
			level = slog.LevelError
		case r.URL.Path == "/healthz" && rec.status == http.StatusOK:
			level = slog.LevelDebug
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Duration("duration", time.Since(start)),
		}
		if rec.err != nil {
			attrs = append(attrs, slog.String("err", rec.err.Error()))
		}
		log.LogAttrs(r.Context(), level, "request", attrs...)
	})
}
