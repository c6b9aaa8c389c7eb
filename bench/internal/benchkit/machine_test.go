package benchkit

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRSSKiB(t *testing.T) {
	kib, err := RSSKiB(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if kib < 1024 {
		t.Errorf("RSS of the test binary: got %d KiB, want at least a MiB", kib)
	}
	p := start(t, exec.Command("true"))
	<-p.Exited() // and reaped, so its /proc entry is gone
	if _, err := RSSKiB(p.PID()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("RSS of an exited process: got %v, want an error wrapping os.ErrNotExist", err)
	}
}

func TestPeakRSSKiB(t *testing.T) {
	// The peak, read second, counts at least the RSS read first.
	rss, err := RSSKiB(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	peak, err := PeakRSSKiB(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if peak < rss {
		t.Errorf("peak RSS of the test binary %d KiB is below its RSS %d KiB", peak, rss)
	}
	p := start(t, exec.Command("true"))
	<-p.Exited()
	if _, err := PeakRSSKiB(p.PID()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("peak RSS of an exited process: got %v, want an error wrapping os.ErrNotExist", err)
	}
}

// rusage returns the user plus system CPU time of this process.
func rusage(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestCPUTime(t *testing.T) {
	before := rusage(t)
	got, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	after := rusage(t)
	// /proc counts user and system time each in whole ticks of 10 ms;
	// getrusage is finer.
	const slack = 2 * time.Second / userHZ
	if got < before-slack || got > after+slack {
		t.Errorf("CPUTime of this process: got %s, want between %s and %s (getrusage, give or take two ticks)", got, before, after)
	}
	if _, err := CPUTime(-1); err == nil {
		t.Error("CPUTime of pid -1: got no error")
	}
}

func TestMemAvailableAndTotalKiB(t *testing.T) {
	avail, err := MemAvailableKiB()
	if err != nil {
		t.Fatal(err)
	}
	total, err := MemTotalKiB()
	if err != nil {
		t.Fatal(err)
	}
	if avail <= 0 || avail > total {
		t.Errorf("got %d KiB available of %d, want more than none and at most the total", avail, total)
	}
}

func TestLoadAverage(t *testing.T) {
	got := LoadAverage()
	f := strings.Fields(got)
	if len(f) != 3 {
		t.Fatalf("got %q, want three load averages", got)
	}
	for _, x := range f {
		if _, err := strconv.ParseFloat(x, 64); err != nil {
			t.Errorf("got %q: %q is not a number", got, x)
		}
	}
}

func TestModelName(t *testing.T) {
	for _, tt := range []struct{ cpuinfo, want string }{
		{"processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\nflags\t: fpu\n\nprocessor\t: 1\nmodel name\t: AMD EPYC\n", "AMD EPYC"},
		{"processor\t: 0\nCPU implementer\t: 0x41\n", "unknown"},
	} {
		if got := modelName(tt.cpuinfo); got != tt.want {
			t.Errorf("modelName(%q): got %q, want %q", tt.cpuinfo, got, tt.want)
		}
	}
}
