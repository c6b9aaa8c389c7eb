package local

import (
	"os"
	"testing"
)

// TestReadStatBoundsTheEnvironment checks the fields readEnviron relies on
// to tell a process mid-exec (no environment yet) from one that has one.
func TestReadStatBoundsTheEnvironment(t *testing.T) {
	st, err := readStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.envEnd <= st.envStart {
		t.Fatalf("stat of the test process: environment at [%d, %d), want a non-empty range", st.envStart, st.envEnd)
	}
	if st.flags&pfKthread != 0 {
		t.Fatalf("stat of the test process: flags %#x mark a kernel thread", st.flags)
	}
	env, err := readEnviron(os.Getpid())
	if err != nil || len(env) == 0 {
		t.Fatalf("readEnviron of the test process: %d bytes, %v", len(env), err)
	}
}
