// Package probe measures what one health probe costs the process that
// sends it, the monitor's unit of work: net/http's client with kept-alive
// connections (what the monitor used before) against health.Prober (what
// it uses now), in the same run.
//
// The instances answering are a child process (this test binary, started
// again), so the CPU figures are the prober's alone: the benchmark reads
// its own process's CPU time (getrusage) around the timed loop.
package probe

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stamphq/stamp/health"
)

// instances is how many endpoints are probed at once: one goroutine per
// endpoint, as the monitor never probes one instance twice at a time.
const instances = 64

// serveEnv makes the test binary serve instances endpoints instead of
// running tests: it prints their addresses and serves until stdin closes.
const serveEnv = "STAMP_BENCH_PROBE_SERVE"

func TestMain(m *testing.M) {
	if os.Getenv(serveEnv) == "1" {
		serve()
		return
	}
	os.Exit(m.Run())
}

// serve answers GET /healthz with "ok" on instances loopback ports, as
// an idle app does, until its stdin closes.
func serve() {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	for range instances {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(ln.Addr().String())
		go http.Serve(ln, handler)
	}
	bufio.NewReader(os.Stdin).ReadString('\n') // EOF when the benchmark ends
}

// startInstances starts the child process and returns its endpoints.
func startInstances(b *testing.B) []string {
	b.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), serveEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	var endpoints []string
	sc := bufio.NewScanner(stdout)
	for len(endpoints) < instances && sc.Scan() {
		endpoints = append(endpoints, strings.TrimSpace(sc.Text()))
	}
	if len(endpoints) < instances {
		b.Fatalf("the instances process gave %d endpoints: %v", len(endpoints), sc.Err())
	}
	return endpoints
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkProbe probes instances endpoints from one goroutine each until
// b.N probes are done, and reports the prober's CPU per probe.
func BenchmarkProbe(b *testing.B) {
	endpoints := startInstances(b)
	client := &http.Client{ // the monitor's client before health.Prober
		Transport:     &http.Transport{MaxIdleConnsPerHost: 1, IdleConnTimeout: time.Minute, DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	prober := health.NewProber()
	defer prober.Close()
	probes := map[string]func(ctx context.Context, endpoint string) error{
		"net-http": func(ctx context.Context, endpoint string) error {
			return health.Probe(ctx, client, "http://"+endpoint+"/healthz", 2*time.Second)
		},
		"prober": func(ctx context.Context, endpoint string) error {
			return prober.Probe(ctx, endpoint, "/healthz", 2*time.Second)
		},
	}
	for _, name := range []string{"net-http", "prober"} {
		probe := probes[name]
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			for _, ep := range endpoints { // connections are made outside the timing
				if err := probe(ctx, ep); err != nil {
					b.Fatal(err)
				}
			}
			var next atomic.Int32
			b.SetParallelism((instances + 1) / 2) // GOMAXPROCS is 2 here; more CPUs give more goroutines
			b.ReportAllocs()
			cpu := cpuTime(b)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ep := endpoints[int(next.Add(1)-1)%len(endpoints)]
				for pb.Next() {
					if err := probe(ctx, ep); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64((cpuTime(b)-cpu).Microseconds())/float64(b.N), "cpu-µs/probe")
		})
	}
}
