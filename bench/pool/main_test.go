package main

import (
	"io"
	"strings"
	"testing"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string // in the error; "" for none
	}{
		{nil, ""},
		{[]string{"-n", "20", "-pool", "50", "-isolated", "-timeout", "30s"}, ""},
		{[]string{"-n", "0"}, "-n 0: want at least 1"},
		{[]string{"-pool", "0"}, "-pool 0: want 1 to 50"},
		{[]string{"-pool", "51"}, "-pool 51: want 1 to 50"},
		{[]string{"-timeout", "0s"}, "-timeout 0s: want a positive duration"},
		{[]string{"-n", "0", "-pool", "0"}, "-n 0: want at least 1\n-pool 0: want 1 to 50"},
		{[]string{"-n", "x"}, `invalid value "x" for flag -n`},
		{[]string{"extra"}, `unexpected arguments ["extra"]`},
	}
	for _, tt := range tests {
		cfg, err := parseFlags(tt.args, io.Discard)
		switch {
		case err == nil && tt.want != "":
			t.Errorf("parseFlags(%q): no error, want %q", tt.args, tt.want)
		case err != nil && (tt.want == "" || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("parseFlags(%q): %v, want %q", tt.args, err, tt.want)
		case err == nil && strings.Join(cfg.args, " ") != strings.Join(tt.args, " "):
			t.Errorf("parseFlags(%q): args %q kept for the report, want them as given", tt.args, cfg.args)
		}
	}
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil || cfg.n != 30 || cfg.pool != 4 || cfg.isolated {
		t.Errorf("defaults: %+v, %v; want -n 30, -pool 4, not isolated", cfg, err)
	}
}
