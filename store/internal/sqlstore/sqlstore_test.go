package sqlstore

import (
	"slices"
	"testing"
	"testing/fstest"

	"github.com/stamphq/stamp"
)

func TestLimitOf(t *testing.T) {
	l := Limit{Noun: "thing", Default: 10, Max: 100}
	tests := []struct {
		n, want int
	}{
		{0, 10},
		{1, 1},
		{100, 100},
		{101, 100},
	}
	for _, tt := range tests {
		got, err := l.Of(tt.n)
		if err != nil || got != tt.want {
			t.Errorf("Of(%d): got %d, %v; want %d", tt.n, got, err, tt.want)
		}
	}
	_, err := l.Of(-1)
	if code := stamp.ErrorCode(err); code != stamp.EINVALID || err.Error() != "thing limit -1 is negative" {
		t.Errorf("Of(-1): got %q (code %q), want EINVALID %q", err, code, "thing limit -1 is negative")
	}
}

func TestMigrations(t *testing.T) {
	file := func(sql string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(sql)} }
	ms, err := Migrations(fstest.MapFS{
		"migrations/0002_more.sql":    file("two"),
		"migrations/0001_initial.sql": file("one"),
		"migrations/README":           file("not a migration"),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Migration{{1, "0001_initial.sql", "one"}, {2, "0002_more.sql", "two"}}
	if len(ms) != len(want) || ms[0] != want[0] || ms[1] != want[1] {
		t.Errorf("got %+v, want %+v", ms, want)
	}

	tests := []struct {
		name, file, want string
	}{
		{"gap", "migrations/0003_gap.sql", "migration 0003_gap.sql: want a name starting with 0002_"},
		{"no number", "migrations/initial.sql", "migration initial.sql: want a name starting with 0002_"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Migrations(fstest.MapFS{"migrations/0001_initial.sql": file("one"), tt.file: file("x")})
			if err == nil || err.Error() != tt.want {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCheckVersion(t *testing.T) {
	for _, current := range []int{0, 3, 4} {
		if err := CheckVersion(current, 4); err != nil {
			t.Errorf("CheckVersion(%d, 4): %v", current, err)
		}
	}
	if err := CheckVersion(5, 4); err == nil {
		t.Error("CheckVersion(5, 4): got nil, want an error")
	}
}

func TestCutPage(t *testing.T) {
	tenants := func(names ...string) []*stamp.Tenant {
		ts := make([]*stamp.Tenant, len(names))
		for i, n := range names {
			ts[i] = &stamp.Tenant{Name: n}
		}
		return ts
	}
	tests := []struct {
		read      []string
		limit     int
		backwards bool
		wantNames []string
		wantNext  string
	}{
		{nil, 2, false, nil, ""},
		{[]string{"a"}, 2, false, []string{"a"}, ""},
		{[]string{"a", "b"}, 2, false, []string{"a", "b"}, ""},
		{[]string{"a", "b", "c"}, 2, false, []string{"a", "b"}, "b"},
		{[]string{"c"}, 2, true, []string{"c"}, ""},
		{[]string{"c", "b"}, 2, true, []string{"b", "c"}, ""},
		{[]string{"c", "b", "a"}, 2, true, []string{"b", "c"}, "b"},
	}
	for _, tt := range tests {
		page, next := CutPage(tenants(tt.read...), tt.limit, tt.backwards)
		var names []string
		for _, tn := range page {
			names = append(names, tn.Name)
		}
		if !slices.Equal(names, tt.wantNames) || next != tt.wantNext {
			t.Errorf("CutPage(%q, %d, %t): got %q, next %q; want %q, next %q", tt.read, tt.limit, tt.backwards, names, next, tt.wantNames, tt.wantNext)
		}
	}
}
