package local

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stamphq/stamp"
)

// TestDataWriteRead writes a tenant's data out, changes it, and reads it
// back into the tenant (a restore) and into another one with a user of
// its own (a clone), where every file is the other tenant's.
func TestDataWriteRead(t *testing.T) {
	requireRoot(t)
	dir := reachableDir(t)
	d := open(t, dir)
	ctx := context.Background()
	uids := map[string]int{"acme": testUID(), "globex": testUID()}
	for name, uid := range uids {
		rt := runtime(name, web(1, "serve"))
		rt.UID = uid
		if err := d.Prepare(ctx, rt); err != nil {
			t.Fatal(err)
		}
	}
	data := func(tenant string) string { return filepath.Join(dir, "tenants", tenant, "data") }
	write := func(p, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(data("acme"), "kept.txt"), "before")
	write(filepath.Join(data("acme"), "sub", "deep", "file"), "deep")
	if err := os.Symlink("../kept.txt", filepath.Join(data("acme"), "sub", "link")); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := d.WriteData(ctx, "acme", &buf); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(data("acme"), "kept.txt"), "after")
	write(filepath.Join(data("acme"), "new.txt"), "new")

	for _, tenant := range []string{"acme", "globex"} {
		if err := d.ReadData(ctx, tenant, bytes.NewReader(buf.Bytes())); err != nil {
			t.Fatalf("ReadData into %s: %v", tenant, err)
		}
		if got, _ := os.ReadFile(filepath.Join(data(tenant), "kept.txt")); string(got) != "before" {
			t.Errorf("%s: kept.txt holds %q, want %q", tenant, got, "before")
		}
		if got, _ := os.ReadFile(filepath.Join(data(tenant), "sub", "deep", "file")); string(got) != "deep" {
			t.Errorf("%s: sub/deep/file holds %q, want %q", tenant, got, "deep")
		}
		if _, err := os.Lstat(filepath.Join(data(tenant), "new.txt")); err == nil {
			t.Errorf("%s: new.txt is still there", tenant)
		}
		if link, err := os.Readlink(filepath.Join(data(tenant), "sub", "link")); err != nil || link != "../kept.txt" {
			t.Errorf("%s: the link reads %q, %v", tenant, link, err)
		}
		for _, p := range []string{"kept.txt", "sub", "sub/deep", "sub/deep/file", "sub/link"} {
			fi, err := os.Lstat(filepath.Join(data(tenant), p))
			if err != nil {
				t.Fatal(err)
			}
			if uid := int(fi.Sys().(*syscall.Stat_t).Uid); uid != uids[tenant] {
				t.Errorf("%s: %s belongs to uid %d, want %d", tenant, p, uid, uids[tenant])
			}
		}
		if fi, _ := os.Stat(filepath.Join(data(tenant), "kept.txt")); fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: kept.txt has mode %04o, want 0640", tenant, fi.Mode().Perm())
		}
	}
}

// TestReadDataRefusesEscapes: a stream that would write out of the data
// directory, through a link of its own, or make a device is refused, and
// the data stays as it was.
func TestReadDataRefusesEscapes(t *testing.T) {
	requireRoot(t)
	dir := reachableDir(t)
	d := open(t, dir)
	ctx := context.Background()
	if err := d.Prepare(ctx, runtime("acme", web(1, "serve"))); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "tenants", "acme", "data")
	if err := os.WriteFile(filepath.Join(data, "kept.txt"), []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	for name, members := range map[string][]tar.Header{
		"parent":   {{Name: "ok.txt", Typeflag: tar.TypeReg}, {Name: "../escape.txt", Typeflag: tar.TypeReg}},
		"absolute": {{Name: filepath.Join(outside, "escape.txt"), Typeflag: tar.TypeReg}},
		"via link": {{Name: "out", Typeflag: tar.TypeSymlink, Linkname: outside}, {Name: "out/escape.txt", Typeflag: tar.TypeReg}},
		"device":   {{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}},
	} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, h := range members {
			h.Mode = 0o644
			if err := tw.WriteHeader(&h); err != nil {
				t.Fatal(err)
			}
		}
		tw.Close()
		err := d.ReadData(ctx, "acme", &buf)
		if stamp.ErrorCode(err) != stamp.EINVALID {
			t.Errorf("%s: ReadData got %v, want EINVALID", name, err)
		}
		if got, _ := os.ReadFile(filepath.Join(data, "kept.txt")); string(got) != "kept" {
			t.Errorf("%s: the data changed: kept.txt holds %q", name, got)
		}
		if _, err := os.Lstat(filepath.Join(data, "ok.txt")); err == nil {
			t.Errorf("%s: a member before the refusal was kept", name)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) > 0 {
		t.Errorf("written outside the data directory: %v", entries)
	}
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && e.Name() == "escape.txt" {
			t.Errorf("written out of the data directory: %s", p)
		}
		return nil
	})
}
