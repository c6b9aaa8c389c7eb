package postgres

import (
	"strings"
	"testing"
)

func TestObjectName(t *testing.T) {
	long := strings.Repeat("a", 63)
	tests := []struct {
		tenant, database, want string
	}{
		{"acme", "main", "stamp_acme_main"},
		{"a-b", "main", "stamp_a-b_main"},
		{"select", "user", "stamp_select_user"},
		{"a", "b-c", "stamp_a_b-c"},
		{"a-b", "c", "stamp_a-b_c"},
		{strings.Repeat("x", 51), "main", "stamp_" + strings.Repeat("x", 51) + "_main"}, // exactly 63
		{long, "main", "stamp_" + strings.Repeat("a", 43) + "__f8e7c6a1681a"},           // pinned: names must not change across releases
	}
	for _, tt := range tests {
		t.Run(tt.tenant+"/"+tt.database, func(t *testing.T) {
			got := ObjectName(tt.tenant, tt.database)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if len(got) > 63 {
				t.Errorf("got %d bytes, want at most 63", len(got))
			}
		})
	}
}

func TestObjectNameLongStaysUnique(t *testing.T) {
	long := strings.Repeat("a", 62)
	pairs := [][2]string{
		{long + "1", "main"},
		{long + "2", "main"},
		{long + "1", "audit"},
		{long + "1", long + "1"},
		{long + "1", long + "2"},
		{strings.Repeat("a", 52), "main"},
		{strings.Repeat("a", 53), "main"},
	}
	seen := map[string][2]string{}
	for _, p := range pairs {
		name := ObjectName(p[0], p[1])
		if len(name) > 63 {
			t.Errorf("%v: got %q of %d bytes, want at most 63", p, name, len(name))
		}
		if prev, ok := seen[name]; ok {
			t.Errorf("%v and %v: both got %q, want distinct names", prev, p, name)
		}
		seen[name] = p
		if again := ObjectName(p[0], p[1]); again != name {
			t.Errorf("%v: got %q then %q, want a stable name", p, name, again)
		}
	}
}

func TestAppURL(t *testing.T) {
	tests := []struct {
		name, host string
		port       uint16
		sslmode    string
		password   string
		want       string
	}{
		{"tcp", "127.0.0.1", 5432, "disable", "s3cret", "postgres://stamp_acme_main:s3cret@127.0.0.1:5432/stamp_acme_main?sslmode=disable"},
		{"ipv6", "::1", 5433, "require", "s3cret", "postgres://stamp_acme_main:s3cret@[::1]:5433/stamp_acme_main?sslmode=require"},
		{"escaped password", "db.internal", 5432, "verify-full", "a@b:c/d?e f", "postgres://stamp_acme_main:a%40b%3Ac%2Fd%3Fe%20f@db.internal:5432/stamp_acme_main?sslmode=verify-full"},
		{"unix socket", "/run/postgresql", 5432, "disable", "s3cret", "postgres://stamp_acme_main:s3cret@/stamp_acme_main?host=%2Frun%2Fpostgresql&port=5432&sslmode=disable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := appURL(tt.host, tt.port, tt.sslmode, "stamp_acme_main", tt.password); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSnapshotName(t *testing.T) {
	long := strings.Repeat("a", 63)
	tests := []struct {
		tenant, database, snapshot, want string
	}{
		{"acme", "main", "pre-1-3-0", "stampsnap_acme_main_pre-1-3-0"},
		{long, "main", "pre", "stampsnap_" + strings.Repeat("a", 39) + "__3eebfdd5d236"}, // pinned: names must not change across releases,
	}
	for _, tt := range tests {
		t.Run(tt.snapshot, func(t *testing.T) {
			got := SnapshotName(tt.tenant, tt.database, tt.snapshot)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if len(got) > 63 {
				t.Errorf("got %d bytes, want at most 63", len(got))
			}
			if got == ObjectName(tt.tenant, tt.database) || got == tempSnapshotName(tt.tenant, tt.database, tt.snapshot) {
				t.Errorf("got %q, the name of another database", got)
			}
		})
	}
	if a, b := SnapshotName(long, "main", "a"), SnapshotName(long, "main", "b"); a == b {
		t.Errorf("snapshots a and b: both got %q, want distinct names", a)
	}
}
