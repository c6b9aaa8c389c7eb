package main

import (
	"strings"
	"testing"
	"time"
)

func TestReport(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		var ds []time.Duration
		for _, v := range n {
			ds = append(ds, time.Duration(v)*time.Millisecond)
		}
		return ds
	}
	r := report{load: "0.10 0.20 0.30",
		ensure: ms(10, 20, 30), again: ms(1, 1, 2), remove: ms(5, 6, 7),
		viaNS: []time.Duration{100 * time.Microsecond, 300 * time.Microsecond},
		viaLo: []time.Duration{50 * time.Microsecond, 100 * time.Microsecond},
	}
	got := r.markdown()
	for _, want := range []string{
		"Load average before the run: 0.10 0.20 0.30.",
		"| Ensure, a new namespace | 3 | 20.0 ms | 30.0 ms | 30.0 ms |",
		"| Ensure, one already whole | 3 | 1.0 ms | 2.0 ms | 2.0 ms |",
		"| Remove | 3 | 6.0 ms | 7.0 ms | 7.0 ms |",
		"| a tenant's namespace (veth) | 2 | 100 µs | 300 µs | 300 µs |",
		"| 127.0.0.1 (loopback) | 2 | 50 µs | 100 µs | 100 µs |",
		"Namespace over loopback: p50 2.00x, p99 3.00x.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
}
