package benchkit

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// of over items: the smallest value that at least p% of them do not
// exceed. With 50 items p99 is the largest; with none it is 0.
func Percentile[T any](items []T, of func(T) time.Duration, p float64) time.Duration {
	if len(items) == 0 {
		return 0
	}
	ds := make([]time.Duration, len(items))
	for i, it := range items {
		ds[i] = of(it)
	}
	slices.Sort(ds)
	rank := int(math.Ceil(float64(len(ds)) * p / 100))
	return ds[min(max(rank, 1), len(ds))-1]
}

// Mean returns the mean of of over items, or 0 for none.
func Mean[T any](items []T, of func(T) time.Duration) time.Duration {
	if len(items) == 0 {
		return 0
	}
	var sum time.Duration
	for _, it := range items {
		sum += of(it)
	}
	return sum / time.Duration(len(items))
}

// MS formats d in milliseconds with one decimal, such as "12.5 ms".
func MS(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

// Ratio formats a/b as "1.23x", or "-" when b is 0.
func Ratio(a, b time.Duration) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", float64(a)/float64(b))
}

// MiB formats KiB as MiB with one decimal, such as "15.2 MiB".
func MiB(kib int64) string {
	return fmt.Sprintf("%.1f MiB", float64(kib)/1024)
}
