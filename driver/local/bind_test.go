package local

import (
	"bytes"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// logBuffer collects a driver's log for a test to read while the driver
// writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// openLogged opens a driver on dir whose log goes to the returned buffer.
func openLogged(t *testing.T, dir string) (*Driver, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	cfg := config(dir)
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	return openConfig(t, cfg), logs
}

// bindWeb is one web replica of the test app taking binds at path, with
// GREETING=greeting.
func bindWeb(path, greeting string) stamp.Service {
	svc := web(1, "serve")
	svc.Bind = path
	svc.Env = map[string]string{"GREETING": greeting}
	return svc
}

// envOf returns the environment the process of in reports having, by
// name.
func envOf(t *testing.T, in stamp.Instance) map[string]string {
	t.Helper()
	body, err := fetch(in.Endpoint, "/env")
	if err != nil {
		t.Fatalf("environment of %s: %v", in.ID, err)
	}
	env := make(map[string]string)
	for line := range strings.Lines(body) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		env[k] = v
	}
	return env
}

// instanceLog returns what instance id of tenant printed.
func instanceLog(t *testing.T, d *Driver, tenant, id string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(d.dir, "tenants", tenant, "logs", id+".log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestBindKeepsTheProcess(t *testing.T) {
	dir := newDir(t)
	d, logs := openLogged(t, dir)
	apply(t, d, runtime("acme", bindWeb("/bind", "hello")))
	before := running(t, d, "acme", "web", 1)[0]
	waitHealthy(t, before.Endpoint)
	token := envOf(t, before)[bindTokenVar]
	if len(token) != 43 {
		t.Fatalf("%s: got %q, want 43 characters (32 bytes, base64url)", bindTokenVar, token)
	}

	bound := bindWeb("/bind", "bound")
	start := time.Now()
	apply(t, d, runtime("acme", bound))
	t.Logf("an apply that bound took %s", time.Since(start))
	after := running(t, d, "acme", "web", 1)[0]
	if after.PID != before.PID {
		t.Fatalf("pid after a change of env: got %d, want %d kept (bound, not restarted); log:\n%s", after.PID, before.PID, logs)
	}
	env := envOf(t, after)
	_, port, _ := net.SplitHostPort(after.Endpoint)
	for k, want := range map[string]string{"GREETING": "bound", bindTokenVar: token, "PORT": port, "HOST": "127.0.0.1"} {
		if env[k] != want {
			t.Errorf("%s after the bind: got %q, want %q", k, env[k], want)
		}
	}
	var st tenantState
	if _, err := readJSON(filepath.Join(dir, "tenants", "acme", "state.json"), &st); err != nil {
		t.Fatal(err)
	}
	if got, want := st.Instances[0].Hash, specHash(app.ref.Digest, bound); got != want {
		t.Errorf("recorded hash: got %s, want %s, that of the new spec", got, want)
	}
	if got := strings.Count(instanceLog(t, d, "acme", "web-0"), "bind /bind: 204\n"); got != 1 {
		t.Errorf("the app answered %d binds with 204, want 1", got)
	}

	// A restart starts the process with the environment it was bound to.
	restarted := killAndRestart(t, d, "acme", after)
	waitHealthy(t, restarted.Endpoint)
	env = envOf(t, restarted)
	if env["GREETING"] != "bound" {
		t.Errorf("GREETING after a restart: got %q, want %q", env["GREETING"], "bound")
	}
	if got := env[bindTokenVar]; got == token || len(got) != 43 {
		t.Errorf("%s after a restart: got %q, want a new token", bindTokenVar, got)
	}
}

func TestBindRefusedRestarts(t *testing.T) {
	for _, tt := range []struct{ path, answer string }{
		{"/bind-fail", `answered 500 Internal Server Error: \"cannot bind\"`},
		{"/no-bind-here", "answered 404 Not Found"},
	} {
		t.Run(strings.TrimPrefix(tt.path, "/"), func(t *testing.T) {
			d, logs := openLogged(t, newDir(t))
			apply(t, d, runtime("acme", bindWeb(tt.path, "hello")))
			before := running(t, d, "acme", "web", 1)[0]
			waitHealthy(t, before.Endpoint)

			apply(t, d, runtime("acme", bindWeb(tt.path, "bound")))
			after := running(t, d, "acme", "web", 1)[0]
			if after.PID == before.PID {
				t.Fatalf("pid after a refused bind: got %d kept, want a restart", after.PID)
			}
			waitHealthy(t, after.Endpoint)
			if got := envOf(t, after)["GREETING"]; got != "bound" {
				t.Errorf("GREETING after the restart: got %q, want %q", got, "bound")
			}
			warning := slices.ContainsFunc(strings.Split(logs.String(), "\n"), func(line string) bool {
				return strings.Contains(line, "level=WARN") && strings.Contains(line, "did not take its new environment") &&
					strings.Contains(line, tt.answer)
			})
			if !warning {
				t.Errorf("no warning saying %q in the log:\n%s", tt.answer, logs)
			}
		})
	}
}

func TestChangeOfCommandRestartsWithoutBind(t *testing.T) {
	d, logs := openLogged(t, newDir(t))
	apply(t, d, runtime("acme", bindWeb("/bind", "hello")))
	before := running(t, d, "acme", "web", 1)[0]
	waitHealthy(t, before.Endpoint)

	changed := bindWeb("/bind", "bound")
	changed.Command = command("serve-child")
	apply(t, d, runtime("acme", changed))
	after := running(t, d, "acme", "web", 1)[0]
	if after.PID == before.PID {
		t.Fatalf("pid after a change of command: got %d kept, want a restart", after.PID)
	}
	waitHealthy(t, after.Endpoint)
	if got := envOf(t, after)["GREETING"]; got != "bound" {
		t.Errorf("GREETING after the restart: got %q, want %q", got, "bound")
	}
	if log := instanceLog(t, d, "acme", "web-0"); strings.Contains(log, "bind ") {
		t.Errorf("the app was sent a bind for a change of command; its log:\n%s", log)
	}
	if strings.Contains(logs.String(), "new environment") {
		t.Errorf("the driver tried a bind for a change of command; its log:\n%s", logs)
	}
}

// TestBindAfterRestart binds an instance that a new Driver adopted: the
// token lives in the tenant's state, not in the Driver that started it.
func TestBindAfterRestart(t *testing.T) {
	dir := newDir(t)
	d := open(t, dir)
	apply(t, d, runtime("acme", bindWeb("/bind", "hello")))
	before := running(t, d, "acme", "web", 1)[0]
	waitHealthy(t, before.Endpoint)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	d, logs := openLogged(t, dir)
	apply(t, d, runtime("acme", bindWeb("/bind", "bound")))
	after := running(t, d, "acme", "web", 1)[0]
	if after.PID != before.PID {
		t.Fatalf("pid after a change of env on a new driver: got %d, want %d kept; log:\n%s", after.PID, before.PID, logs)
	}
	if got := envOf(t, after)["GREETING"]; got != "bound" {
		t.Errorf("GREETING after the bind: got %q, want %q", got, "bound")
	}
}
