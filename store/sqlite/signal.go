package sqlite

import (
	"context"
	"sync"
)

// signal calls every function watching it when it fires.
type signal struct {
	mu       sync.Mutex
	watchers map[*func(bool)]struct{}
}

// fire calls every watcher with true.
func (s *signal) fire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for f := range s.watchers {
		(*f)(true)
	}
}

// watch calls f(true) now and at every fire until ctx ends, and returns
// ctx's error.
func (s *signal) watch(ctx context.Context, f func(bool)) error {
	s.mu.Lock()
	if s.watchers == nil {
		s.watchers = map[*func(bool)]struct{}{}
	}
	s.watchers[&f] = struct{}{}
	f(true)
	s.mu.Unlock()
	<-ctx.Done()
	s.mu.Lock()
	delete(s.watchers, &f)
	s.mu.Unlock()
	return ctx.Err()
}
