package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// runCLI runs the CLI in-process and returns its output and error.
func runCLI(args ...string) (string, error) {
	var out bytes.Buffer
	err := run(context.Background(), args, &out, &out)
	return out.String(), err
}

func TestUnknownSubcommandFails(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"tenant", "lst"}, "unknown command \"lst\" for \"stamp tenant\"\n\nDid you mean this?\n\tget\n\tlist\n\tset"},
		{[]string{"release", "sttus"}, "unknown command \"sttus\" for \"stamp release\""},
		{[]string{"tenat"}, "unknown command \"tenat\" for \"stamp\"\n\nDid you mean this?\n\ttenant"},
	} {
		out, err := runCLI(tt.args...)
		if err == nil || !strings.Contains(err.Error()+out, tt.want) {
			t.Errorf("stamp %s: %v, output %q; want an error with %q", strings.Join(tt.args, " "), err, out, tt.want)
		}
	}
	// A group with no subcommand named shows its help, successfully.
	if out, err := runCLI("tenant"); err != nil || !strings.Contains(out, "Available Commands:") {
		t.Errorf("stamp tenant: %v, %q; want its help", err, out)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, err := runCLI(args...)
		// A test binary is built from this module: "(devel)", and the Go
		// version always.
		if err != nil || !strings.HasPrefix(out, "stamp ") || !strings.Contains(out, "go1.") {
			t.Errorf("stamp %s: %v, %q", args[0], err, out)
		}
	}
}

// TestDemoOutsideTheSourceTreeSaysHow runs the demo where there is no
// examples/ledger: it fails at once, saying where to run it from, and
// starts no server.
func TestDemoOutsideTheSourceTreeSaysHow(t *testing.T) {
	t.Chdir(t.TempDir())
	_, err := runCLI("demo", "--listen", "127.0.0.1:0", "--router-listen", "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), "run the demo from the root of Stamp's source tree") {
		t.Errorf("demo outside the source tree: %v", err)
	}
}
