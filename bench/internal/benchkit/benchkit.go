// Package benchkit holds what the benchmarks under bench/ share: the
// command's main (signals, exit codes), the run's module root and
// temporary directory, building binaries and blueprints, a `stamp server`
// child process and the tenant processes its local driver starts, the
// machine's figures read from /proc, and the number formats of the
// reports.
package benchkit

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// Main runs a benchmark command: run gets a context that ends on Ctrl-C
// or SIGTERM (so run's deferred cleanup still happens), the arguments and
// the standard streams. An error is printed as "name: error" and exits 1;
// -h exits 0.
func Main(name string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// ModuleRoot returns the root directory of the Go module the command runs
// in, which must be the stamp module's: the benchmarks build from it.
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("find module root: run from inside the stamp module")
	}
	return filepath.Dir(gomod), nil
}

// Commit returns the short commit of the work tree at root, noting
// uncommitted changes to tracked files (they are built too), or "unknown"
// outside git.
func Commit(ctx context.Context, root string) string {
	out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	commit := strings.TrimSpace(string(out))
	status, err := exec.CommandContext(ctx, "git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output()
	if err != nil || len(strings.TrimSpace(string(status))) > 0 {
		commit += " with uncommitted changes"
	}
	return commit
}

// TempDir makes a new temporary directory named after pattern (as
// os.MkdirTemp) and returns its absolute path: a server's data dir and the
// STAMP_INSTANCE markers of its tenants hold absolute paths.
func TempDir(pattern string) (string, error) {
	tmp, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", fmt.Errorf("make temporary directory: %w", err)
	}
	abs, err := filepath.Abs(tmp)
	if err != nil {
		return "", fmt.Errorf("make temporary directory: %w", err)
	}
	return abs, nil
}

// RemoveAll removes dir and everything in it. Processes that were just
// killed may still be writing files there, so it tries five times, 100ms
// apart, and returns the last error.
func RemoveAll(dir string) error {
	var err error
	for range 5 {
		if err = os.RemoveAll(dir); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// Progress writes one line of progress to w, after the time of day.
func Progress(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// WriteReport prints the markdown report md to stdout and, if path is
// set, writes it to that file as well.
func WriteReport(stdout io.Writer, path, md string) error {
	fmt.Fprint(stdout, md)
	if path != "" {
		if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	return nil
}

// GoBuild runs `go build` with args in the module root and says what it
// printed when it fails.
func GoBuild(ctx context.Context, root string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", append([]string{"build"}, args...)...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// buildLine matches the build line of a stamp.yaml.
var buildLine = regexp.MustCompile(`(?m)^build:.*\n`)

// BlueprintDir writes into dir the blueprint at yamlPath without its
// build line, next to the prebuilt binary bin as bin/ledger, as the
// end-to-end tests do: the server then need not build the app. It
// returns dir.
func BlueprintDir(yamlPath, bin, dir string) (string, error) {
	src, err := os.ReadFile(yamlPath)
	if err != nil {
		return "", fmt.Errorf("read blueprint: %w", err)
	}
	exe, err := os.ReadFile(bin)
	if err != nil {
		return "", fmt.Errorf("read built ledger: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		return "", fmt.Errorf("make blueprint directory: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "ledger"), exe, 0o755); err != nil {
		return "", fmt.Errorf("write blueprint binary: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "stamp.yaml"), buildLine.ReplaceAll(src, nil), 0o644); err != nil {
		return "", fmt.Errorf("write blueprint: %w", err)
	}
	return dir, nil
}
