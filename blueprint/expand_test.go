package blueprint

import (
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	refs := map[string]string{"a": "A", "db.main.url": "sqlite:x", "dollar": "$"}
	lookup := func(ref string) (string, bool) { v, ok := refs[ref]; return v, ok }
	tests := []struct {
		in, want, wantErr string
	}{
		{in: "", want: ""},
		{in: "plain", want: "plain"},
		{in: "${a}", want: "A"},
		{in: "x${a}y${db.main.url}z", want: "xAysqlite:xz"},
		{in: "$$", want: "$"},
		{in: "$${a}", want: "${a}"},
		{in: "$$$${a}", want: "$${a}"},
		{in: "$$${a}", want: "$A"},
		{in: "$HOME $", want: "$HOME $"},
		{in: "${dollar}{a}", want: "${a}"},
		{in: "${nope}", wantErr: `unknown reference "${nope}"`},
		{in: "x ${a", wantErr: `unterminated reference "${a": missing "}"`},
		{in: "${" + strings.Repeat("x", 50), wantErr: `unterminated reference "${` + strings.Repeat("x", 38) + `...": missing "}"`},
		{in: "a${}b", wantErr: `empty reference "${}"`},
		{in: "${a}${b}", wantErr: `unknown reference "${b}"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Expand(tt.in, lookup)
			if tt.wantErr != "" {
				if errString(err) != tt.wantErr {
					t.Errorf("got error %q, want %q", errString(err), tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
