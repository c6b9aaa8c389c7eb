package backup

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stamphq/stamp/keyring"
)

// s3URL returns the store URL of the S3-compatible server scripts/s3
// starts (STAMP_TEST_S3, with the credentials in AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY), or skips the test without one; with
// STAMP_TEST_S3_REQUIRED set it fails instead.
func s3URL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("STAMP_TEST_S3")
	if u == "" {
		if os.Getenv("STAMP_TEST_S3_REQUIRED") != "" {
			t.Fatal("STAMP_TEST_S3 is not set: run the tests through scripts/test, which starts an S3-compatible server")
		}
		t.Skip("no S3-compatible server: set STAMP_TEST_S3 (scripts/s3 start DIR prints it)")
	}
	return u
}

// TestS3Store runs the store against a real S3-compatible server: take,
// list, unpack, import, a cut upload never listed, delete. Each run
// keeps to tenants of its own, so runs sharing the bucket do not meet.
func TestS3Store(t *testing.T) {
	ring, err := keyring.New(bytes.Repeat([]byte{5}, keyring.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	clock := fixedClock{time.Now().UTC()}
	s, err := Open(t.Context(), s3URL(t), ring, t.TempDir(), clock)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tenant := "s3-" + strings.ToLower(NewID(time.Now())[16:])
	m := &Manifest{ID: NewID(clock.Now()), Tenant: tenant, Blueprint: "ledger", Version: "1.2.0", Reason: "manual", CreatedAt: clock.Now(),
		Databases: []Database{{Name: "main", Format: "sqlite", File: File{Path: "databases/main.sqlite"}}}}
	big := strings.Repeat("rows of a tenant ", 1<<18) // 4 MiB: a multipart upload
	b, err := s.Take(t.Context(), m, []Part{content("databases/main.sqlite", big)})
	if err != nil {
		t.Fatalf("Take: %v", err)
	}
	t.Cleanup(func() { s.Delete(context.WithoutCancel(t.Context()), tenant, b.ID) })

	// An upload cut short is never an object.
	ctx, cancel := context.WithCancel(t.Context())
	cut := &Manifest{ID: NewID(clock.Now().Add(time.Second)), Tenant: tenant, Blueprint: "ledger", Version: "1.2.0", CreatedAt: clock.Now(),
		Databases: []Database{{Name: "main", Format: "sqlite", File: File{Path: "databases/main.sqlite"}}}}
	_, err = s.Take(ctx, cut, []Part{{Path: "databases/main.sqlite", Write: func(ctx context.Context, w io.Writer) error {
		io.WriteString(w, big)
		cancel()
		return ctx.Err()
	}}})
	if err == nil {
		t.Fatal("a Take cut short succeeded")
	}
	list, err := s.List(t.Context(), tenant)
	if err != nil || len(list) != 1 || list[0].ID != b.ID || list[0].Version != "1.2.0" || list[0].Size != b.Size {
		t.Fatalf("List: %+v, %v; want the one backup %+v", list, err, b)
	}
	u, err := s.Unpack(t.Context(), tenant, b.ID)
	if err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	f, err := u.Open("databases/main.sqlite")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	u.Close()
	if string(got) != big {
		t.Errorf("unpacked %d bytes, want the %d taken", len(got), len(big))
	}
	keys, err := s.KeysInUse(t.Context())
	if err != nil || !keys[ring.ActiveID()] {
		t.Errorf("KeysInUse: %v, %v", keys, err)
	}
	var archive bytes.Buffer
	if err := s.Download(t.Context(), tenant, b.ID, &archive); err != nil {
		t.Fatal(err)
	}
	imported, _, err := s.Import(t.Context(), tenant+"-b", &archive)
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if err := s.Delete(t.Context(), tenant+"-b", imported.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(t.Context(), tenant, b.ID); err != nil {
		t.Fatal(err)
	}
	if list, err := s.List(t.Context(), tenant); err != nil || len(list) != 0 {
		t.Errorf("List after Delete: %+v, %v", list, err)
	}
}
