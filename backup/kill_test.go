package backup

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// killedStoreEnv names the store directory a child process backs up to
// in TestKilledBackupNotListed.
const killedStoreEnv = "STAMP_TEST_KILLED_BACKUP_STORE"

// killedWorkEnv names the child's work directory.
const killedWorkEnv = "STAMP_TEST_KILLED_BACKUP_WORK"

// TestKilledBackupNotListed kills a process with SIGKILL while it
// uploads a backup's archive: nothing of it is listed, and the next
// backup is.
func TestKilledBackupNotListed(t *testing.T) {
	if dir := os.Getenv(killedStoreEnv); dir != "" {
		bigBackup(t, dir)
		return
	}
	dir, work := t.TempDir(), t.TempDir() // the child leaves its files here
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledBackupNotListed$")
	cmd.Env = append(os.Environ(), killedStoreEnv+"="+dir, killedWorkEnv+"="+work)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	// Kill it once its upload has written a few megabytes.
	uploading := func() string {
		var found string
		filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
			if info, ierr := os.Stat(p); err == nil && ierr == nil && strings.HasSuffix(p, ".tmp") && info.Size() > 4<<20 {
				found = p
			}
			return nil
		})
		return found
	}
	deadline := time.Now().Add(time.Minute)
	for uploading() == "" {
		if time.Now().After(deadline) {
			t.Fatal("the child's upload never got under way")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	s := openStore(t, dir, 1)
	list, err := s.List(t.Context(), "acme")
	if err != nil || len(list) != 0 {
		t.Fatalf("List after a backup killed half way: %+v, %v; want none", list, err)
	}
	take(t, s, "20261205T011700Z-00000003")
	if list, _ := s.List(t.Context(), "acme"); len(list) != 1 {
		t.Errorf("List after the next backup: %+v", list)
	}
}

// bigBackup is the child of TestKilledBackupNotListed: it backs up to the
// store at dir 256 MiB that do not compress, and is killed on the way.
func bigBackup(t *testing.T, dir string) {
	s := openStoreIn(t, dir, os.Getenv(killedWorkEnv), 1)
	m := &Manifest{ID: "20261205T011500Z-00000001", Tenant: "acme", Blueprint: "ledger", Version: "1", CreatedAt: s.clock.Now(),
		Databases: []Database{{Name: "main", Format: "sqlite", File: File{Path: "databases/main.sqlite"}}}}
	noise := rand.NewChaCha8([32]byte{1})
	_, err := s.Take(context.Background(), m, []Part{{Path: "databases/main.sqlite", Write: func(ctx context.Context, w io.Writer) error {
		_, err := io.CopyN(w, noise, 256<<20)
		return err
	}}})
	t.Fatalf("the backup ended (%v) before it was killed", err)
}

// TestStaleUploads: the file a killed upload left is found once it is
// old enough, and removed; archives are never taken for one.
func TestStaleUploads(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 1)
	take(t, s, "20261205T011500Z-00000001")
	left := filepath.Join(dir, "tenants", "acme", "20261205T011600Z-00000002.stamp.18a2b3c4d5.tmp")
	if err := os.WriteFile(left, []byte("half an archive"), 0o600); err != nil {
		t.Fatal(err)
	}
	if stale, err := s.StaleUploads(t.Context(), time.Hour, false); err != nil || len(stale) != 0 {
		t.Fatalf("a fresh upload file taken for stale: %v %v", stale, err)
	}
	old := s.clock.Now().Add(-2 * time.Hour)
	os.Chtimes(left, old, old)
	stale, err := s.StaleUploads(t.Context(), time.Hour, false)
	if err != nil || len(stale) != 1 || !strings.HasSuffix(stale[0], ".tmp") {
		t.Fatalf("StaleUploads: %v %v", stale, err)
	}
	if _, err := os.Stat(left); err == nil {
		t.Errorf("the stale upload is still there")
	}
	if list, _ := s.List(t.Context(), "acme"); len(list) != 1 {
		t.Errorf("the archive went with it: %v", list)
	}
}
