package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stamphq/stamp"
)

// writeTree creates files under dir: name -> content; a name ending in "*"
// is made executable, one ending in "/" is an empty directory.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		mode := os.FileMode(0o644)
		if n, ok := strings.CutSuffix(name, "*"); ok {
			name, mode = n, 0o755
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
}

var tree = map[string]string{
	"stamp.yaml":         "name: ledger\nversion: 1.0.0\n",
	"bin/ledger*":        "#!/bin/sh\necho hi\n",
	"static/app.css":     "body{}",
	"static/img/":        "",
	"a.txt":              "a",
	"a/b.txt":            "b",
	".git/HEAD":          "ref: refs/heads/main\n",
	".stamp/stamp.db":    "state",
	"docs/.git":          "gitdir: elsewhere",
	"docs/guide/read.md": "# read",
}

func TestPackDeterministic(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, tree)
	first, err := Pack(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The same tree elsewhere, written in another order and at another
	// time, packs to the same bytes.
	other := t.TempDir()
	for name, content := range tree {
		writeTree(t, other, map[string]string{name: content})
	}
	second, err := Pack(other)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Fatalf("Pack is not deterministic: digests %s and %s", Digest(first), Digest(second))
	}
	if got := Digest(first); !strings.HasPrefix(got, "sha256:") || len(got) != len("sha256:")+64 {
		t.Errorf("Digest: got %q, want sha256:<64 hex>", got)
	}

	var names []string
	tr := tar.NewReader(gunzip(t, first))
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, hdr.Name)
		if hdr.Uid != 0 || hdr.Gid != 0 || hdr.Uname != "" || hdr.Gname != "" || hdr.ModTime.Unix() != 0 {
			t.Errorf("%s: owner or time not zeroed: %+v", hdr.Name, hdr)
		}
	}
	want := "stamp.yaml,a/,a.txt,a/b.txt,bin/,bin/ledger,docs/,docs/guide/,docs/guide/read.md,static/,static/app.css,static/img/"
	if got := strings.Join(names, ","); got != want {
		t.Errorf("entries: got %q, want %q", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, tree)
	content, err := Pack(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "bundles", "ledger-1.0.0")
	if err := Extract(content, dst); err != nil {
		t.Fatal(err)
	}
	for name, want := range tree {
		name, exec := strings.CutSuffix(name, "*")
		p := filepath.Join(dst, filepath.FromSlash(name))
		fi, err := os.Stat(p)
		skippedPath := strings.HasPrefix(name, ".git/") || strings.HasPrefix(name, ".stamp/") || name == "docs/.git"
		switch {
		case skippedPath:
			if err == nil {
				t.Errorf("%s was packed, want it skipped", name)
			}
			continue
		case err != nil:
			t.Errorf("%s: %v", name, err)
			continue
		case strings.HasSuffix(name, "/"):
			if !fi.IsDir() || fi.Mode().Perm() != 0o755 {
				t.Errorf("%s: got mode %v, want a 0755 directory", name, fi.Mode())
			}
			continue
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != want {
			t.Errorf("%s: got %q, %v; want %q", name, got, err, want)
		}
		wantMode := os.FileMode(0o644)
		if exec {
			wantMode = 0o755
		}
		if fi.Mode().Perm() != wantMode {
			t.Errorf("%s: got mode %v, want %v", name, fi.Mode().Perm(), wantMode)
		}
	}
	// The destination exists now: a second Extract leaves it untouched.
	marker := filepath.Join(dst, "marker")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Extract(content, dst); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("second Extract replaced the directory: %v", err)
	}
	assertOnly(t, filepath.Dir(dst), "ledger-1.0.0")
}

func TestExtractConcurrent(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, tree)
	content, err := Pack(src)
	if err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	dst := filepath.Join(parent, "b")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = Extract(content, dst) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Extract %d: %v", i, err)
		}
	}
	got, err := os.ReadFile(filepath.Join(dst, "stamp.yaml"))
	if err != nil || string(got) != tree["stamp.yaml"] {
		t.Errorf("stamp.yaml: got %q, %v", got, err)
	}
	assertOnly(t, parent, "b")
}

