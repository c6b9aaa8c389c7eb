package flow

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bench/internal/benchkit"
	"github.com/stamphq/stamp/httpapi"
)

// fixture is a store holding the log behind the API.
type fixture struct {
	url   string // of the API server
	token string // bearer secret
	// first is how long the first report took: it read the whole log
	// into the flow index.
	first     time.Duration
	firstHeap uint64 // the most heap it held
	creates   int    // in the log
}

func BenchmarkFlowAPI(b *testing.B) {
	benchkit.EachStore(b, newFixture, benchFlow)
}

// benchFlow asks for the report b.N times, one after another, and
// reports the most heap the process held above what it held before, the
// first report's time and heap (it read the whole log into the index),
// and checks that the report counted every create.
func benchFlow(b *testing.B, f *fixture) {
	runtime.GC()
	peak := watchHeap()
	b.ReportAllocs()
	b.ResetTimer()
	var report flowReport
	for b.Loop() {
		report = getFlow(b, f.url, f.token)
	}
	b.StopTimer()
	b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MiB")
	b.ReportMetric(f.first.Seconds(), "first-report-s")
	b.ReportMetric(float64(f.firstHeap)/(1<<20), "first-peak-heap-MiB")
	if got := report.Create.Completed + report.Create.Failed; got != f.creates {
		b.Fatalf("the report counted %d creates, want %d", got, f.creates)
	}
}

// flowReport is what the benchmark checks of a report.
type flowReport struct {
	Create struct{ Completed, Failed int }
}

// getFlow asks for GET /v1/flow.
func getFlow(tb testing.TB, url, token string) flowReport {
	req, err := http.NewRequest(http.MethodGet, url+"/v1/flow", nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET /v1/flow: status %d, %v: %s", resp.StatusCode, err, body)
	}
	var r flowReport
	if err := json.Unmarshal(body, &r); err != nil {
		tb.Fatal(err)
	}
	return r
}

// watchHeap samples the heap's objects every millisecond until the
// returned function is called, which answers the most seen above the
// first sample.
func watchHeap() func() uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	base := read()
	var most uint64
	done, stopped := make(chan struct{}), make(chan struct{})
	var once sync.Once
	go func() {
		defer close(stopped)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			if v := read(); v > most {
				most = v
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		once.Do(func() { close(done) })
		<-stopped
		return max(most, base) - base
	}
}

// newFixture fills s with the log and a token, and serves the API on
// loopback until owner ends.
func newFixture(tb testing.TB, owner *testing.B, s stamp.Store) *fixture {
	tb.Helper()
	creates := fillLog(tb, s, time.Now())
	secret := benchkit.NewToken(tb, s, stamp.RoleViewer)
	srv := httptest.NewServer(httpapi.NewServer(httpapi.Config{Store: s, Logger: slog.New(slog.DiscardHandler)}))
	owner.Cleanup(srv.Close)
	runtime.GC()
	peak := watchHeap()
	start := time.Now()
	getFlow(tb, srv.URL, secret)
	return &fixture{url: srv.URL, token: secret, first: time.Since(start), firstHeap: peak(), creates: creates}
}
