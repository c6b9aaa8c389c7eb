package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/httpapi"
	"github.com/stamphq/stamp/keyring"
	"github.com/stamphq/stamp/store/sealed"
	sqlitestore "github.com/stamphq/stamp/store/sqlite"
)

// storedSecrets returns tenant's secrets as the server of data keeps them
// (raw: sealed, or in clear) and as they open under its key file.
func storedSecrets(t *testing.T, data, tenant string) (raw, clear map[string]string) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(data, "stamp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ring, _, err := keyring.OpenFile(filepath.Join(data, masterKeyFile), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if raw, err = st.Secrets(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	if clear, err = sealed.New(st, ring).Secrets(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	return raw, clear
}

// keyFileIDs returns the ids of the keys in the key file of data.
func keyFileIDs(t *testing.T, data string) []string {
	t.Helper()
	ring, created, err := keyring.OpenFile(filepath.Join(data, masterKeyFile), rand.Reader)
	if err != nil || created {
		t.Fatalf("key file of %s: created %v, %v", data, created, err)
	}
	return ring.IDs()
}

func asJSONText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSecretsAreNeverInClear runs a tenant whose service prints its
// secrets and crashes: the store's files, the server's log, the event
// log, the incident's excerpt, the tenant and the logs the API serves
// hold no secret value, and the excerpt and the logs say [redacted]
// where the values were.
func TestSecretsAreNeverInClear(t *testing.T) {
	dir := blueprintDir(t,
		"session_key: { generate: 32 }", "session_key: { generate: 32 }\n  api_token: { generate: 24 }",
		"SESSION_KEY: ${secret.session_key}", "SESSION_KEY: ${secret.session_key}\n      API_TOKEN: ${secret.api_token}",
		"command: [bin/ledger, serve]", `command: [sh, -c, "echo starting with session=$SESSION_KEY token=$API_TOKEN; echo fatal: cannot serve >&2; exit 3"]`,
	)
	s := startStampServer(t, "--health-timeout", "3s")
	s.mustCLI("blueprint", "push", dir)
	_, errOut, code := s.cli("tenant", "create", "acme", "--blueprint", "ledger", "--timeout", "90s")
	if code == 0 || !strings.Contains(errOut, "failed at step health") {
		t.Fatalf("create of a tenant whose service crashes: exit %d\n%s\nserver log:\n%s", code, errOut, lastLines(s.log(), 40))
	}
	ctx := context.Background()
	hook, err := s.client().CreateWebhook(ctx, httpapi.CreateWebhookRequest{URL: "http://127.0.0.1:9/hook", Events: []string{"keys.*"}})
	if err != nil {
		t.Fatal(err)
	}
	inc := waitIncident(t, s, "acme", "an incident with the service's last lines", func(i *stamp.Incident) bool {
		return i.State == stamp.IncidentOpen && strings.Contains(i.LastLogs, "starting with")
	})
	if !strings.Contains(inc.LastLogs, "session=[redacted] token=[redacted]") {
		t.Errorf("incident excerpt: %q; want the secrets [redacted]", inc.LastLogs)
	}
	logs := s.mustCLI("tenant", "logs", "acme")
	if !strings.Contains(logs, "session=[redacted] token=[redacted]") {
		t.Errorf("tenant logs: %q; want the secrets [redacted]", logs)
	}

	raw, secrets := storedSecrets(t, s.data, "acme")
	if len(secrets) != 3 { // session_key, api_token, db.main.password
		t.Fatalf("secrets of acme: %d, want 3", len(secrets))
	}
	active := keyFileIDs(t, s.data)[0]
	for name, v := range raw {
		if id, ok := keyring.SealedBy(v); !ok || id != active {
			t.Errorf("stored %s is not sealed under key %s: %.20s...", name, active, v)
		}
	}
	events, err := s.client().Events(ctx, stamp.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	incidents, err := s.client().Incidents(ctx, stamp.IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	places := map[string]string{
		"event log":   asJSONText(t, events),
		"incidents":   asJSONText(t, incidents),
		"tenant get":  s.mustCLI("tenant", "get", "acme", "-o", "json"),
		"tenant logs": logs,
	}
	s.kill() // the WAL stays as it is, unmerged
	places["server log"] = s.log()
	for _, f := range []string{"stamp.db", "stamp.db-wal"} {
		b, err := os.ReadFile(filepath.Join(s.data, f))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		places[f] = string(b)
	}
	if len(places["stamp.db"]) == 0 {
		t.Fatal("no stamp.db")
	}
	values := map[string]string{"webhook secret": hook.Secret}
	for name, v := range secrets {
		values[name] = v
	}
	for where, text := range places {
		for name, v := range values {
			if strings.Contains(text, v) {
				t.Errorf("the %s holds %s in clear", where, name)
			}
		}
	}
}

// TestKeyRotationKeepsSecrets rotates the master key under a running
// tenant, restarts the server and upgrades the tenant: the new process
// gets the same secrets, and the old key is gone from the key file.
func TestKeyRotationKeepsSecrets(t *testing.T) {
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", blueprintDir(t))
	s.mustCLI("blueprint", "push", blueprintDir(t, "version: 2.0.0", "version: 2.0.1"))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger@2.0.0")
	before := sessionKeyOfProcess(t, s.data, "acme")
	if _, secrets := storedSecrets(t, s.data, "acme"); secrets["session_key"] != before {
		t.Fatal("the process's SESSION_KEY is not the stored session_key")
	}
	old := keyFileIDs(t, s.data)

	out := s.mustCLI("key", "rotate")
	ids := keyFileIDs(t, s.data)
	if len(ids) != 1 || ids[0] == old[0] {
		t.Fatalf("key file after rotation: %v; before: %v", ids, old)
	}
	for _, want := range []string{"new key:  " + ids[0], "re-encrypted:  2 of 2 secrets", "retired:  " + old[0]} {
		if !strings.Contains(strings.Join(strings.Fields(out), "  "), strings.Join(strings.Fields(want), "  ")) {
			t.Errorf("key rotate output lacks %q:\n%s", want, out)
		}
	}
	raw, _ := storedSecrets(t, s.data, "acme")
	for name, v := range raw {
		if id, _ := keyring.SealedBy(v); id != ids[0] {
			t.Errorf("%s is sealed under %q after the rotation; want %s", name, id, ids[0])
		}
	}
	if code, body := s.do("GET", "acme", "/healthz", ""); code != 200 {
		t.Errorf("acme during the rotation: %d %s", code, body)
	}

	s.kill()
	s.start()
	s.mustCLI("tenant", "upgrade", "acme", "--to", "2.0.1")
	if after := sessionKeyOfProcess(t, s.data, "acme"); after != before {
		t.Error("after rotation and restart, the upgraded process got another SESSION_KEY")
	}
	var rotated bool
	events, err := s.client().Events(context.Background(), stamp.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		rotated = rotated || e.Type == stamp.EventKeysRotated && strings.Contains(e.Message, ids[0])
	}
	if !rotated {
		t.Error("no keys.rotated event names the new key")
	}
}

// sessionKeyOfProcess returns SESSION_KEY from the environment of the
// tenant's one live process.
func sessionKeyOfProcess(t *testing.T, data, tenant string) string {
	t.Helper()
	var procs []instance
	waitFor(t, "one process of "+tenant, 30*time.Second, func() bool {
		procs = procs[:0]
		for _, p := range tenantProcesses(t, data) {
			if p.tenant == tenant {
				procs = append(procs, p)
			}
		}
		return len(procs) == 1
	})
	env, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(procs[0].pid), "environ"))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range bytes.Split(env, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("SESSION_KEY=")); ok {
			return string(v)
		}
	}
	t.Fatalf("process %d of %s has no SESSION_KEY", procs[0].pid, tenant)
	return ""
}

