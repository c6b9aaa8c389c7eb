package local

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stamphq/stamp"
)

// TestTaskLeavesNoProcess runs hooks that fork a child holding their
// output open, in the hook's process group and out of it (setsid): once
// the hook ends, by itself or past its timeout, no process of it is left.
func TestTaskLeavesNoProcess(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		timedOut     bool
	}{
		{"timeout-group", "sleep 600 & echo child $!; wait", true},
		{"timeout-setsid", "setsid sleep 600 & echo child $!; wait", true},
		{"exited-setsid", "setsid sleep 600 & echo child $!", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := newDir(t)
			d := open(t, dir)
			task := &stamp.Task{Name: "hook", Bundle: app.ref, Command: []string{"sh", "-c", tc.script}, Timeout: 2 * time.Second}
			start := time.Now()
			res, err := d.RunTask(context.Background(), "acme", task)
			if err != nil {
				t.Fatalf("run task: %v", err)
			}
			if took := time.Since(start); took > 15*time.Second {
				t.Errorf("the task took %s, want about its 2s timeout at most", took)
			}
			if tc.timedOut && (res.ExitCode != -1 || !strings.Contains(res.Output, "timed out after 2s")) {
				t.Errorf("got exit code %d, output %q; want -1 and the timeout named", res.ExitCode, res.Output)
			}
			if !tc.timedOut && res.ExitCode != 0 {
				t.Errorf("got exit code %d, output %q; want 0", res.ExitCode, res.Output)
			}
			m := regexp.MustCompile(`child (\d+)`).FindStringSubmatch(res.Output)
			if m == nil {
				t.Fatalf("the hook did not name its child: %q", res.Output)
			}
			eventually(t, "the hook's child "+m[1]+" to be gone", func() bool {
				return !slices.Contains(markedIDs(dir), "acme/task:hook")
			})
		})
	}
}
