package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestStatusLineOnATerminal: the status line is drawn while waiting and
// cleared before every line of output, on both streams, and at the end.
func TestStatusLineOnATerminal(t *testing.T) {
	var out bytes.Buffer
	sl := startStatusLine(&out, true, 5*time.Millisecond)
	other := sl.beside(&out)
	sl.set("waiting for health")
	deadline := time.Now().Add(5 * time.Second)
	for {
		sl.mu.Lock()
		drawn := sl.drawn
		sl.mu.Unlock()
		if drawn || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	fmt.Fprintln(sl, "  health    ok  1s")
	fmt.Fprintln(other, "  route     retrying: x")
	sl.stopDrawing()
	got := out.String()
	const clear = "\r\033[K"
	if !strings.Contains(got, clear+"  … waiting for health, 0s"+clear+"  health    ok  1s\n") {
		t.Errorf("output %q: want the status line drawn, then cleared before the step's line", got)
	}
	if strings.Count(got, "  … ") == 0 || strings.HasSuffix(got, "0s") {
		t.Errorf("output %q: want the status line cleared at the end", got)
	}
}

// TestStatusLineWhenPiped writes nothing of its own.
func TestStatusLineWhenPiped(t *testing.T) {
	var out bytes.Buffer
	sl := startStatusLine(&out, false, time.Millisecond)
	sl.set("waiting for health")
	time.Sleep(10 * time.Millisecond) // ten ticks that must draw nothing
	fmt.Fprintln(sl, "  health    ok  1s")
	fmt.Fprintln(sl.beside(&out), "ready")
	sl.stopDrawing()
	if got, want := out.String(), "  health    ok  1s\nready\n"; got != want {
		t.Errorf("piped output %q, want %q", got, want)
	}
}
