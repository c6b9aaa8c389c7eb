package blueprint

import (
	"os"
	"reflect"
	"testing"

	"github.com/stamphq/stamp"
)

// realApp parses testdata/valid/realapp.yaml: the fields a blueprint for
// an app written elsewhere needs (requires, port_env, upgrade, hook
// mappings, ${tenant.url}).
func realApp(t *testing.T) *Blueprint {
	t.Helper()
	data, err := os.ReadFile("testdata/valid/realapp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("stamp.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseRealApp(t *testing.T) {
	b := realApp(t)
	wantReq := []stamp.Requirement{{Command: "python3", Min: "3.11"}, {Command: "pg_dump"}, {Command: "/usr/bin/env", Min: "1"}}
	if !reflect.DeepEqual(b.Requires, wantReq) {
		t.Errorf("Requires: got %+v, want %+v", b.Requires, wantReq)
	}
	web, worker := b.Services["web"], b.Services["worker"]
	if !web.NoPortEnv || worker.NoPortEnv {
		t.Errorf("NoPortEnv: got web %v, worker %v; want true, false", web.NoPortEnv, worker.NoPortEnv)
	}
	if web.Upgrade != UpgradeRecreate || worker.Upgrade != UpgradeBlueGreen {
		t.Errorf("Upgrade: got web %q, worker %q", web.Upgrade, worker.Upgrade)
	}
	if !b.Recreates() {
		t.Error("Recreates: got false, want true (web recreates)")
	}
	if got, want := web.Env["PORT"], "smtp"; got != want {
		t.Errorf("env PORT of a service with port_env false: got %q, want %q", got, want)
	}
	wantHooks := Hooks{
		Migrate:   []string{"bin/wiki", "migrate"},
		Seed:      []string{"bin/wiki", "create-admin"},
		SeedEnv:   map[string]string{"ADMIN_PASSWORD": "${secret.admin_password}", "WIKI_URL": "${tenant.url}/admin"},
		SeedAfter: SeedAfterHealthy,
	}
	if !reflect.DeepEqual(b.Hooks, wantHooks) {
		t.Errorf("Hooks: got %+v, want %+v", b.Hooks, wantHooks)
	}
	if ledger(t).Recreates() {
		t.Error("Recreates of a blueprint with no upgrade set: got true, want false")
	}
}

func TestParseRequirement(t *testing.T) {
	tests := []struct {
		in   string
		want stamp.Requirement
		err  string
	}{
		{"pg_dump", stamp.Requirement{Command: "pg_dump"}, ""},
		{"  python3>=3.11 ", stamp.Requirement{Command: "python3", Min: "3.11"}, ""},
		{"node >= 20.1.0", stamp.Requirement{Command: "node", Min: "20.1.0"}, ""},
		{"/opt/x/bin/tool >= 2", stamp.Requirement{Command: "/opt/x/bin/tool", Min: "2"}, ""},
		{"node >= 1.2.3.4", stamp.Requirement{}, `"node >= 1.2.3.4": version "1.2.3.4" must be dotted numbers, e.g. 3.11 or 16.2.0`},
		{"node >=", stamp.Requirement{}, `"node >=": version "" must be dotted numbers, e.g. 3.11 or 16.2.0`},
		{"node == 20", stamp.Requirement{}, `"node == 20": only >= is supported (a minimum version)`},
		{"/opt/../bin/x", stamp.Requirement{}, `command "/opt/../bin/x": write the path in its clean form, "/bin/x"`},
		{"python 3", stamp.Requirement{}, `"python 3" is not a requirement (want COMMAND or COMMAND >= VERSION, e.g. "python3 >= 3.11")`},
	}
	for _, tt := range tests {
		got, err := ParseRequirement(tt.in)
		if tt.err != "" {
			if errString(err) != tt.err {
				t.Errorf("ParseRequirement(%q): got error %q, want %q", tt.in, errString(err), tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseRequirement(%q): got %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if back, _ := ParseRequirement(got.String()); back != got {
			t.Errorf("ParseRequirement(%q.String()): got %+v, want %+v", tt.in, back, got)
		}
	}
}

func TestRenderRealApp(t *testing.T) {
	b := realApp(t)
	in := RenderInput{
		Tenant:  "acme",
		Secrets: map[string]string{"admin_password": "pw"},
		URL:     "http://acme.localhost:7080",
	}
	rt, err := b.Render(in)
	if err != nil {
		t.Fatal(err)
	}
	web := rt.Services[0]
	wantCmd := []string{"bin/wiki", "--port", stamp.InstanceVar(stamp.VarPort), "--bind", stamp.InstanceVar(stamp.VarHost),
		"--base-url", "http://acme.localhost:7080", "--price", "$5"}
	if web.Name != "web" || !reflect.DeepEqual(web.Command, wantCmd) {
		t.Errorf("web command: got %q, want %q", web.Command, wantCmd)
	}
	if !web.NoPortEnv || rt.Services[1].NoPortEnv {
		t.Errorf("NoPortEnv: got web %v, worker %v; want true, false", web.NoPortEnv, rt.Services[1].NoPortEnv)
	}
	if got, want := web.Env["WIKI_URL"], "http://acme.localhost:7080"; got != want {
		t.Errorf("WIKI_URL: got %q, want %q", got, want)
	}
	if _, ok := web.Env["ADMIN_PASSWORD"]; ok {
		t.Error("the seed's own env reached the running service")
	}

	seed, err := b.Hook(stamp.StepSeed, in)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"PORT": "smtp", "WIKI_URL": "http://acme.localhost:7080/admin", // the hook's own env wins
		"ADMIN_PASSWORD": "pw", "STAMP_TENANT": "acme", "STAMP_HOOK": "seed",
	}
	if !reflect.DeepEqual(seed.Env, want) {
		t.Errorf("seed env: got %v, want %v", seed.Env, want)
	}
	migrate, err := b.Hook(stamp.StepMigrate, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := migrate.Env["ADMIN_PASSWORD"]; ok {
		t.Error("the seed's own env reached the migrate hook")
	}
}