func TestPackRefuses(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"no stamp.yaml", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"main.go": "package main"})
		}, "no stamp.yaml in the directory"},
		{"symlink", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"stamp.yaml": "x", "real.txt": "x"})
			if err := os.Symlink("real.txt", filepath.Join(dir, "link.txt")); err != nil {
				t.Fatal(err)
			}
		}, "link.txt is a symlink; a bundle holds only regular files and directories"},
		{"stamp.yaml is a directory", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"stamp.yaml/": ""})
		}, "no stamp.yaml in the directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			_, err := Pack(dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if got := stamp.ErrorCode(err); got != stamp.EUNPROCESSABLE {
				t.Errorf("code: got %q, want %q", got, stamp.EUNPROCESSABLE)
			}
		})
	}
}

func TestPackSymlinkedDir(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"stamp.yaml": "x"})
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	viaLink, err := Pack(link)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := Pack(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(viaLink, direct) {
		t.Error("packing through a symlinked directory differs from packing it directly")
	}
}

// entry is one header of a hand-built archive.
type entry struct {
	hdr  tar.Header
	body string
}

// archive builds a gzipped tar from entries, writing raw headers so that
// hostile ones (declared sizes without bodies) can be expressed.
func archive(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		hdr := e.hdr
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatal(err)
		}
		if e.body != "" {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A declared size without a body makes Close fail; the archive is
	// still what a hostile client would send.
	tw.Close()
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func file(name, body string) entry {
	return entry{tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}, body}
}

func TestExtractRefusesHostileArchives(t *testing.T) {
	ok := file("stamp.yaml", "name: x\n")
	tests := []struct {
		name    string
		content []byte
		want    string
	}{
		{"parent", archive(t, ok, file("../x", "evil")), `bundle entry "../x" contains ".."`},
		{"nested parent", archive(t, ok, file("a/../../x", "evil")), `bundle entry "a/../../x" contains ".."`},
		{"absolute", archive(t, ok, file("/abs", "evil")), `bundle entry "/abs" is not a relative path`},
		{"symlink", archive(t, ok, entry{hdr: tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}}), `bundle entry "link" is a link`},
		{"hard link", archive(t, ok, entry{hdr: tar.Header{Name: "hard", Typeflag: tar.TypeLink, Linkname: "stamp.yaml"}}), `bundle entry "hard" is a link`},
		{"device", archive(t, ok, entry{hdr: tar.Header{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}}), `bundle entry "null" is a device or pipe`},
		{"fifo", archive(t, ok, entry{hdr: tar.Header{Name: "pipe", Typeflag: tar.TypeFifo}}), `bundle entry "pipe" is a device or pipe`},
		{"huge declared size", archive(t, ok, entry{hdr: tar.Header{Name: "big", Typeflag: tar.TypeReg, Mode: 0o644, Size: MaxSize + 1}}), `bundle entry "big" (536870913 bytes) takes the unpacked bundle over 512 MiB`},
		{"body shorter than declared", archive(t, ok,
			entry{hdr: tar.Header{Name: "short", Typeflag: tar.TypeReg, Size: 1 << 20}, body: "only this"},
		), `bundle is not a valid gzipped tar`},
		{"duplicate", archive(t, ok, file("stamp.yaml", "again")), `bundle entry "stamp.yaml" appears twice`},
		{"duplicate spelled differently", archive(t, ok, file("./stamp.yaml", "again")), `bundle entry "./stamp.yaml" appears twice`},
		{"file then directory", archive(t, ok, file("a", "x"), entry{hdr: tar.Header{Name: "a/", Typeflag: tar.TypeDir, Mode: 0o755}}), `bundle entry "a/" appears twice`},
		{"entry under a file", archive(t, ok, file("a", "x"), file("a/b", "y")), `bundle entry "a/b" lies under "a", which is a file`},
		{"block device", archive(t, ok, entry{hdr: tar.Header{Name: "sda", Typeflag: tar.TypeBlock}}), `bundle entry "sda" is a device or pipe`},
		{"not gzip", []byte("plain text"), `bundle is not a valid gzipped tar`},
		{"truncated", archive(t, ok)[:20], `bundle is not a valid gzipped tar`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Validate(tt.content); err == nil || !strings.Contains(err.Error(), tt.want) || stamp.ErrorCode(err) != stamp.EUNPROCESSABLE {
				t.Errorf("Validate: got %v (%s), want %s error containing %q", err, stamp.ErrorCode(err), stamp.EUNPROCESSABLE, tt.want)
			}
			parent := t.TempDir()
			err := Extract(tt.content, filepath.Join(parent, "out"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Extract: got %v, want an error containing %q", err, tt.want)
			}
			assertOnly(t, parent)
			if _, err := os.Stat(filepath.Join(filepath.Dir(parent), "x")); err == nil {
				t.Errorf("an entry escaped the destination")
			}
		})
	}
}