// TestMasterKeyFromTheEnvironment: with STAMP_MASTER_KEY no key file is
// written, and a server given another key refuses to start, naming the
// key the store's secrets need.
func TestMasterKeyFromTheEnvironment(t *testing.T) {
	key := make([]byte, keyring.KeySize)
	rand.Read(key)
	t.Setenv(masterKeyEnv, base64.StdEncoding.EncodeToString(key))
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", blueprintDir(t))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger")
	s.kill()
	if _, err := os.Stat(filepath.Join(s.data, masterKeyFile)); !os.IsNotExist(err) {
		t.Errorf("a key file was written with %s set: %v", masterKeyEnv, err)
	}

	rand.Read(key)
	cmd := exec.Command(stampBin, "server", "--data", s.data, "--listen", freePort(t), "--router-listen", freePort(t))
	cmd.Env = append(os.Environ(), masterKeyEnv+"="+base64.StdEncoding.EncodeToString(key))
	out, err := cmd.CombinedOutput()
	want := "which this server's STAMP_MASTER_KEY does not have (it has " + keyring.KeyID(key) + ")"
	if err == nil || !strings.Contains(string(out), want) {
		t.Errorf("server with another key: %v\n%s\nwant it to refuse: %s", err, out, want)
	}
	cmd = exec.Command(stampBin, "server", "--data", t.TempDir())
	cmd.Env = append(os.Environ(), masterKeyEnv+"=bm90IGEga2V5")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "STAMP_MASTER_KEY: key 1: a key is 32 bytes, not 9") {
		t.Errorf("server with a malformed key: %v\n%s", err, out)
	}
}
