package bundle

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/internal/tmpfstest"
)

// TestExtractOnAFullDisk unpacks a bundle larger than the free space of
// a small tmpfs: the error says "no space left on device" and where,
// wraps ENOSPC and is no verdict on the archive (not unprocessable);
// nothing is left behind to be taken for the bundle; once space is freed
// the same call unpacks it whole.
func TestExtractOnAFullDisk(t *testing.T) {
	mnt := tmpfstest.Mount(t, 256<<10)
	big := strings.Repeat("0123456789abcdef", 32<<10) // 512 KiB, compressed to little
	content := archive(t, file("stamp.yaml", "name: x\n"), file("data/big", big))
	if err := Validate(content); err != nil {
		t.Fatalf("the test archive is invalid: %v", err)
	}
	dir := filepath.Join(mnt, "bundles", "x")

	err := Extract(content, dir)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Extract onto a full disk: got %v, want an error wrapping ENOSPC", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "no space left on device") || !strings.Contains(msg, dir) {
		t.Errorf("Extract onto a full disk: %q does not say there is no space left, and where (%s)", msg, dir)
	}
	if code := stamp.ErrorCode(err); code == stamp.EUNPROCESSABLE {
		t.Errorf("Extract onto a full disk: code %q blames the archive", code)
	}
	assertOnly(t, filepath.Dir(dir))

	tmpfstest.Resize(t, mnt, 2<<20)
	if err := Extract(content, dir); err != nil {
		t.Fatalf("Extract once space is freed: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "data", "big"))
	if err != nil || string(got) != big {
		t.Errorf("data/big after the retry: %d bytes (%v), want the %d of the archive", len(got), err, len(big))
	}
}
