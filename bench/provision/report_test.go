package main

import (
	"fmt"
	"testing"
	"time"
)

// samplesOf returns samples taking 1ms, 2ms, ... n ms, in reverse order.
func samplesOf(n int) []sample {
	var s []sample
	start := time.Unix(0, 0)
	for i := n; i >= 1; i-- {
		s = append(s, sample{start: start, end: start.Add(time.Duration(i) * time.Millisecond)})
	}
	return s
}

func TestPercentile(t *testing.T) {
	tests := []struct {
		n    int
		p    float64
		want time.Duration
	}{
		{n: 0, p: 50, want: 0},
		{n: 1, p: 50, want: 1 * time.Millisecond},
		{n: 1, p: 99, want: 1 * time.Millisecond},
		{n: 50, p: 50, want: 25 * time.Millisecond},
		{n: 50, p: 99, want: 50 * time.Millisecond},
		{n: 200, p: 50, want: 100 * time.Millisecond},
		{n: 200, p: 99, want: 198 * time.Millisecond},
		{n: 200, p: 100, want: 200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("p%v of %d", tt.p, tt.n), func(t *testing.T) {
			if got := percentile(samplesOf(tt.n), tt.p); got != tt.want {
				t.Errorf("p%v of 1..%d ms: got %s, want %s", tt.p, tt.n, got, tt.want)
			}
		})
	}
}
