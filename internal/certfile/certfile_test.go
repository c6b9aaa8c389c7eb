package certfile

import (
	"crypto/x509"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stamphq/stamp/internal/certfile/testcert"
)

// serial returns the serial number of the certificate r serves now,
// forcing a look at the files.
func serial(t *testing.T, r *Reloader) int64 {
	t.Helper()
	r.mu.Lock()
	r.checked = time.Time{}
	r.mu.Unlock()
	c, err := r.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.SerialNumber.Int64()
}

// TestReloadsChangedFiles: a new pair written over the files is served
// from the next look at them; a broken one leaves the pair in use.
func TestReloadsChangedFiles(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	testcert.Write(t, cert, key, 1)
	r, err := Load(cert, key, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if got := serial(t, r); got != 1 {
		t.Fatalf("serial: got %d, want 1", got)
	}
	testcert.Write(t, cert, key, 2)
	later := time.Now().Add(2 * time.Second) // a coarse clock must not hide the change
	os.Chtimes(cert, later, later)
	if got := serial(t, r); got != 2 {
		t.Errorf("serial after the files changed: got %d, want 2", got)
	}
	if err := os.WriteFile(key, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := serial(t, r); got != 2 {
		t.Errorf("serial after a broken key: got %d, want still 2", got)
	}
	if _, err := Load(cert, filepath.Join(dir, "missing.key"), nil); err == nil {
		t.Errorf("Load with a missing key: no error")
	}
}

// TestReloadOnHangup: a SIGHUP loads the pair anew.
func TestReloadOnHangup(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	testcert.Write(t, cert, key, 1)
	r, err := Load(cert, key, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	r.ReloadOnHangup(t.Context())
	testcert.Write(t, cert, key, 3)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		c := r.cert
		r.mu.Unlock()
		leaf, _ := x509.ParseCertificate(c.Certificate[0])
		if leaf.SerialNumber.Int64() == 3 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the SIGHUP did not load the new pair")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
