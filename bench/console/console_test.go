package console

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
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

// benchPage asks for the fleet's first page b.N times, then has
// Chromium load it and reports its first contentful paint.
func benchPage(b *testing.B, f *fixture) {
	req, err := http.NewRequest(http.MethodGet, f.url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: "stamp_session", Value: f.token})
	for b.Loop() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || n < 10000 {
			b.Fatalf("GET %s: %d, %d bytes", f.url, resp.StatusCode, n)
		}
	}
	b.StopTimer()
	if fcp, ok := firstPaint(b, f); ok {
		b.ReportMetric(fcp.Seconds()*1000, "fcp-ms")
	}
}

// firstPaint loads the page in headless Chromium, three times, and
// returns the last first contentful paint (the first warms the
// browser's cache of the stylesheet and script).
func firstPaint(b *testing.B, f *fixture) (time.Duration, bool) {
	path, err := exec.LookPath("chromium")
	if err != nil {
		b.Log("chromium not found (scripts/chromium installs it): no paint figure")
		return 0, false
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900), chromedp.UserDataDir(b.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTime := context.WithTimeout(ctx, time.Minute)
	defer cancelTime()
	if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{Name: "stamp_session", Value: f.token, URL: f.url}); err != nil {
		b.Fatalf("set the session cookie: %v", err)
	}
	var fcp float64
	for range 3 {
		if err := chromedp.Do(ctx, chromedp.Navigate(f.url), chromedp.WaitVisible(chromedp.CSS(`tr[data-tenant]`))); err != nil {
			b.Fatalf("load the fleet page: %v", err)
		}
		// The paint entry is recorded once painted, which may come
		// after the row is in the document.
		fcp, err = chromedp.Run(ctx, chromedp.Poll[float64](`(performance.getEntriesByName("first-contentful-paint")[0] || {}).startTime`,
			chromedp.WithPollingTimeout(10*time.Second)))
		if err != nil {
			b.Fatalf("read the first contentful paint: %v", err)
		}
	}
	return time.Duration(fcp * float64(time.Millisecond)), true
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
	secret := benchkit.NewToken(tb, s, stamp.RoleOperator)
	api := httpapi.NewServer(httpapi.Config{Store: s, Logger: slog.New(slog.DiscardHandler)})
	mux := http.NewServeMux()
	mux.Handle(console.Prefix, console.New(console.Config{API: api}).Handler())
	mux.Handle("/", api)
	srv := httptest.NewServer(mux)
	owner.Cleanup(srv.Close)
	return &fixture{url: srv.URL + console.Prefix, token: secret}
}
