package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	stamp "github.com/stamphq/stamp"
)

// TestIncidentExcerptIsTheTailOfABigLog runs a service that prints 5 MiB
// before its last words (its secret among them) and exits: the incident's
// excerpt and `tenant logs --tail` show those last words, redacted, not
// the start of the log.
func TestIncidentExcerptIsTheTailOfABigLog(t *testing.T) {
	dir := blueprintDir(t, "command: [bin/ledger, serve]",
		`command: [sh, -c, "head -c 5242880 /dev/zero | tr '\\0' x | fold -w 1000; echo; echo last words: session=$SESSION_KEY; exit 4"]`)
	s := startStampServer(t, "--health-timeout", "3s")
	s.mustCLI("blueprint", "push", dir)
	if _, errOut, code := s.cli("tenant", "create", "acme", "--blueprint", "ledger", "--timeout", "90s"); code == 0 {
		t.Fatal("a tenant whose service exits at once was created")
	} else if !strings.Contains(errOut, "failed at step health") {
		t.Fatalf("create: exit %d\n%s\nserver log:\n%s", code, errOut, lastLines(s.log(), 40))
	}
	inc := waitIncident(t, s, "acme", "an incident with the service's last lines", func(i *stamp.Incident) bool {
		return i.State == stamp.IncidentOpen && i.LastLogs != ""
	})
	if !strings.Contains(inc.LastLogs, "last words: session=[redacted]\n") {
		t.Errorf("incident excerpt ends with %q; want the last words, redacted", inc.LastLogs[max(0, len(inc.LastLogs)-200):])
	}
	logs := s.mustCLI("tenant", "logs", "acme", "--tail", "2")
	if !strings.HasSuffix(logs, "last words: session=[redacted]\n") || len(logs) > 2048 {
		t.Errorf("tenant logs --tail 2: %d bytes ending %q; want 2 lines, the last words redacted", len(logs), logs[max(0, len(logs)-200):])
	}
	_, secrets := storedSecrets(t, s.data, "acme")
	for name, v := range secrets {
		if strings.Contains(inc.LastLogs, v) || strings.Contains(logs, v) {
			t.Errorf("the excerpt or the logs hold %s in clear", name)
		}
	}
}

// TestServerRotatesInstanceLogs runs a service that prints 2 MiB and
// then sleeps (it never serves: the test does not wait for its health), with logs rotated at 1 MiB and 2 files kept: its log is
// rotated and its files bounded.
func TestServerRotatesInstanceLogs(t *testing.T) {
	dir := blueprintDir(t, "command: [bin/ledger, serve]",
		`command: [sh, -c, "head -c 1048576 /dev/zero | tr '\\0' x | fold -w 1000; sleep 2; head -c 1048576 /dev/zero | tr '\\0' y | fold -w 1000; sleep 2; echo the end; exec sleep 3600"]`)
	s := startStampServer(t, "--log-max-size", "1Mi", "--log-files", "2")
	s.mustCLI("blueprint", "push", dir)
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger", "--no-wait")
	logs := filepath.Join(s.data, "local", "tenants", "acme", "logs")
	waitFor(t, "the log to be rotated", 30*time.Second, func() bool {
		entries, _ := os.ReadDir(logs)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".log.1") {
				return true
			}
		}
		return false
	})
	waitFor(t, "the log's last line", 30*time.Second, func() bool {
		return strings.Contains(s.mustCLI("tenant", "logs", "acme", "--tail", "5"), "the end")
	})
	entries, err := os.ReadDir(logs)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	var names []string
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		total += fi.Size()
		names = append(names, e.Name())
	}
	if len(names) > 2 || total > 2<<20+64<<10 {
		t.Errorf("log files %q hold %d bytes; want at most 2 files of about 1 MiB", names, total)
	}
	whole := s.mustCLI("tenant", "logs", "acme")
	if strings.Contains(whole, "xxxx") || !strings.Contains(whole, "yyyy") || !strings.Contains(whole, "the end") {
		t.Errorf("tenant logs after rotations (%d bytes): want the second MiB and the end, not the first", len(whole))
	}
}

// TestFailedHookOutputIsRedacted fails a migrate hook that prints a
// secret: the step's message, in the CLI's error and the tenant's events,
// says [redacted].
func TestFailedHookOutputIsRedacted(t *testing.T) {
	dir := blueprintDir(t, "migrate: [bin/ledger, migrate]", `migrate: [sh, -c, "echo migrating with key $0; exit 3", "${secret.session_key}"]`)
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", dir)
	_, errOut, code := s.cli("tenant", "create", "acme", "--blueprint", "ledger")
	if code == 0 || !strings.Contains(errOut, "migrating with key [redacted]") {
		t.Fatalf("create with a failing migrate hook: exit %d\n%s\nwant the hook's output, redacted", code, errOut)
	}
	events := s.mustCLI("tenant", "events", "acme", "-o", "json")
	if !strings.Contains(events, "migrating with key [redacted]") {
		t.Errorf("events lack the hook's output, redacted:\n%s", events)
	}
	_, secrets := storedSecrets(t, s.data, "acme")
	for name, v := range secrets {
		if strings.Contains(errOut, v) || strings.Contains(events, v) {
			t.Errorf("the create error or the events hold %s in clear", name)
		}
	}
}

// TestBadLogFlags starts a server with log flags it cannot use: it
// refuses, naming each flag and value, and through the STAMP_* fallback
// too.
func TestBadLogFlags(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cmd := exec.Command(stampBin, "server", "--data", data, "--log-max-size", "10MB", "--log-files", "0")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("server with bad log flags started:\n%s", out)
	}
	for _, want := range []string{`--log-max-size: "10MB": want a size above 0`, "--log-files 0: want at least 1"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	cmd = exec.Command(stampBin, "server", "--data", data)
	cmd.Env = append(os.Environ(), "STAMP_LOG_MAX_SIZE=0Mi")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), `--log-max-size: "0Mi"`) {
		t.Errorf("STAMP_LOG_MAX_SIZE=0Mi: %v\n%s", err, out)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("data dir after refused starts: %v, want none", err)
	}
}
