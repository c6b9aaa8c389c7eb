package blueprint

import (
	"errors"
	"fmt"
	"strings"
)

// Expand replaces every ${ref} in s with lookup(ref). "$$" is a literal "$",
// and a "$" followed by anything but "{" or "$" is kept as is, so shell
// snippets such as "$HOME" pass through. An unknown reference, an
// unterminated "${" and an empty "${}" are errors naming the reference.
func Expand(s string, lookup func(ref string) (string, bool)) (string, error) {
	return expand(s, func(ref string) (string, error) {
		if v, ok := lookup(ref); ok {
			return v, nil
		}
		return "", fmt.Errorf("unknown reference %q", "${"+ref+"}")
	})
}

// expand is Expand with a lookup that explains why a reference is unknown.
func expand(s string, lookup func(ref string) (string, error)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i += 2
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf("unterminated reference %q: missing \"}\"", truncate(s[i:], 40))
			}
			ref := s[i+2 : i+2+end]
			if ref == "" {
				return "", errors.New(`empty reference "${}"`)
			}
			v, err := lookup(ref)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			i += 2 + end + 1
		default:
			b.WriteByte('$')
			i++
		}
	}
	return b.String(), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
