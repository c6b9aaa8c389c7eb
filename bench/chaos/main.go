// Command chaos kills stamp server with SIGKILL at a random moment of a
// release over a fleet of tenants, starts it again on the same data dir
// and ports, waits for the release to end, and checks that no release or
// tenant disagrees with its events and that nothing is left on the host
// that no tenant instance accounts for (issue 13).
//
// Usage, from the module root, as root (tenants run as users of their
// own, in cgroups and network namespaces):
//
//	go run ./bench/chaos [-rounds 20] [-tenants 20] [-seed N] [-expect D] [-store URL]
//
// It builds stamp and two real releases of the example app once. Each
// round then starts `stamp server` on a fresh data dir (its own block of
// tenant users, tenant ports and addresses), pushes ledger@1.0.0 and
// ledger@2.0.0, creates the tenants on 1.0.0 and waits until they are
// ready, and releases 2.0.0 over them in waves. At a moment drawn
// uniformly from the release's expected duration (-expect, or measured by
// a calm round without a kill first) it kills the server by its pid,
// restarts it and waits until the release has ended and every tenant is
// at rest. Then it checks (package check) the releases and tenants
// against the event log, and the processes, ports, directories,
// databases, cgroups, namespaces and interfaces on the host against the
// tenants. It deletes every tenant and checks that nothing of them is
// left. One line per round, then a summary; any finding exits 1.
//
// On every exit path, Ctrl-C included, the server is killed by its pid,
// every tenant process of its data dir is killed, its namespaces,
// cgroups and nftables tables are removed, a -store database is dropped
// and the temporary directory is removed.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/bench/internal/benchkit"
	"github.com/stamphq/stamp/rollout"
)

func main() { benchkit.Main("chaos", run) }

// config is what the flags set.
type config struct {
	rounds, tenants int
	seed            uint64
	expect          time.Duration // the release's expected duration; 0: measure it in a calm round
	store           string        // a PostgreSQL superuser URL; "" for the server's SQLite store
	waves           []stamp.Wave
	maxParallel     int
	soak            time.Duration
	deadline        time.Duration // bounds each wait of a round
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	c := config{seed: uint64(time.Now().UnixNano())}
	var waves string
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.rounds, "rounds", 20, "rounds, each with a kill")
	fs.IntVar(&c.tenants, "tenants", 20, "tenants of each round's release")
	fs.Uint64Var(&c.seed, "seed", c.seed, "seed of the kill moments and blocks drawn (default: the time)")
	fs.DurationVar(&c.expect, "expect", 0, "the release's expected duration, over which the kill moment is drawn (default: measured by a calm round first)")
	fs.StringVar(&c.store, "store", "", "a PostgreSQL superuser URL: each round's server keeps its state in a database of its own there (default: SQLite in the data dir)")
	fs.StringVar(&waves, "waves", "1,25%,100%", "the release's waves, comma-separated, as `stamp release create --waves` takes them")
	fs.IntVar(&c.maxParallel, "max-parallel", 4, "tenants the release upgrades at once")
	fs.DurationVar(&c.soak, "soak", 2*time.Second, "the release's soak after each wave")
	fs.DurationVar(&c.deadline, "deadline", 5*time.Minute, "bound on each wait of a round (tenants ready, release ended, fleet at rest, tenants deleted)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for w := range strings.SplitSeq(waves, ",") {
		wave, err := rollout.ParseWave(strings.TrimSpace(w))
		if err != nil {
			return c, fmt.Errorf("-waves %q: %s", waves, stamp.ErrorMessage(err))
		}
		c.waves = append(c.waves, wave)
	}
	if c.rounds < 1 || c.tenants < 1 || c.tenants > 500 || c.maxParallel < 1 || c.expect < 0 || c.soak < 0 || c.deadline <= 0 {
		return c, errors.New("want -rounds >= 1, -tenants from 1 to 500, -max-parallel >= 1, and a non-negative -expect and -soak and positive -deadline")
	}
	return c, nil
}

// run builds the binaries, runs the rounds and prints their lines and
// the summary.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	start := time.Now()
	b, err := newBench(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, b.cleanup()) }()
	if err := b.build(ctx); err != nil {
		return err
	}
	rng := newRand(cfg.seed)
	fmt.Fprintf(stdout, "seed %d, %d tenants, waves %s, max parallel %d, soak %s\n", cfg.seed, cfg.tenants, formatWaves(cfg.waves), cfg.maxParallel, cfg.soak)
	var results []*roundResult
	expect := cfg.expect
	if expect == 0 {
		res, err := b.round(ctx, 0, rng, -1)
		if err != nil {
			return fmt.Errorf("calm round: %w", err)
		}
		results = append(results, res)
		fmt.Fprintln(stdout, res.line(cfg.rounds))
		if expect = res.release; expect <= 0 {
			return fmt.Errorf("the calm round's release did not finish (%s), so it gave no duration to draw the kills over; pass -expect", res.state)
		}
	}
	for n := 1; n <= cfg.rounds; n++ {
		killAt := time.Duration(rng.Int64N(int64(expect)))
		res, err := b.round(ctx, n, rng, killAt)
		if err != nil {
			return fmt.Errorf("round %d: %w", n, err)
		}
		results = append(results, res)
		fmt.Fprintln(stdout, res.line(cfg.rounds))
	}
	fmt.Fprintln(stdout, summaryLine(results, expect, time.Since(start), cfg.seed))
	n := 0
	for _, res := range results {
		for _, f := range res.findings {
			fmt.Fprintf(stdout, "round %d: %s\n", res.n, f)
			n++
		}
	}
	if n > 0 {
		return fmt.Errorf("%d finding(s), listed above (seed %d)", n, cfg.seed)
	}
	return nil
}

// newRand returns the run's source of randomness: ChaCha8 keyed by seed,
// so that seeds taken from the clock a moment apart draw unrelated kill
// moments (PCG's first draws from neighbouring seeds are close).
func newRand(seed uint64) *rand.Rand {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	return rand.New(rand.NewChaCha8(key))
}

// formatWaves writes waves as -waves takes them.
func formatWaves(waves []stamp.Wave) string {
	var parts []string
	for _, w := range waves {
		parts = append(parts, rollout.FormatWave(w))
	}
	return strings.Join(parts, ",")
}
