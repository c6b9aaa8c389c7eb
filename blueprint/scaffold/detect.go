// Package scaffold writes a first stamp.yaml for an app that has none: it
// reads hints from the app's directory (a Go module, package.json,
// requirements.txt or pyproject.toml, a Procfile, a Dockerfile's CMD and
// EXPOSE) and fills a commented template with them. What it cannot know
// (the app's flags, its health path, its migrate command) it leaves as
// comments that say what to write.
package scaffold

import (
	"bufio"
	"encoding/json"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// Hints are what Detect found about an app. Empty fields were not found.
type Hints struct {
	// Name is a DNS label for the blueprint, from the Go module path,
	// package.json or the directory's name.
	Name string
	// Stack is "go", "node", "python" or "" when unknown.
	Stack string
	// Build is the command that builds the app, run in the blueprint's
	// directory at push.
	Build []string
	// Command starts the app's web process.
	Command []string
	// Migrate is a release step (a Procfile's release line).
	Migrate []string
	// Port is a port the app is known to listen on (a Dockerfile's
	// EXPOSE), 0 if none.
	Port int
	// Requires are the commands the app needs on the host to run (a Go
	// app's compiler is needed at push only, where the build runs).
	Requires []string
	// Sources names the files the hints came from, for the header comment.
	Sources []string
}

// Where says where the blueprint's directory and the app's directory are,
// relative to each other, for the build commands.
type Where struct {
	// App is the app's directory relative to the blueprint's ("." when
	// the blueprint sits in the app's own directory).
	App string
	// Blueprint is the blueprint's directory relative to the app's.
	Blueprint string
	// AppName is the app directory's base name, the fallback for the
	// blueprint's name.
	AppName string
}

// Detect reads hints from the app directory fsys.
func Detect(fsys fs.FS, w Where) Hints {
	h := Hints{Name: label(w.AppName)}
	if h.Name == "" {
		h.Name = "app"
	}
	detectGo(fsys, w, &h)
	detectNode(fsys, w.App, &h)
	detectPython(fsys, &h)
	detectDockerfile(fsys, &h)
	detectProcfile(fsys, &h)
	return h
}

func detectGo(fsys fs.FS, w Where, h *Hints) {
	data, err := fs.ReadFile(fsys, "go.mod")
	if err != nil {
		return
	}
	h.Sources = append(h.Sources, "go.mod")
	h.Stack = "go"
	for line := range strings.Lines(string(data)) {
		if mod, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			if n := label(path.Base(strings.Trim(strings.TrimSpace(mod), `"`))); n != "" {
				h.Name = n
			}
			break
		}
	}
	h.Command = []string{"bin/" + h.Name}
	if w.App == "." {
		h.Build = []string{"go", "build", "-o", "bin/" + h.Name, "."}
		return
	}
	// go build works inside the app's module only: -C moves there, and
	// the binary is written back into the blueprint's directory.
	h.Build = []string{"go", "build", "-C", w.App, "-o", path.Join(w.Blueprint, "bin", h.Name), "."}
}

func detectNode(fsys fs.FS, src string, h *Hints) {
	data, err := fs.ReadFile(fsys, "package.json")
	if err != nil {
		return
	}
	h.Sources = append(h.Sources, "package.json")
	var pkg struct {
		Name    string            `json:"name"`
		Main    string            `json:"main"`
		Scripts map[string]string `json:"scripts"`
	}
	if json.Unmarshal(data, &pkg) != nil {
		return
	}
	if h.Stack == "" {
		h.Stack = "node"
		if n := label(path.Base(pkg.Name)); n != "" {
			h.Name = n
		}
	}
	h.Requires = append(h.Requires, "node")
	if h.Build == nil {
		install := []string{"npm", "ci", "--omit=dev"}
		if _, err := fs.Stat(fsys, "package-lock.json"); err != nil {
			install[1] = "install"
		}
		if src != "." {
			install = append(install, "--prefix", src)
		}
		h.Build = install
	}
	if h.Command == nil && pkg.Main != "" {
		h.Command = []string{"node", path.Join(src, pkg.Main)}
	}
	if h.Command == nil && pkg.Scripts["start"] != "" {
		h.Command = strings.Fields(pkg.Scripts["start"])
	}
}

func detectPython(fsys fs.FS, h *Hints) {
	found := false
	for _, f := range []string{"requirements.txt", "pyproject.toml"} {
		if _, err := fs.Stat(fsys, f); err == nil {
			h.Sources = append(h.Sources, f)
			found = true
		}
	}
	if !found {
		return
	}
	if h.Stack == "" {
		h.Stack = "python"
	}
	minimum := "python3"
	if data, err := fs.ReadFile(fsys, "pyproject.toml"); err == nil {
		if m := requiresPythonRE.FindSubmatch(data); m != nil {
			minimum += " >= " + string(m[1])
		}
	}
	h.Requires = append(h.Requires, minimum)
}

// requiresPythonRE reads the lower bound of pyproject.toml's
// requires-python, e.g. ">=3.11".
var requiresPythonRE = regexp.MustCompile(`(?m)^\s*requires-python\s*=\s*["']\s*>=\s*([0-9]+(?:\.[0-9]+){0,2})`)

func detectDockerfile(fsys fs.FS, h *Hints) {
	f, err := fsys.Open("Dockerfile")
	if err != nil {
		return
	}
	defer f.Close()
	h.Sources = append(h.Sources, "Dockerfile")
	var cmd, entrypoint []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		instr, rest, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		switch strings.ToUpper(instr) {
		case "EXPOSE":
			for _, p := range strings.Fields(rest) {
				p, _, _ = strings.Cut(p, "/")
				if n, err := strconv.Atoi(p); err == nil && n > 0 && n < 65536 && h.Port == 0 {
					h.Port = n
				}
			}
		case "CMD":
			cmd = dockerArgs(rest)
		case "ENTRYPOINT":
			entrypoint = dockerArgs(rest)
		}
	}
	if h.Command == nil && len(entrypoint)+len(cmd) > 0 {
		h.Command = append(entrypoint, cmd...)
	}
}

// dockerArgs reads a CMD or ENTRYPOINT in exec form (a JSON array) or
// shell form (split on spaces: a hint, not a shell).
func dockerArgs(s string) []string {
	s = strings.TrimSpace(s)
	var args []string
	if strings.HasPrefix(s, "[") && json.Unmarshal([]byte(s), &args) == nil {
		return args
	}
	return strings.Fields(s)
}

func detectProcfile(fsys fs.FS, h *Hints) {
	data, err := fs.ReadFile(fsys, "Procfile")
	if err != nil {
		return
	}
	h.Sources = append(h.Sources, "Procfile")
	for line := range strings.Lines(string(data)) {
		kind, cmd, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		args := strings.Fields(cmd)
		switch strings.TrimSpace(kind) {
		case "web":
			h.Command = args
		case "release":
			h.Migrate = args
		}
	}
}

// label turns s into a DNS label: lower case, runs of other characters as
// one "-", trimmed to 63 characters. It returns "" if nothing is left.
func label(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		default:
			dash = true
		}
	}
	out := b.String()
	if len(out) > 63 {
		out = strings.TrimRight(out[:63], "-")
	}
	return out
}
