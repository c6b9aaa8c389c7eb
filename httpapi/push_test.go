package httpapi

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"testing"

	"github.com/stamphq/stamp"
)

// rawEntry is one tar header and its body, for archives Pack would never
// make.
type rawEntry struct {
	hdr  tar.Header
	body string
}

// rawArchive gzips a tar of entries as written, hostile ones included.
func rawArchive(t *testing.T, entries ...rawEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		if err := tw.WriteHeader(&e.hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func regular(name, body string) rawEntry {
	return rawEntry{tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}, body}
}

// TestPushRefusesArchivesThatCannotBeUnpacked: every archive that
// extraction would refuse is refused at push, with 422 naming the entry
// and the rule, and nothing is stored.
func TestPushRefusesArchivesThatCannotBeUnpacked(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	yaml := regular("stamp.yaml", ledgerYAML)
	tests := []struct {
		name    string
		content []byte
		want    string
	}{
		{"parent", rawArchive(t, yaml, regular("../evil", "x")), `bundle entry "../evil" contains ".."`},
		{"absolute", rawArchive(t, yaml, regular("/etc/evil", "x")), `bundle entry "/etc/evil" is not a relative path`},
		{"symlink out", rawArchive(t, yaml, rawEntry{hdr: tar.Header{Name: "passwd", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}}),
			`bundle entry "passwd" is a link; bundles hold only regular files and directories`},
		{"hard link", rawArchive(t, yaml, rawEntry{hdr: tar.Header{Name: "again", Typeflag: tar.TypeLink, Linkname: "stamp.yaml"}}),
			`bundle entry "again" is a link; bundles hold only regular files and directories`},
		{"device", rawArchive(t, yaml, rawEntry{hdr: tar.Header{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}}),
			`bundle entry "null" is a device or pipe; bundles hold only regular files and directories`},
		{"duplicate stamp.yaml", rawArchive(t, yaml, regular("stamp.yaml", "name: other\n")), `bundle entry "stamp.yaml" appears twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := env.client.PushBundle(ctx, tt.content)
			wantError(t, err, stamp.EUNPROCESSABLE, tt.want)
		})
	}
	if list, err := env.store.ListBundles(ctx); err != nil || len(list) != 0 {
		t.Errorf("bundles stored: %v %v, want none", list, err)
	}
}

// TestPushRefusesACompressionBomb pushes about 1 MB that gunzips to a
// 1 GiB file: refused with 422 naming the file and the limit, before it
// is inflated.
func TestPushRefusesACompressionBomb(t *testing.T) {
	env := newTestEnv(t)
	const huge = 1 << 30
	bomb := bombArchive(t, ledgerYAML, "zeros", huge)
	if len(bomb) > 2<<20 {
		t.Fatalf("the bomb is %d bytes; want a small archive", len(bomb))
	}
	_, _, err := env.client.PushBundle(context.Background(), bomb)
	wantError(t, err, stamp.EUNPROCESSABLE, `bundle entry "zeros" (1073741824 bytes) takes the unpacked bundle over 512 MiB`)
}

// bombArchive returns a valid gzipped tar of stamp.yaml and a file of
// size zero bytes, made cheaply: gzip members, one per MiB of zeros,
// concatenated (a gzip reader reads them as one stream).
func bombArchive(t *testing.T, manifest, name string, size int64) []byte {
	t.Helper()
	var head bytes.Buffer
	tw := tar.NewWriter(&head)
	for _, h := range []*tar.Header{
		{Name: "stamp.yaml", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(manifest))},
		{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Name == "stamp.yaml" {
			if _, err := tw.Write([]byte(manifest)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The second header padded stamp.yaml to a block and was written
	// itself: head holds both; the writer is left unclosed on purpose.
	const mib = 1 << 20
	if size%mib != 0 {
		t.Fatalf("size %d is not whole MiB", size)
	}
	member := func(b []byte) []byte {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	out := member(head.Bytes())
	zeros := member(make([]byte, mib))
	for range size / mib {
		out = append(out, zeros...)
	}
	return append(out, member(make([]byte, 2*512))...) // the end of the tar
}
