package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCompletionOffersNamesFromTheServer asks the shell completion (the
// hidden __complete command the scripts call) for a tenant and a
// blueprint version: the server's names come back, filtered by what is
// typed, and nothing once the argument is given.
func TestCompletionOffersNamesFromTheServer(t *testing.T) {
	s := startStampServer(t)
	s.mustCLI("blueprint", "push", blueprintDir(t))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger", "--no-wait")
	s.mustCLI("tenant", "create", "globex", "--blueprint", "ledger", "--no-wait")

	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"tenant", "get", ""}, []string{"acme", "globex"}},
		{[]string{"tenant", "delete", "gl"}, []string{"globex"}},
		{[]string{"blueprint", "show", "led"}, []string{"ledger@2.0.0"}},
		{[]string{"tenant", "get", "acme", ""}, nil},
	} {
		// The word being completed comes last, so the flags go first.
		args := append([]string{"__complete", "--url", "http://" + s.api, "--data", s.data}, tt.args...)
		b, err := exec.Command(stampBin, args...).Output()
		if err != nil {
			t.Fatalf("stamp %q: %v", args, err)
		}
		out := string(b)
		var got []string
		for line := range strings.Lines(out) {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, ":") && !strings.HasPrefix(line, "Completion ended") {
				got = append(got, line)
			}
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("complete %q: got %q, want %q\n%s", tt.args, got, tt.want, out)
		}
	}
}
