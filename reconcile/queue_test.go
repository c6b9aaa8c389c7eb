package reconcile

import (
	"slices"
	"sync"
	"testing"
	"time"
)

func TestQueueDeduplicates(t *testing.T) {
	q := newQueue(time.Now)
	q.add("acme")
	q.add("acme")
	q.add("globex")
	if got := q.len(); got != 2 {
		t.Fatalf("len = %d, want 2", got)
	}
	name, _, _ := q.get()
	if name != "acme" {
		t.Fatalf("first = %q, want %q", name, "acme")
	}
}

func TestQueueRequeuesNameAddedWhileActive(t *testing.T) {
	q := newQueue(time.Now)
	q.add("acme")
	name, _, _ := q.get()
	q.add(name) // arrives while a worker holds it
	if got := q.len(); got != 0 {
		t.Fatalf("len while active = %d, want 0", got)
	}
	q.done(name)
	if got := q.len(); got != 1 {
		t.Fatalf("len after done = %d, want 1", got)
	}
}

func TestQueueNeverHandsOneNameToTwoWorkers(t *testing.T) {
	q := newQueue(time.Now)
	var mu sync.Mutex
	holding := map[string]bool{}
	var wg sync.WaitGroup
	defer func() { q.shutDown(); wg.Wait() }()
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				name, _, ok := q.get()
				if !ok {
					return
				}
				mu.Lock()
				if holding[name] {
					t.Errorf("%q handed to two workers", name)
				}
				holding[name] = true
				mu.Unlock()
				// Hold the name a while, as a pass does, so that adds
				// of it land while it is held.
				time.Sleep(time.Millisecond)
				mu.Lock()
				holding[name] = false
				mu.Unlock()
				q.done(name)
			}
		}()
	}
	for i := 0; i < 200; i++ {
		q.add([]string{"a", "b", "c"}[i%3])
	}
	eventually(t, 10*time.Second, "the workers to take every name", func() bool { return q.len() == 0 })
}

func TestQueueAddAfter(t *testing.T) {
	q := newQueue(time.Now)
	q.addAfter("acme", 10*time.Millisecond)
	got := make(chan string, 1)
	go func() {
		name, _, _ := q.get()
		got <- name
	}()
	select {
	case name := <-got:
		if name != "acme" {
			t.Fatalf("got %q, want %q", name, "acme")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("delayed name never arrived")
	}
}

// TestQueueStaleTimerFiring replays a timer that fired just as a second
// addAfter replaced it (its Stop came too late and its callback waited
// for the lock): the stale firing must not queue the name before the
// new delay, nor drop the new timer, whose own firing still queues it.
func TestQueueStaleTimerFiring(t *testing.T) {
	q := newQueue(time.Now)
	defer q.shutDown()
	q.addAfter("acme", time.Hour)
	q.mu.Lock()
	stale := q.timers["acme"]
	q.mu.Unlock()
	q.addAfter("acme", time.Hour)
	q.fire("acme", stale)
	if n := q.len(); n != 0 {
		t.Fatalf("after the stale timer fired: %d names wait, want none before the new delay", n)
	}
	q.mu.Lock()
	current := q.timers["acme"]
	q.mu.Unlock()
	if current == nil || current == stale {
		t.Fatalf("the replacing timer is gone from the queue (%v)", current)
	}
	q.fire("acme", current)
	if n := q.len(); n != 1 {
		t.Errorf("after the current timer fired: %d names wait, want 1", n)
	}
}

// TestQueueAddFirst puts a name someone waits on ahead of the others:
// a new one, one already waiting, and one being worked on (first once
// its work is done).
func TestQueueAddFirst(t *testing.T) {
	q := newQueue(time.Now)
	for _, name := range []string{"a", "b", "c"} {
		q.add(name)
	}
	q.addFirst("sleepy")
	q.addFirst("c") // waiting already: moved to the front
	order := func(n int) []string {
		var got []string
		for range n {
			name, _, _ := q.get()
			got = append(got, name)
			q.done(name)
		}
		return got
	}
	if got := order(4); !slices.Equal(got, []string{"c", "sleepy", "a", "b"}) {
		t.Fatalf("order = %v, want [c sleepy a b]", got)
	}
	q.add("x")
	q.add("busy")
	q.add("y")
	name, _, _ := q.get() // x
	busy, _, _ := q.get()
	q.addFirst(busy) // a request for it while a worker holds it
	q.done(busy)
	q.done(name)
	if got := order(2); !slices.Equal(got, []string{"busy", "y"}) {
		t.Fatalf("after the held name's work: order = %v, want [busy y]", got)
	}
}

// TestQueueFinishAfter queues a name, once its delay is over, ahead of
// those waiting already.
func TestQueueFinishAfter(t *testing.T) {
	q := newQueue(time.Now)
	q.finishAfter("draining", 10*time.Millisecond)
	q.add("a")
	eventually(t, time.Second, "the drained name to be queued", func() bool { return q.len() == 2 })
	q.add("b")
	var got []string
	for range 3 {
		name, _, _ := q.get()
		got = append(got, name)
		q.done(name)
	}
	if want := []string{"draining", "a", "b"}; !slices.Equal(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
}
