package main

import (
	"math"
	"math/bits"
	"time"
)

// subBits sets the histogram's resolution: 2^subBits values are exact,
// and above them each power of two is cut into 2^(subBits-1) buckets, so
// a bucket spans less than 1/64 (1.6%) of the values it holds.
const subBits = 7

// buckets is how many buckets cover every int64 of nanoseconds.
const buckets = (64-subBits+1)<<(subBits-1) + 1<<(subBits-1)

// histogram counts latencies in log-linear buckets of nanoseconds: fixed
// memory whatever the number of requests, percentiles within 0.8%. The
// zero value is empty. It is not safe for concurrent use: each connection
// of a load keeps its own, merged at the end.
type histogram struct {
	counts [buckets]uint64
	n      uint64
}

// bucketOf returns the bucket holding v nanoseconds (v >= 0).
func bucketOf(v uint64) int {
	if v < 1<<subBits {
		return int(v)
	}
	shift := bits.Len64(v) - subBits // v>>shift is in [2^(subBits-1), 2^subBits)
	return shift<<(subBits-1) + int(v>>shift)
}

// upperOf returns the largest value bucket i holds.
func upperOf(i int) uint64 {
	if i < 1<<subBits {
		return uint64(i)
	}
	shift := i>>(subBits-1) - 1
	m := uint64(i - shift<<(subBits-1))
	if shift >= 64-subBits && m == 1<<subBits-1 {
		return math.MaxUint64 // the last bucket, whose bound overflows
	}
	return (m+1)<<shift - 1
}

// record counts one latency; a negative one counts as 0.
func (h *histogram) record(d time.Duration) {
	h.counts[bucketOf(uint64(max(d, 0)))]++
	h.n++
}

// merge adds o's counts to h's.
func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// count returns how many latencies were recorded.
func (h *histogram) count() uint64 { return h.n }

// percentile returns the nearest-rank p-th percentile (0 < p <= 100), as
// the middle of its bucket (within 0.8% of the value), or 0 if nothing
// was recorded.
func (h *histogram) percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(float64(h.n) * p / 100))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		if seen += c; seen >= rank {
			lo, hi := uint64(0), upperOf(i)
			if i > 0 {
				lo = upperOf(i-1) + 1
			}
			return time.Duration(min(lo+(hi-lo)/2, math.MaxInt64))
		}
	}
	return time.Duration(math.MaxInt64) // not reached: the counts add up to n
}
