package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stamphq/stamp/bench/internal/benchkit"
)

// target is the product's: Stamp's p50 within this multiple of the
// floor's.
const targetRatio = 1.3

// report is everything one run measured.
type report struct {
	cfg                   config
	commit                string
	nproc                 int
	cpuModel              string
	memTotal              int64 // KiB
	goVersion             string
	loadBefore, loadAfter string
	engines               []*engineResult
}

// p50 is the nearest-rank median of of over items.
func p50[T any](items []T, of func(T) time.Duration) time.Duration {
	return benchkit.Percentile(items, of, 50)
}

// self is the identity, for p50 over durations.
func self(d time.Duration) time.Duration { return d }

// spread formats the least and the most of of over items.
func spread[T any](items []T, of func(T) time.Duration) string {
	return benchkit.MS(benchkit.Percentile(items, of, 0)) + " – " + benchkit.MS(benchkit.Percentile(items, of, 100))
}

// medianSize is the nearest-rank median of sizes.
func medianSize(sizes []int64) int64 {
	if len(sizes) == 0 {
		return 0
	}
	s := slices.Clone(sizes)
	slices.Sort(s)
	return s[(len(s)+1)/2-1]
}

// mib formats bytes in MiB with one decimal.
func mib(bytes int64) string { return fmt.Sprintf("%.1f MiB", float64(bytes)/(1<<20)) }

// sizeRatio formats a/b as "0.82x", or "-".
func sizeRatio(a, b int64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", float64(a)/float64(b))
}

// met says whether a/b is within the target.
func met(a, b time.Duration) string {
	if b > 0 && float64(a) <= targetRatio*float64(b) {
		return "met"
	}
	return "**not met**"
}

// share formats part as a percentage of whole.
func share(part, whole time.Duration) string {
	if whole == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(part)/float64(whole))
}

// markdown renders the report.
func (r *report) markdown() string {
	var b strings.Builder
	b.WriteString("## Backup and restore: a tenant's database, against the engine's own tools\n\n")
	fmt.Fprintf(&b, "A tenant database filled to ~%d MiB on disk with a billing app's rows; rounds per engine: %d, each a backup by the floor and by Stamp, then a restore by each, "+
		"the floor first in odd rounds and Stamp in even ones; every restore is checked by counting its rows. Stamp's path is the product's without the reconciler: "+
		"the engine's Dump into backup.Store.Take (spool with SHA-256, then tar, zstd SpeedFastest, age to the master key, into a file:// store fresh each round beside the floor's file), "+
		"and Store.Unpack then the engine's Load into the live database. No data directory part. Everything the rounds read is in the page cache. Target: Stamp's p50 within %.1fx of the floor's.\n\n",
		r.cfg.sizeMB, r.cfg.rounds, targetRatio)
	for _, e := range r.engines {
		e.markdown(&b)
	}
	b.WriteString("| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| command | `%s` |\n", strings.Join(append([]string{"go", "run", "./bench/backup"}, redactArgs(r.cfg.args)...), " "))
	fmt.Fprintf(&b, "| commit | %s |\n", r.commit)
	fmt.Fprintf(&b, "| CPUs (`nproc`), model | %d, %s |\n", r.nproc, r.cpuModel)
	fmt.Fprintf(&b, "| memory | %.0f GiB |\n", float64(r.memTotal)/(1<<20))
	fmt.Fprintf(&b, "| load average (1, 5, 15 min) before, after | %s; %s |\n", r.loadBefore, r.loadAfter)
	fmt.Fprintf(&b, "| Go | %s |\n", r.goVersion)
	return b.String()
}

// redactArgs drops the value of -postgres, which holds a password.
func redactArgs(args []string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		switch {
		case (a == "-postgres" || a == "--postgres") && i+1 < len(out):
			out[i+1] = "URL"
		case strings.HasPrefix(a, "-postgres=") || strings.HasPrefix(a, "--postgres="):
			out[i] = a[:strings.Index(a, "=")+1] + "URL"
		}
	}
	return out
}

