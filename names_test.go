package stamp

import (
	"strings"
	"testing"
)

func TestValidateTenantName(t *testing.T) {
	tests := []struct {
		name string
		want string // "" for valid
	}{
		{"acme", ""},
		{"a", ""},
		{"acme-corp-2", ""},
		{strings.Repeat("a", 63), ""},
		{"", `tenant name is empty`},
		{strings.Repeat("a", 64), `tenant name "` + strings.Repeat("a", 64) + `" is 64 characters long; at most 63 are allowed`},
		{"Acme", `tenant name "Acme" has uppercase 'A' at position 1; only a-z, 0-9 and '-' are allowed`},
		{"-x", `tenant name "-x" must not start or end with '-'`},
		{"x-", `tenant name "x-" must not start or end with '-'`},
		{"a_b", `tenant name "a_b" has '_' at position 2; only a-z, 0-9 and '-' are allowed`},
		{"../etc", `tenant name "../etc" has '.' at position 1; only a-z, 0-9 and '-' are allowed`},
		{"a\x00b", `tenant name "a\x00b" has byte 0x00 at position 2; only a-z, 0-9 and '-' are allowed`},
		{"www", `tenant name "www" is reserved`},
		{"admin", `tenant name "admin" is reserved`},
		{"stamp", `tenant name "stamp" is reserved`},
		{"pool-a1b2", `tenant name "pool-a1b2" is reserved: names starting with "pool-" are the warm pool's`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateTenantName(tt.name)
			got := ""
			if err != nil {
				got = err.Error()
				if code := ErrorCode(err); code != EINVALID {
					t.Errorf("code %q, want %q", code, EINVALID)
				}
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrorCodeAndMessage(t *testing.T) {
	wrapped := wrap(Errorf(ENOTFOUND, "tenant %q does not exist", "acme"))
	if got := ErrorCode(wrapped); got != ENOTFOUND {
		t.Errorf("ErrorCode = %q, want %q", got, ENOTFOUND)
	}
	if got := ErrorMessage(wrapped); got != `tenant "acme" does not exist` {
		t.Errorf("ErrorMessage = %q", got)
	}
	internal := wrap(errPlain("disk I/O error at /var/lib/x"))
	if got := ErrorCode(internal); got != EINTERNAL {
		t.Errorf("ErrorCode of a plain error = %q, want %q", got, EINTERNAL)
	}
	if got := ErrorMessage(internal); got != "internal error" {
		t.Errorf("ErrorMessage of a plain error = %q, want %q", got, "internal error")
	}
	if ErrorCode(nil) != "" || ErrorMessage(nil) != "" {
		t.Error("nil error has a code or message")
	}
}

type errPlain string

func (e errPlain) Error() string { return string(e) }

type wrapper struct{ err error }

func (w wrapper) Error() string { return "context: " + w.err.Error() }
func (w wrapper) Unwrap() error { return w.err }

func wrap(err error) error { return wrapper{err} }
