package router

import (
	"encoding/json"
	"html/template"
	"net/http"
	"strings"

	"github.com/stamphq/stamp"
)

// writeError answers with status and e's message, in the form the client
// asked for. The rule is deliberately simple: JSON if Accept mentions
// application/json (API clients, fetch), HTML if it mentions text/html
// (browsers), plain text otherwise (curl, probes).
func writeError(w http.ResponseWriter, req *http.Request, status int, e *stamp.Error) {
	writePage(w, req, status, pageTitles[status], e)
}

// writePage is writeError with the HTML page's title.
func writePage(w http.ResponseWriter, req *http.Request, status int, title string, e *stamp.Error) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	accept := strings.Join(req.Header.Values("Accept"), ",")
	switch {
	case strings.Contains(accept, "application/json"):
		h.Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(errorBody{Error: errorDetail{Code: e.Code, Message: e.Message}})
	case strings.Contains(accept, "text/html"):
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		_ = errorPage.Execute(w, pageData{
			Status:  status,
			Title:   title,
			Message: e.Message,
			Refresh: h.Get("Retry-After"),
		})
	default:
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(e.Message + "\n"))
	}
	// Write errors mean the client went away; there is no one left to tell.
}

// errorBody is the JSON error shape of the whole API.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

var pageTitles = map[int]string{
	http.StatusNotFound:           "Nothing here",
	http.StatusBadGateway:         "Not answering",
	http.StatusServiceUnavailable: "Not ready yet",
	http.StatusGatewayTimeout:     "Too slow to answer",
}

type pageData struct {
	Status  int
	Title   string
	Message string
	Refresh string // seconds; the page reloads itself when the answer may change
}

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{{- if .Refresh}}
<meta http-equiv="refresh" content="{{.Refresh}}">
{{- end}}
<title>{{.Title}} · Stamp</title>
<style>
body{margin:0;min-height:100vh;display:grid;place-items:center;background:#f5f6f8;color:#1f2328;font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif}
main{max-width:34rem;margin:1rem;padding:2rem 2.25rem;background:#fff;border:1px solid #e3e5e8;border-radius:10px}
h1{margin:0 0 .5rem;font-size:1.3rem}
p{margin:0;color:#454b52}
footer{margin-top:1.5rem;color:#8a9099;font-size:.85rem}
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
<footer>{{.Status}}{{if .Refresh}} · this page retries on its own{{end}} · Stamp</footer>
</main>
</body>
</html>
`))
