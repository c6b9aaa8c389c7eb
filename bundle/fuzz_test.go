package bundle

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stamphq/stamp"
)

// FuzzExtract feeds arbitrary bytes to Validate and Extract: neither
// panics, they agree (what push accepts is what a tenant unpacks), a
// refusal is EUNPROCESSABLE or ETOOLARGE and leaves nothing, and nothing
// is ever written outside the destination.
func FuzzExtract(f *testing.F) {
	ok := file("stamp.yaml", "name: x\n")
	for _, seed := range [][]byte{
		archive(f, ok, file("bin/app", "#!/bin/sh\n"), entry{hdr: tar.Header{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755}}),
		archive(f, ok, file("../x", "evil")),
		archive(f, ok, file("/abs", "evil")),
		archive(f, ok, entry{hdr: tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}}),
		archive(f, ok, entry{hdr: tar.Header{Name: "hard", Typeflag: tar.TypeLink, Linkname: "stamp.yaml"}}),
		archive(f, ok, entry{hdr: tar.Header{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}}),
		archive(f, ok, file("a", "x"), file("a/b", "y")),
		[]byte("plain text"),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		verr := Validate(content)
		parent := t.TempDir()
		eerr := Extract(content, filepath.Join(parent, "out"))
		if (verr == nil) != (eerr == nil) {
			t.Fatalf("Validate and Extract disagree: %v, %v", verr, eerr)
		}
		entries, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		if eerr != nil {
			if code := stamp.ErrorCode(eerr); code != stamp.EUNPROCESSABLE && code != stamp.ETOOLARGE {
				t.Fatalf("Extract refused with code %q (%v), want unprocessable or too_large", code, eerr)
			}
			if len(entries) != 0 {
				t.Fatalf("a refused Extract left %v", entries)
			}
			return
		}
		if len(entries) != 1 || entries[0].Name() != "out" {
			t.Fatalf("Extract wrote beside its destination: %v", entries)
		}
		filepath.WalkDir(filepath.Join(parent, "out"), func(path string, d os.DirEntry, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			if !d.IsDir() && !d.Type().IsRegular() {
				t.Fatalf("Extract made %s, which is neither a file nor a directory (%s)", path, d.Type())
			}
			if !strings.HasPrefix(path, filepath.Join(parent, "out")) {
				t.Fatalf("Extract made %s outside its destination", path)
			}
			return nil
		})
	})
}
