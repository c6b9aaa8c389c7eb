package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	stamp "github.com/stamphq/stamp"
)

// follower is a `stamp events -f` process whose output is read line by
// line as it is printed.
type follower struct {
	cmd    *exec.Cmd
	lines  chan string // closed when its stdout ends
	stderr bytes.Buffer
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

// startFollower runs the stamp CLI with args against s. The test's cleanup
// kills it if it still runs.
func startFollower(t *testing.T, s *stampServer, args ...string) *follower {
	t.Helper()
	f := &follower{lines: make(chan string, 1000), exited: make(chan struct{})}
	f.cmd = exec.Command(stampBin, append(args, "--url", "http://"+s.api, "--data", s.data)...)
	f.cmd.Stderr = &f.stderr
	out, err := f.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f.lines <- sc.Text()
		}
		close(f.lines)
		f.err = f.cmd.Wait()
		close(f.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-f.exited:
		default:
			f.cmd.Process.Kill()
			<-f.exited
		}
	})
	return f
}

// readUntil returns the lines printed up to and including the first that
// matches last, failing the test if the process ends first or the
// deadline passes.
func (f *follower) readUntil(t *testing.T, last *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	var lines []string
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-f.lines:
			if !ok {
				<-f.exited
				t.Fatalf("%s ended (%v) after printing:\n%s\nstderr:\n%s", f.cmd, f.err, strings.Join(lines, "\n"), f.stderr.String())
			}
			lines = append(lines, line)
			if last.MatchString(line) {
				return lines
			}
		case <-deadline:
			t.Fatalf("%s printed no line matching %s in %s, only:\n%s", f.cmd, last, timeout, strings.Join(lines, "\n"))
		}
	}
}

// interrupt sends SIGINT (Ctrl-C) to the process by its pid and checks
// that it ends with exit status 0.
func (f *follower) interrupt(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(f.cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatalf("interrupt %d: %v", f.cmd.Process.Pid, err)
	}
	select {
	case <-f.exited:
		if f.err != nil {
			t.Errorf("%s after Ctrl-C: %v\nstderr:\n%s", f.cmd, f.err, f.stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Errorf("%s still runs 10s after Ctrl-C", f.cmd)
	}
}

func TestEventsFollow(t *testing.T) {
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", blueprintDir(t))
	pushed, err := s.client().Events(context.Background(), stamp.EventFilter{})
	if err != nil || len(pushed) == 0 {
		t.Fatalf("events after the push: %v, %v", pushed, err)
	}
	// Both followers start after the push, so that what they print does
	// not depend on when they connect.
	after := strconv.FormatInt(pushed[len(pushed)-1].Seq, 10)
	jsonLines := startFollower(t, s, "events", "-f", "--after", after, "-o", "json")
	table := startFollower(t, s, "events", "-f", "--after", after, "--tenant", "acme")
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger")

	var followed []*stamp.Event
	for _, line := range jsonLines.readUntil(t, regexp.MustCompile(`"type":"tenant.ready"`), time.Minute) {
		e := new(stamp.Event)
		if err := json.Unmarshal([]byte(line), e); err != nil {
			t.Fatalf("line %q is not an event: %v", line, err)
		}
		followed = append(followed, e)
	}
	var steps []string
	for i, e := range followed {
		if e.Tenant != "acme" || i > 0 && e.Seq <= followed[i-1].Seq {
			t.Errorf("event %d: %s of %q seq %d, want acme's events in order", i, e.Type, e.Tenant, e.Seq)
		}
		if e.Type == stamp.EventStep {
			steps = append(steps, e.Step)
		}
	}
	if first := followed[0]; first.Type != stamp.EventTenantCreated || strconv.FormatInt(first.Seq-1, 10) != after {
		t.Errorf("first event: %s seq %d, want %s seq %s+1", first.Type, first.Seq, stamp.EventTenantCreated, after)
	}
	if !slices.Contains(steps, "migrate") || !slices.Contains(steps, "route") {
		t.Errorf("steps followed: %q, want migrate and route among them", steps)
	}

	lines := table.readUntil(t, regexp.MustCompile(`\stenant\.ready\s`), time.Minute)
	if !regexp.MustCompile(`^SEQ\s+TIME\s+TYPE\s+TENANT\s+STEP\s+STATUS\s+WAIT\s+WORK\s+MESSAGE$`).MatchString(lines[0]) {
		t.Errorf("header %q", lines[0])
	}
	rowRE := regexp.MustCompile(`^(\d+)\s+\d\d:\d\d:\d\d\.\d{3}\s+(\S+)\s+acme\s`)
	if len(lines)-1 != len(followed) {
		t.Errorf("table printed %d events, JSON %d:\n%s", len(lines)-1, len(followed), strings.Join(lines, "\n"))
	}
	for i, line := range lines[1:] {
		m := rowRE.FindStringSubmatch(line)
		if m == nil || i >= len(followed) || m[1] != strconv.FormatInt(followed[i].Seq, 10) || m[2] != followed[i].Type {
			t.Errorf("row %d %q, want acme's event like the JSON line", i, line)
		}
	}
	jsonLines.interrupt(t)
	table.interrupt(t)

	// Without -f the same events are listed.
	var listed []*stamp.Event
	if err := json.Unmarshal([]byte(s.mustCLI("events", "--tenant", "acme", "-o", "json")), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) < len(followed) || asJSON(t, listed[:len(followed)]) != asJSON(t, followed) {
		t.Errorf("listed %d events, want the %d followed first", len(listed), len(followed))
	}
	if out := s.mustCLI("events", "--after", after); !strings.Contains(out, "TENANT") || strings.Contains(out, stamp.EventBlueprintPushed) || !strings.Contains(out, stamp.EventTenantReady) {
		t.Errorf("events --after %s:\n%s", after, out)
	}
	if _, errOut, code := s.cli("events", "--after", "-1"); code != 1 || !strings.Contains(errOut, "--after -1: want a sequence number (0 or more)") {
		t.Errorf("--after -1: exit %d, stderr %q", code, errOut)
	}
}

// asJSON returns v as JSON, to compare values field by field.
func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
