package health

import "testing"

func TestListenHint(t *testing.T) {
	tests := []struct {
		name      string
		expected  string
		listening []string
		want      string
	}{
		{"at the address", "127.0.0.1:41234", []string{"127.0.0.1:41234"}, ""},
		{"on every IPv4 address", "127.0.0.1:41234", []string{"0.0.0.0:41234"}, ""},
		{"on every address", "100.64.0.2:41234", []string{"[::]:41234"}, ""},
		{"another port", "127.0.0.1:41234", []string{"0.0.0.0:8080"},
			"expected web to listen on 127.0.0.1:41234, but its processes listen on 0.0.0.0:8080"},
		{"another address", "100.64.0.2:41234", []string{"127.0.0.1:41234", "127.0.0.1:9000"},
			"expected web to listen on 100.64.0.2:41234, but its processes listen on 127.0.0.1:41234, 127.0.0.1:9000"},
		{"nowhere", "127.0.0.1:41234", nil,
			"expected web to listen on 127.0.0.1:41234, but its processes listen on no TCP port"},
		{"no endpoint", "", []string{"0.0.0.0:8080"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ListenHint("web", tt.expected, tt.listening); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
