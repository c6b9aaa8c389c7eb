package main

import (
	"math"
	"testing"
	"time"
)

// TestBuckets checks that the buckets tile the values without gaps or
// overlaps and that each is narrow enough.
func TestBuckets(t *testing.T) {
	prev := -1
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 123456, 1 << 40, 1<<62 + 12345, math.MaxInt64, math.MaxUint64} {
		i := bucketOf(v)
		if i < 0 || i >= buckets {
			t.Fatalf("bucketOf(%d) = %d, out of [0, %d)", v, i, buckets)
		}
		if i < prev {
			t.Errorf("bucketOf(%d) = %d, below the bucket of a smaller value (%d)", v, i, prev)
		}
		prev = i
		hi := upperOf(i)
		if v > hi {
			t.Errorf("value %d in bucket %d whose upper bound is %d", v, i, hi)
		}
		if i > 0 && upperOf(i-1) >= v {
			t.Errorf("value %d in bucket %d, but bucket %d reaches %d", v, i, i-1, upperOf(i-1))
		}
		if lo := upperOf(i-1) + 1; i > 0 && float64(hi-lo) > float64(lo)/64 {
			t.Errorf("bucket %d spans %d-%d, wider than 1/64 of its values", i, lo, hi)
		}
	}
	// Every bucket starts one past the end of the one before.
	for i := 1; i < buckets; i++ {
		if lo := upperOf(i-1) + 1; bucketOf(lo) != i {
			t.Fatalf("value %d, one past bucket %d, is in bucket %d, want %d", lo, i-1, bucketOf(lo), i)
		}
	}
	if got := upperOf(buckets - 1); got != math.MaxUint64 {
		t.Errorf("the last bucket ends at %d, want the largest uint64", got)
	}
}

func TestPercentile(t *testing.T) {
	var h histogram
	if got := h.percentile(99); got != 0 {
		t.Errorf("empty: got p99 %s, want 0", got)
	}
	// 1 µs, 2 µs, ... 1000 µs.
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, tt := range []struct {
		p    float64
		want time.Duration
	}{{50, 500 * time.Microsecond}, {99, 990 * time.Microsecond}, {100, time.Millisecond}, {0.05, time.Microsecond}} {
		got := h.percentile(tt.p)
		if diff := (got - tt.want).Abs(); float64(diff) > float64(tt.want)/128 {
			t.Errorf("p%v: got %s, want %s to within 1/128", tt.p, got, tt.want)
		}
	}
	if h.count() != 1000 {
		t.Errorf("count: got %d, want 1000", h.count())
	}
}

func TestMerge(t *testing.T) {
	var a, b histogram
	for range 90 {
		a.record(100 * time.Microsecond)
	}
	for range 10 {
		b.record(5 * time.Millisecond)
	}
	b.record(-time.Second) // a clock step back counts as 0
	a.merge(&b)
	if a.count() != 101 {
		t.Errorf("count: got %d, want 101", a.count())
	}
	if got := a.percentile(0.5); got != 0 {
		t.Errorf("p0.5: got %s, want 0 (the negative latency)", got)
	}
	if got := a.percentile(50); got < 99*time.Microsecond || got > 101*time.Microsecond {
		t.Errorf("p50: got %s, want about 100µs", got)
	}
	if got := a.percentile(95); got < 4960*time.Microsecond || got > 5040*time.Microsecond {
		t.Errorf("p95: got %s, want about 5ms", got)
	}
}
