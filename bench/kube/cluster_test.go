package main

import (
	"maps"
	"testing"
)

func TestParseRequestTotals(t *testing.T) {
	text := `# HELP apiserver_request_total [STABLE] Counter of apiserver requests.
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="secrets",scope="resource",subresource="",verb="APPLY",version="v1"} 3
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="secrets",scope="resource",subresource="",verb="APPLY",version="v1"} 36
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="persistentvolumes",scope="resource",subresource="",verb="APPLY",version="v1"} 25
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="secrets",scope="namespace",subresource="",verb="DELETE",version="v1"} 2
apiserver_request_duration_seconds_count{verb="APPLY"} 99
`
	got, err := parseRequestTotals([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	want := map[verbResource]float64{{"APPLY", "secrets"}: 39, {"APPLY", "persistentvolumes"}: 25, {"DELETE", "secrets"}: 2}
	if !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// Only applies to the kinds the driver writes count.
	before := map[verbResource]float64{{"APPLY", "secrets"}: 9}
	if n := appliesBetween(before, got); n != 30 {
		t.Errorf("applies between: got %d, want 30 (the secrets', not kwok's volumes')", n)
	}
	if _, err := parseRequestTotals([]byte("apiserver_request_total{verb=\"APPLY\"}\n")); err == nil {
		t.Error("a line without a value: got no error")
	}
}
