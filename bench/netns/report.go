package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// report holds a run's figures.
type report struct {
	samples, requests int
	load              string
	ensure, again     []time.Duration
	remove            []time.Duration
	viaNS, viaLo      []time.Duration // requests to the namespace, to loopback
}

func (r report) markdown() string {
	id := func(d time.Duration) time.Duration { return d }
	p := func(ds []time.Duration, q float64) time.Duration { return benchkit.Percentile(ds, id, q) }
	var b strings.Builder
	fmt.Fprintf(&b, "Load average before the run: %s.\n\n", r.load)
	fmt.Fprintf(&b, "| call | n | median | p90 | max |\n|---|--:|--:|--:|--:|\n")
	for _, row := range []struct {
		name string
		ds   []time.Duration
	}{
		{"Ensure, a new namespace", r.ensure},
		{"Ensure, one already whole", r.again},
		{"Remove", r.remove},
	} {
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s |\n", row.name, len(row.ds),
			benchkit.MS(p(row.ds, 50)), benchkit.MS(p(row.ds, 90)), benchkit.MS(p(row.ds, 100)))
	}
	fmt.Fprintf(&b, "\n| request from the host to | n | p50 | p99 | max |\n|---|--:|--:|--:|--:|\n")
	for _, row := range []struct {
		name string
		ds   []time.Duration
	}{
		{"a tenant's namespace (veth)", r.viaNS},
		{"127.0.0.1 (loopback)", r.viaLo},
	} {
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s |\n", row.name, len(row.ds), us(p(row.ds, 50)), us(p(row.ds, 99)), us(p(row.ds, 100)))
	}
	fmt.Fprintf(&b, "\nNamespace over loopback: p50 %s, p99 %s.\n",
		benchkit.Ratio(p(r.viaNS, 50), p(r.viaLo, 50)), benchkit.Ratio(p(r.viaNS, 99), p(r.viaLo, 99)))
	return b.String()
}

// us formats d in microseconds, such as "85 µs".
func us(d time.Duration) string { return fmt.Sprintf("%d µs", d.Microseconds()) }
