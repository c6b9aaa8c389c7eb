package stamp

import "testing"

func TestRedactURL(t *testing.T) {
	for raw, want := range map[string]string{
		"https://hooks.example.com/services/T0/B0/SECRET": "https://hooks.example.com/…",
		"https://example.com/hook?token=SECRET":           "https://example.com/…",
		"https://user:pass@example.com":                   "https://example.com/…",
		"http://127.0.0.1:9000#frag":                      "http://127.0.0.1:9000/…",
		"http://127.0.0.1:9000/":                          "http://127.0.0.1:9000",
		"http://127.0.0.1:9000":                           "http://127.0.0.1:9000",
		"not a url at all":                                "…",
		"http://%zz/SECRET":                               "…",
	} {
		if got := RedactURL(raw); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", raw, got, want)
		}
	}
}
