package reconcile

import (
	"fmt"
	"testing"

	stamp "github.com/stamphq/stamp"
)

// TestLeftoversAreBounded: a resync queues for removal a few tenants the
// driver holds and the store does not know (deletions cut short), but
// not so many that the store looks to have lost them (a wrong or emptied
// store), unless RemoveLeftovers says they were deleted.
func TestLeftoversAreBounded(t *testing.T) {
	for _, tt := range []struct {
		unknown  int
		override bool
		queued   int
	}{
		{unknown: 3, queued: 3},
		{unknown: 4, queued: 0},
		{unknown: 40, queued: 0},
		{unknown: 40, override: true, queued: 40},
	} {
		t.Run(fmt.Sprintf("%d unknown, override %t", tt.unknown, tt.override), func(t *testing.T) {
			f := newFixture(t)
			f.r.cfg.RemoveLeftovers = tt.override
			f.d.mu.Lock()
			for i := range tt.unknown {
				f.d.runtimes[fmt.Sprintf("gone-%d", i)] = map[string]*stamp.Runtime{}
			}
			f.d.mu.Unlock()
			if err := f.r.resync(f.ctx); err != nil {
				t.Fatal(err)
			}
			if got := f.r.queue.len(); got != tt.queued {
				t.Errorf("queued: got %d, want %d", got, tt.queued)
			}
		})
	}
}