// markdown renders one engine's part of the report.
func (e *engineResult) markdown(b *strings.Builder) {
	fmt.Fprintf(b, "### %s\n\n", e.label)
	if e.skipped != "" {
		fmt.Fprintf(b, "Skipped: %s.\n\n", e.skipped)
		return
	}
	d := e.data
	fmt.Fprintf(b, "Data: %d customers and %d invoices (%d batches of the seeded generator), %s of text values, %.0f%% of it random tokens (references, order codes, SKUs, e-mails' local parts, post codes), "+
		"the rest words drawn with a Zipf law (s=%.1f) from %d (JSON line items, memos, notes, names, addresses). On disk: %s; the engine's dump, uncompressed: %s. Floor: %s.\n\n",
		d.customers, d.invoices, e.batches, mib(d.textBytes), 100*d.randomShare(), zipfS, vocabularySize, mib(e.onDisk), mib(e.refDump), e.floor)

	fb, sb := p50(e.floorBackup, self), p50(e.backups, func(s stampBackup) time.Duration { return s.took })
	fr, sr := p50(e.floorRestore, self), p50(e.restores, func(s stampRestore) time.Duration { return s.took })
	fs := medianSize(e.floorSize)
	var archives []int64
	for _, s := range e.backups {
		archives = append(archives, s.size)
	}
	as := medianSize(archives)
	b.WriteString("| | floor | Stamp | Stamp / floor |\n|---|--:|--:|--:|\n")
	fmt.Fprintf(b, "| backup, p50 | %s | %s | **%s** |\n", benchkit.MS(fb), benchkit.MS(sb), benchkit.Ratio(sb, fb))
	fmt.Fprintf(b, "| restore, p50 | %s | %s | **%s** |\n", benchkit.MS(fr), benchkit.MS(sr), benchkit.Ratio(sr, fr))
	fmt.Fprintf(b, "| backup, min – max | %s | %s | |\n", spread(e.floorBackup, self), spread(e.backups, func(s stampBackup) time.Duration { return s.took }))
	fmt.Fprintf(b, "| restore, min – max | %s | %s | |\n", spread(e.floorRestore, self), spread(e.restores, func(s stampRestore) time.Duration { return s.took }))
	fmt.Fprintf(b, "| file (floor's backup; Stamp's archive) | %s | %s | %s |\n", mib(fs), mib(as), sizeRatio(as, fs))
	fmt.Fprintf(b, "| file / database on disk | %s | %s | |\n", sizeRatio(fs, e.onDisk), sizeRatio(as, e.onDisk))
	fmt.Fprintf(b, "| samples | %d | %d | |\n\n", len(e.floorBackup), len(e.backups))
	fmt.Fprintf(b, "Target, within %.1fx of the floor at p50: backup %s (%s), restore %s (%s). Load average before, after: %s; %s.\n\n",
		targetRatio, met(sb, fb), benchkit.Ratio(sb, fb), met(sr, fr), benchkit.Ratio(sr, fr), e.loadBefore, e.loadAfter)

	b.WriteString("Where Stamp's time goes, p50 of each part over the rounds (the parts' p50s need not add up to the total's):\n\n")
	b.WriteString("| part | p50 | of the total's p50 |\n|---|--:|--:|\n")
	spool := p50(e.backups, func(s stampBackup) time.Duration { return s.spool })
	pack := p50(e.backups, stampBackup.pack)
	fmt.Fprintf(b, "| backup: the engine's Dump into Take's spool (SHA-256 and the spool file on the way) | %s | %s |\n", benchkit.MS(spool), share(spool, sb))
	fmt.Fprintf(b, "| backup: Take's pack (read the spool, tar, zstd, age, the store's write and rename), and the spool removed | %s | %s |\n", benchkit.MS(pack), share(pack, sb))
	unpack := p50(e.restores, func(s stampRestore) time.Duration { return s.unpack })
	load := p50(e.restores, func(s stampRestore) time.Duration { return s.load })
	fmt.Fprintf(b, "| restore: Store.Unpack (read, age, zstd, SHA-256, write the member) | %s | %s |\n", benchkit.MS(unpack), share(unpack, sr))
	fmt.Fprintf(b, "| restore: the engine's Load, and the member removed | %s | %s |\n\n", benchkit.MS(load), share(load, sr))

	b.WriteString("Parts timed apart, once a round each, over the whole dump:\n\n| part | p50 |\n|---|--:|\n")
	var names []string
	for _, c := range e.components {
		for k := range c {
			if !slices.Contains(names, k) {
				names = append(names, k)
			}
		}
	}
	slices.SortFunc(names, func(a, b string) int { return componentOrder(a) - componentOrder(b) })
	for _, n := range names {
		fmt.Fprintf(b, "| %s | %s |\n", n, benchkit.MS(p50(e.components, func(c map[string]time.Duration) time.Duration { return c[n] })))
	}
	b.WriteString("\n")
}

// componentOrder places the components in the report.
func componentOrder(name string) int {
	i := slices.Index([]string{compDumpDiscard, compVacuum, compSHA256, compZstd, compZstdAge, compPackMirror, compCopy, compZstdCLI, compFloorCreate, compTemplateWAL, compTemplateFile}, name)
	if i < 0 {
		return 100
	}
	return i
}
