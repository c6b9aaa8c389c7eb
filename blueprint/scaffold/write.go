package scaffold

import (
	"bytes"
	"encoding/json"
	"strings"
	"text/template"
)

// Write returns a commented stamp.yaml for h. It parses as it is (every
// value it cannot know has a working default or is a comment), so that
// `stamp blueprint lint` passes before the first edit.
func Write(h Hints) []byte {
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, view{h}); err != nil {
		panic("scaffold template: " + err.Error()) // the template is fixed: a bug
	}
	return buf.Bytes()
}

// view adds the template's formatting to Hints.
type view struct{ Hints }

// Flow writes args as a YAML flow sequence of double-quoted strings, with
// a shell's $PORT turned into ${port} (or ${listen} when an address is
// made of it) and any other "${" escaped, since a blueprint would read it
// as a reference.
func (view) Flow(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		b, _ := json.Marshal(portVars(a)) // a string always marshals
		quoted[i] = string(b)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// portVars rewrites the shell spellings of the port a platform gives
// into blueprint variables.
func portVars(a string) string {
	for _, p := range []string{"$PORT", "${PORT}"} {
		for _, host := range []string{"0.0.0.0:", "127.0.0.1:", "[::]:", ":"} {
			a = strings.ReplaceAll(a, host+p, "\x00listen\x00")
		}
		a = strings.ReplaceAll(a, p, "\x00port\x00")
	}
	a = strings.ReplaceAll(a, "${", "$${")
	a = strings.ReplaceAll(a, "\x00listen\x00", "${listen}")
	return strings.ReplaceAll(a, "\x00port\x00", "${port}")
}

var tmpl = template.Must(template.New("stamp.yaml").Parse(`# stamp.yaml for {{.Name}}, written by ` + "`stamp blueprint init`" + `.
{{- if .Sources}}
# Hints came from: {{range $i, $s := .Sources}}{{if $i}}, {{end}}{{$s}}{{end}}.
{{- else}}
# No hints were found: fill in build, command and hooks below.
{{- end}}
# Every field is described in docs/blueprints.md. Check it with
# ` + "`stamp blueprint lint .`" + ` and push it with ` + "`stamp blueprint push .`" + `.
name: {{.Name}}
version: 0.1.0
description: {{.Name}}, one copy per customer

# Per-tenant inputs, given at create (--param k=v). A parameter with
# secret: true is stored and shown like a secret.
parameters:
  admin_email: { default: admin@example.com }

# Size classes: memory, cpu, pids bound all of a tenant's processes together.
plans:
  starter: { memory: 256Mi, cpu: 0.5, pids: 256, replicas: 1 }
default_plan: starter

# Each tenant gets its own database. ${db.main.url} is its URL: a sqlite:
# path, or a postgres:// URL with engine: postgres.
databases:
  main: { engine: sqlite }

# Random per tenant, generated at create: ${secret.session_key}.
secrets:
  session_key: { generate: 32 }
{{if .Requires}}
# Commands the host must provide; push and ` + "`stamp server --check`" + ` say what is missing.
requires: {{.Flow .Requires}}
{{end}}
{{- if .Build}}
# Run in this directory by ` + "`stamp blueprint push`" + ` before packing it.
build: {{.Flow .Build}}
{{else}}
# build: [make, app]   # run by ` + "`stamp blueprint push`" + ` before packing
{{end}}
services:
  web:
    # Relative to the bundle, or looked up in PATH. The app learns its
    # address from ${listen} (host:port), ${host} and ${port}, or from PORT.
{{- if .Command}}
    command: {{.Flow .Command}}
{{- else}}
    command: [bin/{{.Name}}, serve]
{{- end}}
    # The port the app listens on. The local driver gives each instance
    # its own address and passes it as ${listen}, ${host} and ${port} (and
    # PORT); where tenants have network namespaces, an app that ignores
    # them and keeps this port works too.
{{- if .Port}} (The Dockerfile EXPOSEs {{.Port}}.){{end}}
    port: {{if .Port}}{{.Port}}{{else}}8080{{end}}
    public: true
    env:
      DATABASE_URL: ${db.main.url}
      SESSION_KEY: ${secret.session_key}
      BASE_URL: ${tenant.url}
    health: { http: /healthz, interval: 2s, timeout: 2s }   # a path that answers 200 when ready

hooks:
{{- if .Migrate}}
  migrate: {{.Flow .Migrate}}
{{- else}}
  # migrate: [bin/{{.Name}}, migrate]   # before start, on create and on every upgrade
{{- end}}
  # seed: [bin/{{.Name}}, seed, --admin, "${param.admin_email}"]   # once, on create
`))
