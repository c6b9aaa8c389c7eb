package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads the server's /metrics with token ("" for none) and parses
// it with the Prometheus text parser; it returns the status too.
func (s *stampServer) scrape(token string) (int, map[string]*dto.MetricFamily) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+s.api+"/metrics", nil)
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		s.t.Fatalf("parse /metrics: %v", err)
	}
	return resp.StatusCode, families
}

// sample returns the series of family name whose labels include want:
// its value, or its sample count for a histogram; ok is false if there is
// no such series.
func sample(families map[string]*dto.MetricFamily, name string, want map[string]string) (v float64, ok bool) {
	for _, m := range families[name].GetMetric() {
		match := true
		for _, l := range m.GetLabel() {
			if w, named := want[l.GetName()]; named && w != l.GetValue() {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue(), true
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue(), true
		case m.GetHistogram() != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsOfARunningServer scrapes a real server with a tenant that
// serves traffic through the router and whose process is killed once.
func TestMetricsOfARunningServer(t *testing.T) {
	s := startStampServer(t)
	token, err := os.ReadFile(filepath.Join(s.data, adminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	admin := strings.TrimSpace(string(token))
	if status, _ := s.scrape(""); status != http.StatusUnauthorized {
		t.Errorf("/metrics without a token: status %d, want 401", status)
	}
	s.mustCLI("blueprint", "push", blueprintDir(t))
	s.mustCLI("tenant", "create", "acme", "--blueprint", "ledger")
	s.mustCLI("tenant", "list")
	for range 4 {
		if code, body := s.do("GET", "acme", "/api/invoices", ""); code != http.StatusOK {
			t.Fatalf("GET invoices of acme: %d %s", code, body)
		}
	}

	// The monitor probes acme within a second or so of its creation.
	var families map[string]*dto.MetricFamily
	waitFor(t, "stamp_tenant_up of acme to be 1", 30*time.Second, func() bool {
		_, families = s.scrape(admin)
		up, ok := sample(families, "stamp_tenant_up", map[string]string{"tenant": "acme"})
		return ok && up == 1
	})
	checks := []struct {
		name   string
		labels map[string]string
		min    float64
		max    float64
	}{
		{"stamp_api_requests_total", map[string]string{"route": "POST /v1/tenants", "code": "201"}, 1, 1},
		{"stamp_api_requests_total", map[string]string{"route": "GET /v1/tenants", "code": "200"}, 1, 1e9},
		{"stamp_api_request_duration_seconds", map[string]string{"route": "POST /v1/blueprints"}, 1, 1},
		{"stamp_reconcile_pass_duration_seconds", map[string]string{"kind": "provision", "outcome": "done"}, 1, 1e9},
		{"stamp_reconcile_queue_depth", nil, 0, 1e9},
		{"stamp_reconcile_tenants_held", nil, 1, 1},
		{"stamp_monitor_behind_seconds", nil, 0, 5}, // one idle tenant: on schedule
		{"stamp_store_duration_seconds", map[string]string{"method": "ListTenants"}, 1, 1e9},
		{"stamp_store_duration_seconds", map[string]string{"method": "CreateTenant"}, 1, 1},
		{"stamp_tenants", map[string]string{"phase": "ready"}, 1, 1},
		{"stamp_tenants", map[string]string{"phase": "failed"}, 0, 0},
		{"stamp_tenants_by_version", map[string]string{"blueprint": "ledger", "version": "2.0.0"}, 1, 1},
		{"stamp_incidents_open", map[string]string{"cause": "exit"}, 0, 0},
		{"stamp_tenant_service_up", map[string]string{"tenant": "acme", "service": "web"}, 1, 1},
		{"stamp_tenant_restarts_total", map[string]string{"tenant": "acme", "service": "web"}, 0, 0},
		{"stamp_tenant_requests_total", map[string]string{"tenant": "acme"}, 4, 4},
		{"stamp_tenant_requests_5xx_total", map[string]string{"tenant": "acme"}, 0, 0},
		{"stamp_tenant_request_duration_seconds", map[string]string{"tenant": "acme"}, 1, 4},
		{"go_goroutines", nil, 1, 1e9},
	}
	for _, c := range checks {
		v, ok := sample(families, c.name, c.labels)
		switch {
		case !ok:
			t.Errorf("no series %s%v", c.name, c.labels)
		case v < c.min || v > c.max:
			t.Errorf("%s%v = %v, want %s", c.name, c.labels, v, between(c.min, c.max))
		}
	}

	procs := tenantProcesses(t, s.data)
	if len(procs) != 1 {
		t.Fatalf("%d processes, want 1: %v", len(procs), procs)
	}
	if err := syscall.Kill(procs[0].pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the restart to be counted", 30*time.Second, func() bool {
		_, families = s.scrape(admin)
		n, _ := sample(families, "stamp_tenant_restarts_total", map[string]string{"tenant": "acme", "service": "web"})
		return n >= 1
	})
}

func between(lo, hi float64) string {
	if lo == hi {
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("between %v and %v", lo, hi)
}
