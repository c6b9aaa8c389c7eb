package main

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stamphq/stamp/bench/internal/golden"
)

// TestMarkdown renders a report and compares it with testdata/report.md,
// so that any change to the report's format shows as a change of that
// file (rewrite it with -update).
func TestMarkdown(t *testing.T) {
	res := &result{nproc: 2, goVersion: "go1.26.8", commit: "abc1234", load: "0.10 0.20 0.30",
		serving: window{wall: 60 * time.Second, cpu: 240 * time.Millisecond, loadBefore: "0.10 0.20 0.30", loadAfter: "0.12 0.20 0.30"},
		looping: window{wall: 60 * time.Second, cpu: 330 * time.Millisecond, loadBefore: "0.12 0.20 0.30", loadAfter: "0.15 0.20 0.30"},
		starts:  9, incident: "inc-1234abcd"}
	path := filepath.Join("testdata", "report.md")
	got := res.markdown()
	golden.Check(t, path, got)
}

func TestVerdict(t *testing.T) {
	tests := []struct {
		cpu  time.Duration // of a 10s crash-looping window
		want string
	}{
		{time.Second, "met (10.00%)"},
		{2 * time.Second, "missed (20.00%)"},
	}
	for _, tt := range tests {
		r := &result{looping: window{wall: 10 * time.Second, cpu: tt.cpu}}
		if got := r.markdown(); !strings.Contains(got, "crash-loops: "+tt.want) {
			t.Errorf("CPU %s in 10s: report lacks %q:\n%s", tt.cpu, tt.want, got)
		}
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string // part of the error; "" for none
	}{
		{nil, ""},
		{[]string{"-window", "5s", "-settle", "0s", "-timeout", "1m"}, ""},
		{[]string{"-window", "10ms"}, "-window 10ms"},
		{[]string{"-settle", "-1s"}, "-settle -1s"},
		{[]string{"-window", "1m", "-timeout", "2m"}, "-timeout 2m0s"},
		{[]string{"extra"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := parseFlags(tt.args, io.Discard)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("got %v, want an error saying %q", err, tt.wantErr)
			}
		})
	}
}
