package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// helloApp is a Go web app that knows nothing of Stamp: it listens on
// $PORT on every address of its host (its own network namespace here)
// and answers /healthz, as apps made for a platform do.
const helloApp = `package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello from", os.Getenv("BASE_URL")) })
	if err := http.ListenAndServe(":"+os.Getenv("PORT"), nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`

// TestBlueprintInitRunsAnAppUnedited writes a blueprint for a Go app with
// `blueprint init --from`, then pushes it as written (its build step
// compiles the app) and stamps out a tenant that answers through the
// router at the URL the blueprint passed it.
func TestBlueprintInitRunsAnAppUnedited(t *testing.T) {
	root := t.TempDir()
	app := filepath.Join(root, "hello")
	if err := os.MkdirAll(app, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"go.mod": "module example.com/hello\n\ngo 1.26\n", "main.go": helloApp} {
		if err := os.WriteFile(filepath.Join(app, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := startStampServer(t)
	bp := filepath.Join(root, "blueprint")
	out := s.mustCLI("blueprint", "init", bp, "--from", app)
	if !strings.Contains(out, "(a go app)") {
		t.Errorf("init output = %q, want it to name the go app", out)
	}
	written, err := os.ReadFile(filepath.Join(bp, "stamp.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(written), `build: ["go", "build", "-C", "../hello", "-o", "../blueprint/bin/hello", "."]`) {
		t.Errorf("stamp.yaml does not build the app from ../hello:\n%s", written)
	}

	_, errOut, code := s.cli("blueprint", "init", bp, "--from", app)
	if code == 0 || !strings.Contains(errOut, "already exists") || !strings.Contains(errOut, "--force") {
		t.Errorf("second init: exit %d, stderr %q; want a refusal that names --force", code, errOut)
	}
	s.mustCLI("blueprint", "init", bp, "--from", app, "--force", "--name", "hi")

	s.mustCLI("blueprint", "push", bp)
	s.mustCLI("tenant", "create", "acme", "--blueprint", "hi")
	code, body := s.do("GET", "acme", "/", "")
	if code != 200 || !strings.Contains(body, "hello from http://acme.localhost:") {
		t.Errorf("GET / of acme = %d %q, want 200 with the tenant's URL", code, body)
	}

	_, errOut, code = s.cli("blueprint", "init", bp, "--from", filepath.Join(root, "nope"))
	if code == 0 || !strings.Contains(errOut, "is not a directory") {
		t.Errorf("init from a missing directory: exit %d, stderr %q", code, errOut)
	}
}
