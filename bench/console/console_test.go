package console

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bench/internal/benchkit"
	"github.com/stamphq/stamp/console"
	"github.com/stamphq/stamp/httpapi"
)

// tenants is how many tenants the store holds, as in the figure.
const tenants = 10_000

// fixture is the console over a store full of tenants, and a session.
type fixture struct {
	url   string // the console's fleet page
	token string // the session cookie's value
}

func BenchmarkFleetPage(b *testing.B) {
	benchkit.EachStore(b, newFixture, benchPage)
}

// BenchmarkFleetPageFiltered times the server alone on the fleet's
// costliest filters: a label no tenant has, which the store tests in
// each tenant's JSON across the whole fleet, and the failed state, one
// tenant in 97, which a page of 50 walks half the fleet by name to fill.
func BenchmarkFleetPageFiltered(b *testing.B) {
	for _, filter := range []string{"label=tier%3Dgold", "state=failed"} {
		b.Run(filter, func(b *testing.B) {
			benchkit.EachStore(b, newFixture, func(b *testing.B, f *fixture) {
				getPage(b, f, f.url+"?"+filter)
			})
		})
	}
}

// benchPage asks for the fleet's first page b.N times, then has
// Chromium load it and reports its first contentful paint, beside the
// paint of the console's login page as its floor: a page of the same
// stylesheet and script with no data, loaded in the same browser.
func benchPage(b *testing.B, f *fixture) {
	getPage(b, f, f.url)
	ctx, ok := browser(b)
	if !ok {
		return
	}
	floor := firstPaint(b, ctx, f.url+"login", `input[name="token"]`)
	if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{Name: "stamp_session", Value: f.token, URL: f.url}); err != nil {
		b.Fatalf("set the session cookie: %v", err)
	}
	fcp := firstPaint(b, ctx, f.url, `tr[data-tenant]`)
	b.ReportMetric(ms(fcp), "fcp-ms")
	b.ReportMetric(ms(floor), "floor-fcp-ms")
	b.ReportMetric(float64(fcp)/float64(floor), "fcp/floor")
}

// getPage asks for the page at url b.N times, signed in.
func getPage(b *testing.B, f *fixture, url string) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: "stamp_session", Value: f.token})
	for b.Loop() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("matching")) {
			b.Fatalf("GET %s: %d, %d bytes", url, resp.StatusCode, len(body))
		}
	}
	b.StopTimer()
}

func ms(d time.Duration) float64 { return d.Seconds() * 1000 }

// browser starts headless Chromium for the rest of the benchmark; false
// when it is not installed.
func browser(b *testing.B) (context.Context, bool) {
	path, err := exec.LookPath("chromium")
	if err != nil {
		b.Log("chromium not found (scripts/chromium installs it): no paint figure")
		return nil, false
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900), chromedp.UserDataDir(b.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	b.Cleanup(cancel)
	ctx, cancelTime := context.WithTimeout(ctx, 2*time.Minute)
	b.Cleanup(cancelTime)
	return ctx, true
}

// firstPaint loads url in the browser five times, waiting for an element
// matching sel, and returns the median first contentful paint (the
// first load also warms the browser's cache of the stylesheet and
// script).
func firstPaint(b *testing.B, ctx context.Context, url, sel string) time.Duration {
	var paints []float64
	for range 5 {
		if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
			b.Fatalf("load %s: %v", url, err)
		}
		// The paint entry is recorded once painted, which may come
		// after the element is in the document.
		fcp, err := chromedp.Run(ctx, chromedp.Poll[float64](`(performance.getEntriesByName("first-contentful-paint")[0] || {}).startTime`,
			chromedp.WithPollingTimeout(10*time.Second)))
		if err != nil {
			b.Fatalf("read the first contentful paint of %s: %v", url, err)
		}
		paints = append(paints, fcp)
	}
	slices.Sort(paints)
	return time.Duration(paints[len(paints)/2] * float64(time.Millisecond))
}

// incidents is how many incidents the fleet has had, each with the
// service's last output lines as the monitor keeps them.
const incidents = 3_000

// addIncidents records incidents on tenants spread over the fleet, the
// newest on the tenants of the first page, resolved but for every tenth.
func addIncidents(tb testing.TB, s stamp.Store) {
	tb.Helper()
	logs := strings.Repeat("2026-12-01T10:00:00Z ledger: GET /api/entries 200 3ms\n", 40)
	start := time.Now().Add(-30 * 24 * time.Hour)
	for i := range incidents {
		at := start.Add(time.Duration(i) * 10 * time.Minute)
		inc := &stamp.Incident{
			ID: fmt.Sprintf("inc-%05d", i), Tenant: fmt.Sprintf("t%05d", (incidents-i)*7%tenants), Service: "web",
			Cause: "health", Message: "GET /healthz: 503", LastLogs: logs, State: stamp.IncidentResolved, OpenedAt: at,
			ResolvedAt: at.Add(3 * time.Minute), ResolvedBy: "monitor",
			Timeline: []stamp.IncidentEntry{{Time: at, Message: "opened: GET /healthz: 503"}, {Time: at.Add(3 * time.Minute), Message: "recovered"}},
		}
		if i%10 == 0 {
			inc.State, inc.ResolvedAt, inc.ResolvedBy = stamp.IncidentOpen, time.Time{}, ""
		}
		if err := s.CreateIncident(tb.Context(), inc); err != nil {
			tb.Fatal(err)
		}
	}
}

// newFixture fills s with tenants, some of them failed or suspended and
// on two versions, and serves the console and the API on loopback until
// owner ends.
func newFixture(tb testing.TB, owner *testing.B, s stamp.Store) *fixture {
	tb.Helper()
	benchkit.CreateTenants(tb, s, tenants, func(i int) *stamp.Tenant {
		phase, version := stamp.PhaseReady, "1.0.0"
		if i%7 == 0 {
			version = "1.1.0"
		}
		if i%97 == 0 {
			phase = stamp.PhaseFailed
		}
		return &stamp.Tenant{
			Name: fmt.Sprintf("t%05d", i),
			Spec: stamp.TenantSpec{Blueprint: "ledger", Version: version, Plan: "starter", Desired: stamp.DesiredRunning,
				Labels: map[string]string{"region": "eu"}},
			Status:     stamp.TenantStatus{Phase: phase, Version: version, URL: "http://t.localhost:7080"},
			Generation: 1,
		}
	})
	addIncidents(tb, s)
	secret := benchkit.NewToken(tb, s, stamp.RoleOperator)
	api := httpapi.NewServer(httpapi.Config{Store: s, Logger: slog.New(slog.DiscardHandler)})
	mux := http.NewServeMux()
	mux.Handle(console.Prefix, console.New(console.Config{API: api}).Handler())
	mux.Handle("/", api)
	srv := httptest.NewServer(mux)
	owner.Cleanup(srv.Close)
	return &fixture{url: srv.URL + console.Prefix, token: secret}
}
