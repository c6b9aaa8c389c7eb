package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
)

// statusLine keeps one status line at the bottom of a terminal while a
// command waits ("waiting for health, 4s"), redrawn every half second
// and cleared before each line of real output, so the output reads the
// same as without it. When the output is not a terminal (a pipe, a file,
// a test), it writes nothing of its own: the output stays line-based.
type statusLine struct {
	mu     sync.Mutex
	w      io.Writer
	on     bool // a terminal: the status line is drawn
	status string
	since  time.Time
	drawn  bool
	stop   chan struct{}
	done   chan struct{}
}

// newStatusLine starts a status line on w if w is a terminal. Stop it with
// stop.
func newStatusLine(w io.Writer) *statusLine {
	f, ok := w.(*os.File)
	return startStatusLine(w, ok && isatty.IsTerminal(f.Fd()), 500*time.Millisecond)
}

func startStatusLine(w io.Writer, on bool, every time.Duration) *statusLine {
	p := &statusLine{w: w, on: on, since: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	if !on {
		close(p.done)
		return p
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.mu.Lock()
				p.draw()
				p.mu.Unlock()
			}
		}
	}()
	return p
}

// set names what is awaited now; the elapsed time restarts.
func (p *statusLine) set(status string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status, p.since = status, time.Now()
}

// Write writes a line of real output above the status line.
func (p *statusLine) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	return p.w.Write(b)
}

// beside returns a writer for another stream to the same terminal (stderr
// beside stdout): it clears the status line before writing too.
func (p *statusLine) beside(w io.Writer) io.Writer {
	return writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.clear()
		return w.Write(b)
	})
}

// writerFunc is a function as an io.Writer.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// stopDrawing ends the status line and clears it.
func (p *statusLine) stopDrawing() {
	if p.on {
		close(p.stop)
	}
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}

func (p *statusLine) draw() {
	if p.status == "" {
		return
	}
	fmt.Fprintf(p.w, "\r\033[K  … %s, %s", p.status, time.Since(p.since).Round(time.Second))
	p.drawn = true
}

func (p *statusLine) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}
