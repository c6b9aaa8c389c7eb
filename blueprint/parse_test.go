package blueprint

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// TestParseInvalid parses every file under testdata/invalid and compares
// the problems with the file's "# want: " lines.
func TestParseInvalid(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for line := range strings.Lines(string(data)) {
				if w, ok := strings.CutPrefix(line, "# want: "); ok {
					want = append(want, strings.TrimSuffix(w, "\n"))
				}
			}
			_, err = Parse("stamp.yaml", data)
			if err == nil {
				t.Fatalf("Parse succeeded, want:\n%s", strings.Join(want, "\n"))
			}
			if got := err.Error(); got != strings.Join(want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
			}
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("got %T, want *ValidationError", err)
			}
			if got := stamp.ErrorCode(err); got != stamp.EUNPROCESSABLE {
				t.Errorf("ErrorCode: got %q, want %q", got, stamp.EUNPROCESSABLE)
			}
			if got := stamp.ErrorMessage(err); got != err.Error() {
				t.Errorf("ErrorMessage: got %q, want %q", got, err.Error())
			}
		})
	}
}

func TestParseEmpty(t *testing.T) {
	for _, data := range []string{"", "\n\n", "# nothing\n", "~\n", "---\n"} {
		_, err := Parse("stamp.yaml", []byte(data))
		if got, want := errString(err), "stamp.yaml: empty blueprint"; got != want {
			t.Errorf("Parse(%q): got %q, want %q", data, got, want)
		}
	}
}

func TestParseFull(t *testing.T) {
	data, err := os.ReadFile("testdata/valid/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("stamp.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if b.Parameters["currency"].re == nil {
		t.Fatal("currency pattern not compiled")
	}
	b.Parameters["currency"].re = nil
	want := &Blueprint{
		Name:        "ledger",
		Version:     "1.2.0",
		Description: "Invoicing for small businesses",
		Parameters: map[string]*Parameter{
			"currency":    {Default: "EUR", Pattern: "^[A-Z]{3}$"},
			"admin_email": {Required: true},
		},
		Plans: map[string]*Plan{
			"starter":  {Memory: 128 << 20, CPU: 0.25, Replicas: 1, Outbound: true, Idle: 15 * time.Minute, Connections: DefaultConnections},
			"business": {Memory: 512 << 20, CPU: 1, Replicas: 2, Outbound: true, Connections: DefaultConnections},
		},
		DefaultPlan: "starter",
		Databases:   map[string]*Database{"main": {Engine: "sqlite"}},
		Secrets:     map[string]*Secret{"session_key": {Generate: 32}},
		Build:       []string{"go", "build", "-o", "bin/ledger", "."},
		Services: map[string]*Service{
			"web": {
				Command: []string{"bin/ledger", "serve"},
				Image:   "registry.example.com/ledger:1.2.0",
				Port:    8080,
				Public:  true,
				Env: map[string]string{
					"DATABASE_URL": "${db.main.url}",
					"SESSION_KEY":  "${secret.session_key}",
					"CURRENCY":     "${param.currency}",
					"TENANT":       "${tenant.name}",
				},
				Health: &Health{HTTP: "/healthz", Interval: 5 * time.Second, Timeout: 2 * time.Second},
			},
			"worker": {Command: []string{"bin/ledger", "worker"}},
		},
		Hooks: Hooks{
			Migrate: []string{"bin/ledger", "migrate"},
			Seed:    []string{"bin/ledger", "seed", "--admin", "${param.admin_email}"},
		},
	}
	if !reflect.DeepEqual(b, want) {
		t.Errorf("got\n%#v\nwant\n%#v", b, want)
	}
	if got, want := strings.Join(b.ServiceNames(), ","), "web,worker"; got != want {
		t.Errorf("ServiceNames: got %q, want %q", got, want)
	}
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		file  string
		check func(t *testing.T, b *Blueprint)
	}{
		{"minimal.yaml", func(t *testing.T, b *Blueprint) {
			if got, want := b.DefaultPlan, "default"; got != want {
				t.Errorf("DefaultPlan: got %q, want %q", got, want)
			}
			if got, want := *b.Plans["default"], (Plan{Replicas: 1, Outbound: true, Connections: DefaultConnections}); got != want {
				t.Errorf("default plan: got %+v, want %+v", got, want)
			}
			if got, want := b.Version, "0.1.0-alpha.1+build.7"; got != want {
				t.Errorf("Version: got %q, want %q", got, want)
			}
		}},
		{"aliases.yaml", func(t *testing.T, b *Blueprint) {
			want := Plan{Memory: 1 << 30, CPU: 0.5, Replicas: 1, Outbound: true, Connections: DefaultConnections}
			for _, name := range []string{"small", "also-small"} {
				if got := *b.Plans[name]; got != want {
					t.Errorf("plan %s: got %+v, want %+v", name, got, want)
				}
			}
			if got, want := b.Databases["main"].Engine, "sqlite"; got != want {
				t.Errorf("default engine: got %q, want %q", got, want)
			}
			if got, want := b.Databases["cache"].Engine, "postgres"; got != want {
				t.Errorf("engine: got %q, want %q", got, want)
			}
			if got, want := b.Services["api"].Env["NUMBER"], "42"; got != want {
				t.Errorf("env NUMBER: got %q, want %q", got, want)
			}
			h := b.Services["api"].Health
			if h == nil || *h != (Health{HTTP: "/ready", Interval: DefaultHealthInterval, Timeout: DefaultHealthTimeout}) {
				t.Errorf("health: got %+v, want defaults", h)
			}
			if p := b.Parameters["region"]; p == nil || p.Required || p.Default != "" {
				t.Errorf("region: got %+v, want an optional parameter", p)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/valid", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			b, err := Parse("stamp.yaml", data)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, b)
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); stamp.ErrorCode(err) != stamp.ENOTFOUND {
		t.Errorf("Load of a dir without stamp.yaml: got %v, want ENOTFOUND", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "stamp.yaml"), []byte("name: x\nversion: 1.0.0\nservices: {web: {image: x}}\nextra: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir)
	if got, want := errString(err), `stamp.yaml:4: extra: unknown key`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{"stamp.yaml", 12, "services.web.env.DB", `unknown database "nope"`}, `stamp.yaml:12: services.web.env.DB: unknown database "nope"`},
		{Problem{"stamp.yaml", 3, "", "invalid YAML: oops"}, "stamp.yaml:3: invalid YAML: oops"},
		{Problem{"stamp.yaml", 0, "", "empty blueprint"}, "stamp.yaml: empty blueprint"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
