package benchkit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildLedger builds the example app into a temporary directory.
func buildLedger(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the example app")
	}
	root, err := ModuleRoot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "ledger")
	if err := GoBuild(context.Background(), root, "-o", bin, "./examples/ledger"); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestFloorSample starts the real app by hand once: its times come in
// order, and it leaves no directory and no process behind.
func TestFloorSample(t *testing.T) {
	f := &Floor{Ledger: buildLedger(t), Dir: t.TempDir(), DB: SQLiteFloor{}}
	t.Cleanup(f.KillAll)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := f.Sample(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	inOrder := []struct {
		name string
		at   time.Time
	}{{"start", s.Start}, {"created", s.Created}, {"migrated", s.Migrated}, {"healthy", s.Healthy}, {"end", s.End}}
	for i := 1; i < len(inOrder); i++ {
		if inOrder[i].at.Before(inOrder[i-1].at) {
			t.Errorf("%s %s before %s %s", inOrder[i].name, inOrder[i].at, inOrder[i-1].name, inOrder[i-1].at)
		}
	}
	if s.Seeded.Before(s.Migrated) || s.End.Before(s.Seeded) {
		t.Errorf("seeded %s: want between migrated %s and end %s", s.Seeded, s.Migrated, s.End)
	}
	if s.Took() <= 0 || s.Took() != s.End.Sub(s.Start) {
		t.Errorf("Took %s, want end less start, %s", s.Took(), s.End.Sub(s.Start))
	}
	if _, err := os.Stat(filepath.Join(f.Dir, "7")); !os.IsNotExist(err) {
		t.Errorf("the sample's directory after it: %v, want it removed", err)
	}
	if len(f.procs) != 0 {
		t.Errorf("%d processes still tracked after the sample", len(f.procs))
	}
}

// TestFloorSampleFails: a binary that is not the app fails the sample,
// saying which.
func TestFloorSampleFails(t *testing.T) {
	f := &Floor{Ledger: "false", Dir: t.TempDir(), DB: SQLiteFloor{}}
	_, err := f.Sample(context.Background(), 3)
	if err == nil {
		t.Fatal("a sample of false: got no error")
	}
	if want := "floor 3: ledger migrate:"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start with %q", err, want)
	}
}
