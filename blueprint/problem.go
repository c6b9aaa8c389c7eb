package blueprint

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/stamphq/stamp"
)

// Problem is one thing wrong with a blueprint, located by file, line and the
// dotted key path of the offending value (e.g. "services.web.env.DB").
type Problem struct {
	File    string
	Line    int // 1-based; 0 when the problem has no line (an empty file)
	Key     string
	Message string
}

// String formats the problem as "stamp.yaml:12: services.web.env.DB: message".
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError lists every problem found in a blueprint. It unwraps to a
// *stamp.Error with code EUNPROCESSABLE, so stamp.ErrorCode reports that code
// and stamp.ErrorMessage shows the problems.
type ValidationError struct {
	Problems []Problem
}

// Error returns the problems one per line, ordered by line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems as a *stamp.Error with code EUNPROCESSABLE.
func (e *ValidationError) Unwrap() error {
	return &stamp.Error{Code: stamp.EUNPROCESSABLE, Message: e.Error()}
}

func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Key, b.Key), cmp.Compare(a.Message, b.Message))
	})
}
