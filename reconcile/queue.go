package reconcile

import (
	"slices"
	"sync"
	"time"
)

// queue is a work queue of tenant names in the style of client-go's
// workqueue: a name waits at most once, a name being worked on is never
// handed to a second worker, and a name added while it is being worked on
// is handed out again once that work is done. It remembers when each name
// was first queued so steps can report their wait time.
type queue struct {
	mu       sync.Mutex
	cond     *sync.Cond
	order    []string             // waiting names, oldest first
	waiting  map[string]time.Time // name -> when it was queued
	active   map[string]bool      // names a worker holds
	dirty    map[string]time.Time // active names queued again meanwhile
	urgent   map[string]bool      // dirty names to put first (addFirst)
	timers   map[string]*delayed
	shutdown bool
	now      func() time.Time
}

func newQueue(now func() time.Time) *queue {
	q := &queue{
		waiting: map[string]time.Time{},
		active:  map[string]bool{},
		dirty:   map[string]time.Time{},
		urgent:  map[string]bool{},
		timers:  map[string]*delayed{},
		now:     now,
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// add queues name now.
func (q *queue) add(name string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(name, q.now(), false)
}

// addFirst queues name ahead of every waiting name: someone waits on it
// (a request for a sleeping tenant). A name being worked on goes first
// once that work is done.
func (q *queue) addFirst(name string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(name, q.now(), true)
}

func (q *queue) addLocked(name string, at time.Time, first bool) {
	if q.shutdown {
		return
	}
	if q.active[name] {
		if _, ok := q.dirty[name]; !ok {
			q.dirty[name] = at
		}
		q.urgent[name] = q.urgent[name] || first
		return
	}
	if _, ok := q.waiting[name]; ok {
		if first {
			i := slices.Index(q.order, name)
			q.order = slices.Insert(slices.Delete(q.order, i, i+1), 0, name)
		}
		return
	}
	q.waiting[name] = at
	if first {
		q.order = slices.Insert(q.order, 0, name)
	} else {
		q.order = append(q.order, name)
	}
	q.cond.Signal()
}

// addAfter queues name once delay has passed; a later addAfter for the same
// name replaces the earlier one, an add in between makes it moot.
func (q *queue) addAfter(name string, delay time.Duration) {
	q.after(name, delay, false)
}

// finishAfter is addAfter that queues name ahead of every waiting name,
// as addFirst does: the last step of work under way (an upgrade's
// retire, once its drain is over) goes before work not begun, which
// would otherwise hold it back, a release's next tenants and a resync's
// every tenant among them.
func (q *queue) finishAfter(name string, delay time.Duration) {
	q.after(name, delay, true)
}

func (q *queue) after(name string, delay time.Duration, first bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown {
		return
	}
	if d := q.timers[name]; d != nil {
		d.timer.Stop()
	}
	d := &delayed{first: first}
	d.timer = time.AfterFunc(delay, func() { q.fire(name, d) })
	q.timers[name] = d
}

// delayed is one pending addAfter: its identity tells a stale firing
// from the current one.
type delayed struct {
	timer *time.Timer
	first bool // queue the name first (finishAfter)
}

// fire queues name for d, unless d was replaced meanwhile: a timer that
// fired just as addAfter stopped it (Stop came too late, and its
// callback waited for the lock) must neither queue the name early nor
// drop the entry of the timer that replaced it.
func (q *queue) fire(name string, d *delayed) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.timers[name] != d {
		return
	}
	delete(q.timers, name)
	q.addLocked(name, q.now(), d.first)
}

// get blocks until a name is waiting and hands it out, with the time it was
// queued. ok is false once the queue is shut down.
func (q *queue) get() (name string, queued time.Time, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.order) == 0 && !q.shutdown {
		q.cond.Wait()
	}
	if q.shutdown {
		return "", time.Time{}, false
	}
	name, q.order = q.order[0], q.order[1:]
	queued = q.waiting[name]
	delete(q.waiting, name)
	q.active[name] = true
	return name, queued, true
}

// done releases name; if it was queued again while held, it waits again.
func (q *queue) done(name string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.active, name)
	if at, ok := q.dirty[name]; ok {
		first := q.urgent[name]
		delete(q.dirty, name)
		delete(q.urgent, name)
		q.addLocked(name, at, first)
	}
}

// len returns how many names wait.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.order)
}

// shutDown wakes every get with ok false and drops pending timers.
func (q *queue) shutDown() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.shutdown = true
	for _, d := range q.timers {
		d.timer.Stop()
	}
	q.cond.Broadcast()
}
