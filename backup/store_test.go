package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/keyring"
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// openStore opens a store in a new directory with a key ring of key.
func openStore(t *testing.T, dir string, key byte) *Store {
	t.Helper()
	return openStoreIn(t, dir, t.TempDir(), key)
}

// openStoreIn is openStore with its work directory.
func openStoreIn(t *testing.T, dir, work string, key byte) *Store {
	t.Helper()
	ring, err := keyring.New(bytes.Repeat([]byte{key}, keyring.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), "file://"+dir, ring, work, fixedClock{time.Date(2026, 12, 5, 1, 15, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// content returns a part writing body.
func content(path, body string) Part {
	return Part{Path: path, Write: func(_ context.Context, w io.Writer) error {
		_, err := io.WriteString(w, body)
		return err
	}}
}

// take backs up tenant acme with a database and data.
func take(t *testing.T, s *Store, id string, recipients ...age.Recipient) *stamp.Backup {
	t.Helper()
	m := &Manifest{ID: id, Tenant: "acme", Blueprint: "ledger", Version: "1.2.0", Reason: stamp.BackupManual, CreatedAt: s.clock.Now(),
		Databases: []Database{{Name: "main", Format: "sqlite", File: File{Path: "databases/main.sqlite"}}},
		Data:      &File{Path: dataPath}}
	b, err := s.Take(t.Context(), m, []Part{content("databases/main.sqlite", "rows of "+id), content(dataPath, "files of "+id)}, recipients...)
	if err != nil {
		t.Fatalf("Take: %v", err)
	}
	return b
}

func TestTakeListUnpack(t *testing.T) {
	s := openStore(t, t.TempDir(), 1)
	first := take(t, s, "20261205T011500Z-00000001")
	second := take(t, s, "20261205T011600Z-00000002")
	if first.Size <= 0 || first.Key != s.keys.ActiveID() {
		t.Errorf("record: %+v", first)
	}
	list, err := s.List(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != second.ID || list[1].ID != first.ID {
		t.Fatalf("List: %+v, want the two, newest first", list)
	}
	if list[1].Version != "1.2.0" || list[1].Blueprint != "ledger" || !list[1].CreatedAt.Equal(s.clock.Now()) || list[1].Size != first.Size {
		t.Errorf("listed: %+v, taken: %+v", list[1], first)
	}
	u, err := s.Unpack(t.Context(), "acme", first.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	for path, want := range map[string]string{"databases/main.sqlite": "rows of " + first.ID, dataPath: "files of " + first.ID} {
		f, err := u.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(f)
		f.Close()
		if string(got) != want {
			t.Errorf("%s: %q, want %q", path, got, want)
		}
	}
	if sum := sha256.Sum256([]byte("rows of " + first.ID)); u.Manifest.Databases[0].SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("manifest checksum %s", u.Manifest.Databases[0].SHA256)
	}
	if _, err := s.Get(t.Context(), "globex", first.ID); stamp.ErrorCode(err) != stamp.ENOTFOUND {
		t.Errorf("another tenant's backup: %v, want ENOTFOUND", err)
	}
	if err := s.Delete(t.Context(), "acme", first.ID); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.List(t.Context(), "acme"); len(list) != 1 {
		t.Errorf("after Delete: %+v", list)
	}
}

// TestNothingInClear: the stored archive holds neither content nor the
// manifest's names in clear, and opens with no other key.
func TestNothingInClear(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 1)
	b := take(t, s, "20261205T011500Z-00000001")
	raw, err := os.ReadFile(filepath.Join(dir, key("acme", b.ID)))
	if err != nil {
		t.Fatal(err)
	}
	for _, clear := range []string{"rows of", "files of", "ledger", "manifest", "sqlite"} {
		if bytes.Contains(raw, []byte(clear)) {
			t.Errorf("the archive holds %q in clear", clear)
		}
	}
	other := openStore(t, dir, 2)
	if _, err := other.Unpack(t.Context(), "acme", b.ID); stamp.ErrorCode(err) != stamp.EINVALID || !strings.Contains(err.Error(), "not encrypted with a key this server has") {
		t.Errorf("Unpack with another master key: %v", err)
	}
}

// TestDamagedArchivesRefused: a flipped byte anywhere or a cut archive
// does not unpack, and leaves nothing in the work directory.
func TestDamagedArchivesRefused(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 1)
	b := take(t, s, "20261205T011500Z-00000001")
	path := filepath.Join(dir, key("acme", b.ID))
	good, _ := os.ReadFile(path)
	for name, bad := range map[string][]byte{
		"flipped": append(append([]byte{}, good[:len(good)-40]...), append([]byte{good[len(good)-40] ^ 1}, good[len(good)-39:]...)...),
		"cut":     good[:len(good)-20],
		"empty":   {},
	} {
		if err := os.WriteFile(path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Unpack(t.Context(), "acme", b.ID); stamp.ErrorCode(err) != stamp.EINVALID {
			t.Errorf("%s: Unpack got %v, want EINVALID", name, err)
		}
	}
	if entries, _ := os.ReadDir(s.work); len(entries) != 0 {
		t.Errorf("left in the work directory: %v", entries)
	}
}

// TestCutUploadNotListed: an archive whose upload never finished (its
// writer abandoned, as by a crash) is not a backup.
func TestCutUploadNotListed(t *testing.T) {
	s := openStore(t, t.TempDir(), 1)
	ctx, cancel := context.WithCancel(t.Context())
	m := &Manifest{ID: "20261205T011500Z-00000001", Tenant: "acme", Blueprint: "ledger", Version: "1", CreatedAt: s.clock.Now(),
		Databases: []Database{{Name: "main", Format: "sqlite", File: File{Path: "databases/main.sqlite"}}}}
	_, err := s.Take(ctx, m, []Part{{Path: "databases/main.sqlite", Write: func(ctx context.Context, w io.Writer) error {
		io.WriteString(w, strings.Repeat("x", 1<<20))
		cancel()
		return ctx.Err()
	}}})
	if err == nil {
		t.Fatal("Take with its part cut short succeeded")
	}
	if list, err := s.List(t.Context(), "acme"); err != nil || len(list) != 0 {
		t.Errorf("List after a cut backup: %+v, %v", list, err)
	}
}

// TestExportOpensWithPlainAge: an archive also encrypted to a customer's
// age key opens with the age format alone, and is zstd, tar, manifest.
func TestExportOpensWithPlainAge(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 1)
	customer, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	b := take(t, s, "20261205T011500Z-00000001", customer.Recipient())
	f, err := os.Open(filepath.Join(dir, key("acme", b.ID)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec, err := age.Decrypt(f, customer)
	if err != nil {
		t.Fatalf("the customer's key: %v", err)
	}
	zr, err := zstd.NewReader(dec)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	h, err := tr.Next()
	if err != nil || h.Name != "manifest.json" {
		t.Fatalf("first member %v, %v", h, err)
	}
	var m Manifest
	if err := json.NewDecoder(tr).Decode(&m); err != nil || m.Format != Format || m.Tenant != "acme" {
		t.Fatalf("manifest %+v, %v", m, err)
	}
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	if strings.Join(names, " ") != "databases/main.sqlite data.tar" {
		t.Errorf("members %v", names)
	}
}

func TestImport(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 1)
	b := take(t, s, "20261205T011500Z-00000001")
	var archive bytes.Buffer
	if err := s.Download(t.Context(), "acme", b.ID, &archive); err != nil {
		t.Fatal(err)
	}
	imported, m, err := s.Import(t.Context(), "initech", bytes.NewReader(archive.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if m.Tenant != "acme" || imported.Tenant != "initech" || imported.Version != "1.2.0" {
		t.Errorf("imported %+v from %+v", imported, m)
	}
	u, err := s.Unpack(t.Context(), "initech", imported.ID)
	if err != nil {
		t.Fatal(err)
	}
	u.Close()
	if _, _, err := s.Import(t.Context(), "initech", strings.NewReader("not an archive")); stamp.ErrorCode(err) != stamp.EINVALID {
		t.Errorf("Import of junk: %v, want EINVALID", err)
	}
	if list, _ := s.List(t.Context(), "initech"); len(list) != 1 {
		t.Errorf("initech's backups after a refused import: %+v", list)
	}
}