func TestExtractLimits(t *testing.T) {
	tests := []struct {
		name    string
		content []byte
		code    string
		want    string
	}{
		{"archive", bytes.Repeat([]byte("x"), 2048), stamp.ETOOLARGE, "bundle is larger than 1024 bytes"},
		{"files add up", archive(t, file("a", strings.Repeat("a", 600)), file("b", strings.Repeat("b", 600))),
			stamp.EUNPROCESSABLE, `bundle entry "b" (600 bytes) takes the unpacked bundle over 1024 bytes`},
		// A compression bomb: a small archive holding much more.
		{"bomb", archive(t, file("zeros", strings.Repeat("\x00", 64<<10))), stamp.EUNPROCESSABLE, `bundle entry "zeros" (65536 bytes) takes the unpacked bundle over 1024 bytes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := validate(tt.content, 1024); err == nil || !strings.Contains(err.Error(), tt.want) || stamp.ErrorCode(err) != tt.code {
				t.Errorf("validate: got %v (%s), want %s error containing %q", err, stamp.ErrorCode(err), tt.code, tt.want)
			}
			parent := t.TempDir()
			err := extract(tt.content, filepath.Join(parent, "out"), 1024)
			if err == nil || !strings.Contains(err.Error(), tt.want) || stamp.ErrorCode(err) != tt.code {
				t.Fatalf("extract: got %v (%s), want %s error containing %q", err, stamp.ErrorCode(err), tt.code, tt.want)
			}
			assertOnly(t, parent)
		})
	}
}

// TestValidateAcceptsWhatPackMakes: every archive Pack makes passes, and
// so does one with repeated directories and a "./" root, as tar writes.
func TestValidateAcceptsWhatPackMakes(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, tree)
	content, err := Pack(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(content); err != nil {
		t.Errorf("Validate(Pack(dir)): %v", err)
	}
	d := func(name string) entry { return entry{hdr: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}} }
	tarred := archive(t, d("./"), file("./stamp.yaml", "name: x\n"), d("./a/"), file("./a/b", "b"), d("./a/"))
	if err := Validate(tarred); err != nil {
		t.Errorf("Validate(tar -C dir .): %v", err)
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, tree)
	content, err := Pack(dir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, want, code string }{
		{"stamp.yaml", tree["stamp.yaml"], ""},
		{"./stamp.yaml", tree["stamp.yaml"], ""},
		{"a/b.txt", "b", ""},
		{"missing.yaml", "", stamp.ENOTFOUND},
		{"static", "", stamp.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadFile(content, tt.name)
			if got := stamp.ErrorCode(err); got != tt.code {
				t.Fatalf("code: got %q, want %q (%v)", got, tt.code, err)
			}
			if string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := ReadFile([]byte("junk"), "stamp.yaml"); stamp.ErrorCode(err) != stamp.EUNPROCESSABLE {
		t.Errorf("junk archive: got %v, want %s", err, stamp.EUNPROCESSABLE)
	}
}

func gunzip(t *testing.T, content []byte) *bytes.Reader {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(zr); err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(buf.Bytes())
}

// assertOnly checks that dir holds exactly the named entries: no temporary
// directory is left behind.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}
