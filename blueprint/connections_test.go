package blueprint

import (
	"strings"
	"testing"
)

const connectionsBlueprint = `name: app
version: 1.0.0
parameters:
  admin_password: { required: true, secret: true }
  currency: { default: EUR }
plans:
  small: { replicas: 2, connections: 10 }
  tiny: {}
default_plan: small
databases:
  main: { engine: postgres }
services:
  web:
    command: [bin/app, --pool, "${db.main.connections}"]
    env:
      POOL: ${db.main.connections}
      ADMIN_PASSWORD: ${param.admin_password}
`

func TestPlanConnectionsAndSecretParams(t *testing.T) {
	b, err := Parse("stamp.yaml", []byte(connectionsBlueprint))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.Plans["small"].Connections, 10; got != want {
		t.Errorf("small connections: got %d, want %d", got, want)
	}
	if got, want := b.Plans["tiny"].Connections, DefaultConnections; got != want {
		t.Errorf("tiny connections: got %d, want the default %d", got, want)
	}
	if got, want := strings.Join(b.SecretParams(), ","), "admin_password"; got != want {
		t.Errorf("secret params: got %q, want %q", got, want)
	}
	for _, tt := range []struct{ plan, want string }{{"small", "5"}, {"tiny", "25"}} {
		rt, err := b.Render(RenderInput{Tenant: "acme", Plan: tt.plan, Params: map[string]string{"admin_password": "pw", "currency": "EUR"},
			DatabaseURLs: map[string]string{"main": "postgres://x"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := rt.Services[0].Env["POOL"]; got != tt.want {
			t.Errorf("plan %s: POOL got %q, want %q (connections per replica)", tt.plan, got, tt.want)
		}
		if got := rt.Services[0].Command[2]; got != tt.want {
			t.Errorf("plan %s: --pool got %q, want %q", tt.plan, got, tt.want)
		}
	}
}

func TestPlanConnectionsInvalid(t *testing.T) {
	tests := []struct{ edit, want string }{
		{"connections: 10", "stamp.yaml:7: plans.small.connections: must be between 1 and 10000, not 0"},
		{"connections: 10", "stamp.yaml:7: plans.small.connections: must be an integer, not a string"},
		{"secret: true", "stamp.yaml:4: parameters.admin_password.secret: must be true or false, not a string"},
		{`"${db.main.connections}"`, `stamp.yaml:14: services.web.command[2]: unknown database "nope"`},
	}
	repl := []string{"connections: 0", `connections: "ten"`, "secret: yes please", `"${db.nope.connections}"`}
	for i, tt := range tests {
		src := strings.Replace(connectionsBlueprint, tt.edit, repl[i], 1)
		_, err := Parse("stamp.yaml", []byte(src))
		if got := errString(err); got != tt.want {
			t.Errorf("%s: got %q, want %q", repl[i], got, tt.want)
		}
	}
}

func TestRoleConnectionLimit(t *testing.T) {
	tests := []struct{ from, to, want int }{
		{25, 25, 50}, // at rest: room for the next move's two versions
		{10, 30, 60}, // growing: twice the new plan
		{30, 10, 40}, // shrinking: the old version's 30 and the new one's 10
	}
	for _, tt := range tests {
		if got := RoleConnectionLimit(tt.from, tt.to); got != tt.want {
			t.Errorf("RoleConnectionLimit(%d, %d): got %d, want %d", tt.from, tt.to, got, tt.want)
		}
	}
}
