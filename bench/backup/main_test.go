package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	noEnv := func(string) string { return "" }
	tests := []struct {
		args []string
		want string // in the error; "" for none
	}{
		{nil, ""},
		{[]string{"-rounds", "5", "-size-mb", "10", "-engines", "postgres", "-seed", "7", "-timeout", "5m"}, ""},
		{[]string{"-rounds", "0"}, "-rounds 0: want 1 to 100"},
		{[]string{"-size-mb", "0"}, "-size-mb 0: want 1 to 10000"},
		{[]string{"-engines", "mysql"}, `-engines: "mysql" is not sqlite or postgres`},
		{[]string{"-engines", "sqlite,sqlite"}, `-engines: "sqlite" twice`},
		{[]string{"-timeout", "0s"}, "-timeout 0s: want a positive duration"},
		{[]string{"extra"}, `unexpected arguments ["extra"]`},
	}
	for _, tt := range tests {
		_, err := parseFlags(tt.args, io.Discard, noEnv)
		switch {
		case err == nil && tt.want != "":
			t.Errorf("parseFlags(%q): no error, want %q", tt.args, tt.want)
		case err != nil && (tt.want == "" || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("parseFlags(%q): %v, want %q", tt.args, err, tt.want)
		}
	}
	cfg, err := parseFlags(nil, io.Discard, func(k string) string {
		if k == "STAMP_TEST_POSTGRES" {
			return "postgres://env"
		}
		return ""
	})
	if err != nil || cfg.rounds != 7 || cfg.sizeMB != 100 || strings.Join(cfg.engines, ",") != "sqlite,postgres" || cfg.postgres != "postgres://env" {
		t.Errorf("defaults: %+v, %v; want 7 rounds, 100 MiB, both engines, the URL of STAMP_TEST_POSTGRES", cfg, err)
	}
	cfg, _ = parseFlags([]string{"-postgres", "postgres://flag"}, io.Discard, func(string) string { return "postgres://env" })
	if cfg.postgres != "postgres://flag" {
		t.Errorf("-postgres %q, want the flag's over the environment's", cfg.postgres)
	}
}

func TestGeneratorIsDeterministic(t *testing.T) {
	a, b, c := newGenerator(1), newGenerator(1), newGenerator(2)
	ba, bb, bc := a.next(), b.next(), c.next()
	if len(ba.customers) != customersPerBatch || len(ba.invoices) != invoicesPerBatch {
		t.Fatalf("a batch of %d customers and %d invoices, want %d and %d", len(ba.customers), len(ba.invoices), customersPerBatch, invoicesPerBatch)
	}
	for i := range ba.invoices {
		if ba.invoices[i] != bb.invoices[i] {
			t.Fatalf("invoice %d differs for one seed:\n%+v\n%+v", i, ba.invoices[i], bb.invoices[i])
		}
		if id := ba.invoices[i].customerID; id < 1 || id > a.stats.customers {
			t.Fatalf("invoice %d names customer %d of %d", i, id, a.stats.customers)
		}
	}
	if ba.invoices[0].memo == bc.invoices[0].memo {
		t.Errorf("seeds 1 and 2 made the same memo %q", ba.invoices[0].memo)
	}
	if s := a.stats.randomShare(); s < 0.02 || s > 0.5 {
		t.Errorf("random share %.3f of the text: want words to dominate, with random tokens", s)
	}
}

func TestRedactArgs(t *testing.T) {
	got := strings.Join(redactArgs([]string{"-postgres", "postgres://u:secret@h/db", "--postgres=postgres://u:secret@h/db", "-rounds", "5"}), " ")
	if strings.Contains(got, "secret") || got != "-postgres URL --postgres=URL -rounds 5" {
		t.Errorf("redactArgs: %q", got)
	}
}

func TestMarkdown(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	e := &engineResult{label: "SQLite", floor: "sqlite3 3.40.1", batches: 2, data: dataStats{customers: 500, invoices: 10000, textBytes: 100, randomBytes: 10},
		onDisk: 100 << 20, refDump: 99 << 20,
		floorBackup: []time.Duration{ms(100), ms(110), ms(90)}, floorRestore: []time.Duration{ms(200), ms(210), ms(190)},
		floorSize:  []int64{99 << 20, 99 << 20, 99 << 20},
		backups:    []stampBackup{{took: ms(120), spool: ms(60), size: 30 << 20}, {took: ms(125), spool: ms(62), size: 30 << 20}, {took: ms(400), spool: ms(300), size: 30 << 20}},
		restores:   []stampRestore{{took: ms(400), unpack: ms(100), load: ms(300)}, {took: ms(420), unpack: ms(110), load: ms(310)}, {took: ms(410), unpack: ms(105), load: ms(305)}},
		components: []map[string]time.Duration{{compDumpDiscard: ms(50)}, {compDumpDiscard: ms(55)}, {compDumpDiscard: ms(60)}}}
	r := &report{cfg: config{rounds: 3, sizeMB: 100}, engines: []*engineResult{e, {label: "PostgreSQL", skipped: "no cluster"}}}
	md := r.markdown()
	for _, want := range []string{
		"| backup, p50 | 100.0 ms | 125.0 ms | **1.25x** |",
		"| restore, p50 | 200.0 ms | 410.0 ms | **2.05x** |",
		"| file (floor's backup; Stamp's archive) | 99.0 MiB | 30.0 MiB | 0.30x |",
		"backup met (1.25x), restore **not met** (2.05x)",
		"| the engine's Dump into io.Discard | 55.0 ms |",
		"Skipped: no cluster.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
}
