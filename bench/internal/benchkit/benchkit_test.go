package benchkit

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestModuleRoot(t *testing.T) {
	root, err := ModuleRoot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(mod, []byte("module github.com/stamphq/stamp\n")) {
		t.Errorf("go.mod of %s starts %q, want the stamp module", root, mod[:min(len(mod), 40)])
	}
}

func TestTempDirAndRemoveAll(t *testing.T) {
	dir, err := TempDir("benchkit-test-")
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(dir) || !strings.HasPrefix(filepath.Base(dir), "benchkit-test-") {
		t.Errorf("TempDir: got %q, want an absolute path named benchkit-test-*", dir)
	}
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("after RemoveAll, stat %s: got %v, want not exist", dir, err)
	}
}

func TestProgress(t *testing.T) {
	var b bytes.Buffer
	Progress(&b, "fleet of %d: %s", 100, "start")
	if !regexp.MustCompile(`^\d\d:\d\d:\d\d  fleet of 100: start\n$`).Match(b.Bytes()) {
		t.Errorf("got %q, want the time of day, two spaces and the message", b.String())
	}
}

func TestBlueprintDir(t *testing.T) {
	src := t.TempDir()
	yaml := "name: ledger\nversion: 2.0.0\nbuild: [go, build, -o, bin/ledger, .]\nservices:\n  web: {}\n"
	if err := os.WriteFile(filepath.Join(src, "stamp.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "built"), []byte("binary"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir, err := BlueprintDir(filepath.Join(src, "stamp.yaml"), filepath.Join(src, "built"), filepath.Join(t.TempDir(), "bp"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "stamp.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "name: ledger\nversion: 2.0.0\nservices:\n  web: {}\n"; string(got) != want {
		t.Errorf("stamp.yaml: got %q, want %q", got, want)
	}
	fi, err := os.Stat(filepath.Join(dir, "bin", "ledger"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 || fi.Size() != int64(len("binary")) {
		t.Errorf("bin/ledger: got mode %v size %d, want 0755 and the built binary's %d bytes", fi.Mode().Perm(), fi.Size(), len("binary"))
	}
	if _, err := BlueprintDir(filepath.Join(src, "missing.yaml"), filepath.Join(src, "built"), t.TempDir()); err == nil {
		t.Error("BlueprintDir of a missing stamp.yaml: got no error")
	}
}

func TestWriteReport(t *testing.T) {
	const md = "| a | b |\n"
	for _, path := range []string{"", filepath.Join(t.TempDir(), "report.md")} {
		var out bytes.Buffer
		if err := WriteReport(&out, path, md); err != nil {
			t.Fatal(err)
		}
		if out.String() != md {
			t.Errorf("stdout: got %q, want %q", out.String(), md)
		}
		if path == "" {
			continue
		}
		if got, err := os.ReadFile(path); err != nil || string(got) != md {
			t.Errorf("file %s: got %q, %v; want %q", path, got, err, md)
		}
	}
	if err := WriteReport(new(bytes.Buffer), filepath.Join(t.TempDir(), "missing", "report.md"), md); err == nil {
		t.Error("WriteReport into a missing directory: got no error")
	}
}
