package blueprint

import (
	"strings"
	"testing"
)

const bindBlueprint = `name: app
version: 1.0.0
services:
  web:
    command: [bin/app]
    port: 8080
    bind: /stamp/bind
  worker:
    command: [bin/app, work]
`

func TestServiceBind(t *testing.T) {
	b, err := Parse("stamp.yaml", []byte(bindBlueprint))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.Services["web"].Bind, "/stamp/bind"; got != want {
		t.Errorf("Bind of web: got %q, want %q", got, want)
	}
	rt, err := b.Render(RenderInput{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range rt.Services {
		want := map[string]string{"web": "/stamp/bind", "worker": ""}[svc.Name]
		if svc.Bind != want {
			t.Errorf("rendered Bind of %s: got %q, want %q", svc.Name, svc.Bind, want)
		}
	}
}

func TestServiceBindInvalid(t *testing.T) {
	for _, tt := range []struct{ old, new, want string }{
		{"bind: /stamp/bind", "bind: stamp/bind", `stamp.yaml:7: services.web.bind: path "stamp/bind" must start with /`},
		{"bind: /stamp/bind", "bind: [x]", "stamp.yaml:7: services.web.bind: must be a string, not a list"},
		{"    port: 8080\n", "", "stamp.yaml:6: services.web.bind: bind is a request to the service's port; bind needs a port"},
	} {
		_, err := Parse("stamp.yaml", []byte(strings.Replace(bindBlueprint, tt.old, tt.new, 1)))
		if got := errString(err); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.new, got, tt.want)
		}
	}
}
