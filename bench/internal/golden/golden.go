// Package golden compares a benchmark's report with its golden file in
// testdata, so that any change to a report's format shows as a change of
// that file. `go test -update` rewrites the files instead.
package golden

import (
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden reports in testdata")

// Check fails t if got differs from the file at path, or with -update
// writes got there.
func Check(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("markdown differs from %s (rerun with -update if the change is meant):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
