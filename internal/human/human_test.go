package human

import (
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0µs", 350 * time.Microsecond: "350µs", 3 * time.Millisecond: "3ms", 999 * time.Millisecond: "999ms",
		1200 * time.Millisecond: "1.2s", 95 * time.Second: "95.0s",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestAge(t *testing.T) {
	now := time.Now()
	for ago, want := range map[time.Duration]string{
		5 * time.Second: "5s", 5 * time.Minute: "5m", 30 * time.Hour: "30h", 72 * time.Hour: "3d",
	} {
		if got := Age(now.Add(-ago)); got != want {
			t.Errorf("Age of %v ago = %q, want %q", ago, got, want)
		}
	}
	if got := Age(time.Time{}); got != "-" {
		t.Errorf("Age(zero) = %q, want -", got)
	}
}
