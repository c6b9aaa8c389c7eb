package main

import (
	"sync"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// procSet tracks running processes so cleanup can kill whatever is left.
type procSet struct {
	mu    sync.Mutex
	procs map[*benchkit.Proc]bool
}

func newProcSet() *procSet { return &procSet{procs: map[*benchkit.Proc]bool{}} }

func (s *procSet) add(p *benchkit.Proc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.procs[p] = true
}

func (s *procSet) remove(p *benchkit.Proc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.procs, p)
}

// killAll kills every tracked process.
func (s *procSet) killAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range s.procs {
		p.Kill()
		delete(s.procs, p)
	}
}
