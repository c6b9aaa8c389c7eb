package main

import (
	"reflect"
	"testing"
	"time"
)

const scraped = `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 42
# TYPE stamp_router_wake_seconds histogram
stamp_router_wake_seconds_bucket{outcome="woke",le="0.1"} 1
stamp_router_wake_seconds_bucket{outcome="woke",le="+Inf"} 4
stamp_router_wake_seconds_bucket{outcome="woke",le="0.025"} 0
stamp_router_wake_seconds_bucket{outcome="woke",le="1"} 3
stamp_router_wake_seconds_sum{outcome="woke"} 1.2
stamp_router_wake_seconds_count{outcome="woke"} 4
stamp_router_wake_seconds_count{outcome="failed"} 1
not a sample
`

func TestParseMetrics(t *testing.T) {
	m := parseMetrics(scraped)
	if got := m.value("go_goroutines"); got != 42 {
		t.Errorf("go_goroutines: got %v, want 42", got)
	}
	h := m.histogram("stamp_router_wake_seconds", `outcome="woke"`)
	want := histogram{
		buckets: []bucket{{"0.025", 0}, {"0.1", 1}, {"1", 3}, {"+Inf", 4}},
		count:   4,
		sum:     1.2,
	}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("woke: got %+v, want %+v", h, want)
	}
	if got := h.mean(); got != 300*time.Millisecond {
		t.Errorf("mean: got %s, want 300ms", got)
	}
	if f := m.histogram("stamp_router_wake_seconds", `outcome="failed"`); f.count != 1 || len(f.buckets) != 0 {
		t.Errorf("failed: got %+v, want a count of 1 and no bucket", f)
	}
}
