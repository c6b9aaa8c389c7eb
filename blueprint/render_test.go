package blueprint

import (
	"bytes"
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

func renderInput() RenderInput {
	return RenderInput{
		Tenant:       "acme",
		Bundle:       stamp.BundleRef{Name: "ledger", Version: "1.0.0", Digest: "sha256:abc"},
		Params:       map[string]string{"currency": "USD", "admin_email": "ops@acme.test"},
		Secrets:      map[string]string{"session_key": "s3cr3t"},
		DatabaseURLs: map[string]string{"main": "sqlite:/data/acme/main.db"},
	}
}

func TestRender(t *testing.T) {
	b := ledger(t)
	in := renderInput()
	in.Plan = "business"
	rt, err := b.Render(in)
	if err != nil {
		t.Fatal(err)
	}
	want := &stamp.Runtime{
		Tenant: "acme",
		Bundle: in.Bundle,
		Services: []stamp.Service{
			{
				Name:    "web",
				Command: []string{"bin/ledger", "serve"},
				Image:   "registry.example.com/ledger:1.2.0",
				Env: map[string]string{
					"DATABASE_URL": "sqlite:/data/acme/main.db",
					"SESSION_KEY":  "s3cr3t",
					"CURRENCY":     "USD",
					"TENANT":       "acme",
					"STAMP_TENANT": "acme",
				},
				Port:     8080,
				Public:   true,
				Replicas: 2,
				Memory:   512 << 20,
				CPU:      1,
				Health:   &stamp.HealthCheck{Path: "/healthz", Interval: 5 * time.Second, Timeout: 2 * time.Second},
			},
			{
				Name:     "worker",
				Command:  []string{"bin/ledger", "worker"},
				Env:      map[string]string{"STAMP_TENANT": "acme"},
				Replicas: 2,
				Memory:   512 << 20,
				CPU:      1,
			},
		},
		Limits:   stamp.Limits{Memory: 512 << 20, CPU: 1},
		Outbound: true,
	}
	if !reflect.DeepEqual(rt, want) {
		t.Errorf("got\n%+v\nwant\n%+v", rt, want)
	}
}

func TestRenderExpands(t *testing.T) {
	b, err := Parse("stamp.yaml", []byte(`name: x
version: 1.0.0
plans: {small: {}, big: {replicas: 3}}
default_plan: small
parameters: {region: {default: eu}}
services:
  app:
    command: [run, "--plan=${tenant.plan}", "--cost=$$5", "$HOME", "${param.region}"]
    env: {WHO: "${tenant.name} on ${tenant.plan}"}
`))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := b.Render(RenderInput{Tenant: "acme", Params: map[string]string{"region": "us"}})
	if err != nil {
		t.Fatal(err)
	}
	s := rt.Services[0]
	if got, want := strings.Join(s.Command, " "), "run --plan=small --cost=$5 $HOME us"; got != want {
		t.Errorf("command: got %q, want %q", got, want)
	}
	if got, want := s.Env["WHO"], "acme on small"; got != want {
		t.Errorf("env: got %q, want %q", got, want)
	}
	if s.Replicas != 1 {
		t.Errorf("replicas: got %d, want 1", s.Replicas)
	}
}

// TestRenderInstanceVars checks that the references only a driver can
// resolve come out as placeholders, which ExpandInstanceVars fills.
func TestRenderInstanceVars(t *testing.T) {
	b, err := Parse("stamp.yaml", []byte(`name: x
version: 1.0.0
plans: {small: {memory: 64Mi, cpu: "0.5", pids: 100}}
services:
  app:
    command: [run, "--listen=${listen}", "--cost=$${port}"]
    env: {DATA: "${tenant.dir}/uploads", ADDR: "${host}:${port}"}
`))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := b.Render(RenderInput{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rt.Limits, (stamp.Limits{Memory: 64 << 20, CPU: 0.5, PIDs: 100}); got != want {
		t.Errorf("limits: got %+v, want %+v", got, want)
	}
	vals := map[string]string{"port": "8080", "host": "10.0.0.2", "listen": "10.0.0.2:8080", "tenant.dir": "/t/acme"}
	s := rt.Services[0]
	tests := []struct{ name, got, want string }{
		{"command", stamp.ExpandInstanceVars(strings.Join(s.Command, " "), vals), "run --listen=10.0.0.2:8080 --cost=${port}"},
		{"DATA", stamp.ExpandInstanceVars(s.Env["DATA"], vals), "/t/acme/uploads"},
		{"ADDR", stamp.ExpandInstanceVars(s.Env["ADDR"], vals), "10.0.0.2:8080"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	b := ledger(t)
	tests := []struct {
		name   string
		modify func(in *RenderInput)
		want   string
	}{
		{"no database URL", func(in *RenderInput) { in.DatabaseURLs = nil }, `render web of acme: env DATABASE_URL: no value for database "main"`},
		{"no secret", func(in *RenderInput) { delete(in.Secrets, "session_key") }, `render web of acme: env SESSION_KEY: no value for secret "session_key"`},
		{"no param", func(in *RenderInput) { in.Params = nil }, `render web of acme: env CURRENCY: no value for parameter "currency"`},
		{"unknown plan", func(in *RenderInput) { in.Plan = "gold" }, `plan "gold" does not exist in blueprint ledger@1.0.0 (plans: business, starter)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := renderInput()
			tt.modify(&in)
			_, err := b.Render(in)
			if got := errString(err); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHook(t *testing.T) {
	b := ledger(t)
	in := renderInput()
	seed, err := b.Hook("seed", in)
	if err != nil {
		t.Fatal(err)
	}
	want := &stamp.Task{
		Name:    "seed",
		Bundle:  in.Bundle,
		Command: []string{"bin/ledger", "seed", "--admin", "ops@acme.test"},
		Image:   "registry.example.com/ledger:1.2.0",
		Env: map[string]string{
			"DATABASE_URL": "sqlite:/data/acme/main.db",
			"SESSION_KEY":  "s3cr3t",
			"CURRENCY":     "USD",
			"TENANT":       "acme",
			"STAMP_TENANT": "acme",
			"STAMP_HOOK":   "seed",
		},
		Timeout: 5 * time.Minute,
	}
	if !reflect.DeepEqual(seed, want) {
		t.Errorf("got\n%+v\nwant\n%+v", seed, want)
	}

	migrate, err := b.Hook("migrate", in)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(migrate.Command, " "), "bin/ledger migrate"; got != want {
		t.Errorf("migrate: got %q, want %q", got, want)
	}

	b.Hooks.Seed = nil
	if task, err := b.Hook("seed", in); task != nil || err != nil {
		t.Errorf("absent hook: got %v, %v; want nil, nil", task, err)
	}
	if _, err := b.Hook("deploy", in); errString(err) != `unknown hook "deploy" (hooks: migrate, seed)` {
		t.Errorf("unknown hook: got %q", errString(err))
	}
}

func TestHookEnvMergesInServiceOrder(t *testing.T) {
	b, err := Parse("stamp.yaml", []byte(`name: x
version: 1.0.0
services:
  b: {image: img-b, env: {SHARED: from-b, B: b}}
  a: {image: img-a, env: {SHARED: from-a, A: a}}
hooks: {migrate: [m]}
`))
	if err != nil {
		t.Fatal(err)
	}
	task, err := b.Hook("migrate", RenderInput{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "a", "B": "b", "SHARED": "from-b", "STAMP_TENANT": "acme", "STAMP_HOOK": "migrate"}
	if !reflect.DeepEqual(task.Env, want) {
		t.Errorf("env: got %v, want %v", task.Env, want)
	}
	if got, want := task.Image, "img-a"; got != want {
		t.Errorf("image: got %q, want %q", got, want)
	}
}

func TestGenerateSecrets(t *testing.T) {
	b := ledger(t)
	b.Secrets["api_key"] = &Secret{Generate: 3}
	random := bytes.NewReader(bytes.Repeat([]byte{0xff}, 64))
	got, err := b.GenerateSecrets(random, map[string]string{"session_key": "kept"})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"api_key": "____"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	got, err = b.GenerateSecrets(random, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(got["session_key"])
	if err != nil || len(raw) != 32 {
		t.Errorf("session_key: got %q (%d bytes, %v), want 32 bytes of base64url", got["session_key"], len(raw), err)
	}
	if _, err := b.GenerateSecrets(bytes.NewReader(nil), nil); err == nil {
		t.Error("GenerateSecrets with no randomness succeeded")
	}
}
