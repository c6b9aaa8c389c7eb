package benchkit

import (
	"fmt"
	"testing"
	"time"
)

// millis returns 1 ms, 2 ms, ... n ms, in reverse order.
func millis(n int) []time.Duration {
	var ds []time.Duration
	for i := n; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	return ds
}

func same(d time.Duration) time.Duration { return d }

func TestPercentile(t *testing.T) {
	tests := []struct {
		n    int
		p    float64
		want time.Duration
	}{
		{n: 0, p: 50, want: 0},
		{n: 1, p: 50, want: 1 * time.Millisecond},
		{n: 1, p: 99, want: 1 * time.Millisecond},
		{n: 10, p: 50, want: 5 * time.Millisecond},
		{n: 10, p: 99, want: 10 * time.Millisecond},
		{n: 50, p: 50, want: 25 * time.Millisecond},
		{n: 50, p: 99, want: 50 * time.Millisecond},
		{n: 200, p: 50, want: 100 * time.Millisecond},
		{n: 200, p: 99, want: 198 * time.Millisecond},
		{n: 200, p: 100, want: 200 * time.Millisecond},
		{n: 500, p: 50, want: 250 * time.Millisecond},
		{n: 500, p: 99, want: 495 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("p%v of %d", tt.p, tt.n), func(t *testing.T) {
			if got := Percentile(millis(tt.n), same, tt.p); got != tt.want {
				t.Errorf("p%v of 1..%d ms: got %s, want %s", tt.p, tt.n, got, tt.want)
			}
		})
	}
}

// TestPercentileOf checks that the percentile is of the values of, not of
// the items' order.
func TestPercentileOf(t *testing.T) {
	type span struct{ start, end time.Duration }
	spans := []span{{0, 30}, {10, 15}, {5, 25}} // 30, 5, 20
	took := func(s span) time.Duration { return s.end - s.start }
	if got, want := Percentile(spans, took, 50), time.Duration(20); got != want {
		t.Errorf("p50: got %s, want %s", got, want)
	}
	if got, want := Percentile(spans, took, 1), time.Duration(5); got != want {
		t.Errorf("p1: got %s, want %s", got, want)
	}
}

func TestMean(t *testing.T) {
	tests := []struct {
		in   []time.Duration
		want time.Duration
	}{
		{in: nil, want: 0},
		{in: millis(1), want: time.Millisecond},
		{in: millis(4), want: 2500 * time.Microsecond},
	}
	for _, tt := range tests {
		if got := Mean(tt.in, same); got != tt.want {
			t.Errorf("Mean(%v): got %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestFormats(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{MS(0), "0.0 ms"},
		{MS(1234567 * time.Nanosecond), "1.2 ms"},
		{MS(1250 * time.Millisecond), "1250.0 ms"},
		{Ratio(3*time.Second, 2*time.Second), "1.50x"},
		{Ratio(time.Second, 3*time.Second), "0.33x"},
		{Ratio(time.Second, 0), "-"},
		{MiB(0), "0.0 MiB"},
		{MiB(15565), "15.2 MiB"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
