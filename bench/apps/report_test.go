package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

// samplesOf returns n samples of steps, the i-th (from 1) taking i times
// each step's duration.
func samplesOf(n int, steps ...step) []sample {
	start := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	var out []sample
	for i := 1; i <= n; i++ {
		s := sample{n: int64(i), start: start, end: start}
		for _, st := range steps {
			st.took *= time.Duration(i)
			s.steps = append(s.steps, st)
			s.end = s.end.Add(st.took)
		}
		out = append(out, s)
	}
	return out
}

func TestMarkdown(t *testing.T) {
	ms := time.Millisecond
	r := &report{loadBefore: "0.50 0.40 0.30", loadAfter: "1.00 0.50 0.30", apps: []*appResult{{
		app:    apps["miniflux"],
		floor:  samplesOf(10, step{"migrate", 60 * ms}, step{"start to first 200", 40 * ms}),
		stamp:  samplesOf(10, step{"migrate", 70 * ms}, step{"health", 50 * ms}),
		checks: "users: one per tenant\n",
	}}}
	got := r.markdown()
	for _, want := range []string{
		"before: 0.50 0.40 0.30; after: 1.00 0.50 0.30",
		// p50 is the 5th of 10: 5 x 120 ms against 5 x 100 ms; p90 the 9th.
		"| miniflux | 10 | 600.0 ms | 1080.0 ms | 500.0 ms | 900.0 ms | **1.20x** | 1.20x |",
		"- by hand: migrate 330.0 ms, start to first 200 220.0 ms\n",
		"migrate 385.0 ms, health 275.0 ms; from the API call to the first 200, 660.0 ms\n",
		"```\nusers: one per tenant\n```",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string // in the error; "" for none
	}{
		{nil, ""},
		{[]string{"-apps", "radicale"}, ""},
		{[]string{"-apps", "gitea"}, `-apps: unknown app "gitea" (want miniflux or radicale)`},
		{[]string{"-apps", "radicale,radicale"}, "-apps: radicale named twice"},
		{[]string{"-samples", "0"}, "want -samples >= 1"},
		{[]string{"extra"}, `unexpected arguments ["extra"]`},
	}
	for _, tt := range tests {
		_, err := parseFlags(tt.args, io.Discard)
		switch {
		case err == nil && tt.want != "":
			t.Errorf("parseFlags(%q): no error, want %q", tt.args, tt.want)
		case err != nil && (tt.want == "" || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("parseFlags(%q): %v, want %q", tt.args, err, tt.want)
		}
	}
}
