package storetest

import (
	"sync"
	"testing"

	"github.com/stamphq/stamp"
)

func testBundleYank(t *testing.T, s stamp.Store) {
	mustCreateBundle(t, s, newBundle("ledger", "1.0.0", "ledger one"))
	mustCreateBundle(t, s, newBundle("ledger", "2.0.0", "ledger two"))
	ev := &stamp.Event{Type: stamp.EventBlueprintYanked, Message: "ledger@1.0.0"}
	yanked, changed, err := s.SetYanked(t.Context(), "ledger", "1.0.0", true, "corrupts invoices", ev)
	if err != nil || !changed {
		t.Fatalf("SetYanked: changed %v, %v; want a change", changed, err)
	}
	if !yanked.Yanked || yanked.YankedAt.IsZero() || yanked.YankReason != "corrupts invoices" || yanked.Content != nil {
		t.Errorf("SetYanked returned %+v; want it yanked now, with the reason and no content", yanked)
	}
	if ev.Seq == 0 || ev.Time.IsZero() {
		t.Errorf("the yank's event: seq %d, time %v; want both set", ev.Seq, ev.Time)
	}
	got, err := s.GetBundle(t.Context(), "ledger", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "GetBundle of the yanked version", normBundle(got), normBundle(yanked))
	list, err := s.ListBundles(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || !list[0].Yanked || list[0].YankReason != "corrupts invoices" || list[1].Yanked {
		t.Errorf("ListBundles: %+v, %+v; want 1.0.0 yanked, 2.0.0 not", list[0], list[len(list)-1])
	}

	// Again: nothing changes, no event, the first yank's time and reason stay.
	again := &stamp.Event{Type: stamp.EventBlueprintYanked}
	b, changed, err := s.SetYanked(t.Context(), "ledger", "1.0.0", true, "another reason", again)
	if err != nil || changed || again.Seq != 0 {
		t.Errorf("SetYanked again: changed %v, event seq %d, %v; want no change, no event", changed, again.Seq, err)
	}
	assertEqual(t, "SetYanked again", normBundle(b), normBundle(yanked))
	// Pushing the same content again keeps the yank.
	mustCreateBundle(t, s, newBundle("ledger", "1.0.0", "ledger one"))
	if got, err := s.GetBundle(t.Context(), "ledger", "1.0.0"); err != nil || !got.Yanked {
		t.Errorf("after pushing the yanked version again: %+v, %v; want it yanked still", got, err)
	}

	unyank := &stamp.Event{Type: stamp.EventBlueprintUnyanked}
	b, changed, err = s.SetYanked(t.Context(), "ledger", "1.0.0", false, "ignored", unyank)
	if err != nil || !changed || unyank.Seq <= ev.Seq {
		t.Fatalf("unyank: changed %v, event seq %d, %v; want a change and its event", changed, unyank.Seq, err)
	}
	if b.Yanked || !b.YankedAt.IsZero() || b.YankReason != "" {
		t.Errorf("unyank returned %+v; want no yank left", b)
	}
	if got, err := s.GetBundle(t.Context(), "ledger", "1.0.0"); err != nil || got.Yanked || !got.YankedAt.IsZero() || got.YankReason != "" {
		t.Errorf("GetBundle after unyank: %+v, %v", got, err)
	}
	if _, changed, err := s.SetYanked(t.Context(), "ledger", "1.0.0", false, ""); err != nil || changed {
		t.Errorf("unyank again: changed %v, %v; want no change", changed, err)
	}
	assertEqual(t, "events", len(mustListEvents(t, s, stamp.EventFilter{})), 2)

	missing := &stamp.Event{Type: stamp.EventBlueprintYanked}
	_, _, err = s.SetYanked(t.Context(), "ledger", "9.9.9", true, "", missing)
	assertError(t, err, stamp.ENOTFOUND, "blueprint ledger@9.9.9 does not exist")
	if missing.Seq != 0 || len(mustListEvents(t, s, stamp.EventFilter{})) != 2 {
		t.Errorf("a yank of a missing version appended its event")
	}
}

// testBundleYankRace yanks one version from many callers at once: one
// changes it and records its event, the others find it yanked.
func testBundleYankRace(t *testing.T, s stamp.Store) {
	mustCreateBundle(t, s, newBundle("ledger", "1.0.0", "ledger one"))
	const racers = 8
	var wg sync.WaitGroup
	changes := make(chan bool, racers)
	start := make(chan struct{})
	for range racers {
		wg.Go(func() {
			<-start
			_, changed, err := s.SetYanked(t.Context(), "ledger", "1.0.0", true, "bad", &stamp.Event{Type: stamp.EventBlueprintYanked})
			if err != nil {
				t.Errorf("SetYanked: %v", err)
			}
			changes <- changed
		})
	}
	close(start)
	wg.Wait()
	close(changes)
	n := 0
	for c := range changes {
		if c {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d of %d racing yanks changed the version, want 1", n, racers)
	}
	if got := len(mustListEvents(t, s, stamp.EventFilter{})); got != 1 {
		t.Errorf("%d events after racing yanks, want 1", got)
	}
}
