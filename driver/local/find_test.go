package local

import "testing"

func TestLookupEnv(t *testing.T) {
	prefix := []byte(markerVar + "=/data/local|")
	for _, tc := range []struct {
		name, env string
		want      string // "-" for none
	}{
		{"first", markerVar + "=/data/local|acme/web-0\x00HOME=/h\x00", "acme/web-0"},
		{"last, no NUL", "HOME=/h\x00" + markerVar + "=/data/local|acme/task:seed", "acme/task:seed"},
		{"in another's value", "X=" + markerVar + "=/data/local|globex/web-0\x00" + markerVar + "=/data/local|acme/web-0\x00", "acme/web-0"},
		{"only in another's value", "X=" + markerVar + "=/data/local|globex/web-0\x00", "-"},
		{"another driver's", markerVar + "=/other/local|acme/web-0\x00", "-"},
		{"empty", "", "-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := lookupEnv([]byte(tc.env), prefix)
			if tc.want == "-" {
				if ok {
					t.Errorf("got %q, want none", got)
				}
				return
			}
			if !ok || string(got) != tc.want {
				t.Errorf("got %q, %v; want %q", got, ok, tc.want)
			}
		})
	}
}
