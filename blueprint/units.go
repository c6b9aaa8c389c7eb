package blueprint

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// sizeSuffixes are the memory units a plan may use, binary and decimal.
var sizeSuffixes = []struct {
	suffix string
	mult   int64
}{
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
	{"K", 1e3}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12},
}

// parseSize parses a memory size: plain bytes ("1048576") or a whole number
// with a unit ("128Mi", "1G").
func parseSize(s string) (int64, error) {
	num, mult := s, int64(1)
	for _, u := range sizeSuffixes {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || !isNumeric(num) {
		return 0, fmt.Errorf("invalid size %q: want bytes or a whole number with a unit Ki, Mi, Gi, Ti, K, M, G or T (e.g. 128Mi)", s)
	}
	if n == 0 {
		return 0, fmt.Errorf("size %q must be greater than 0", s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * mult, nil
}

// parseCPU parses a CPU amount in cores: a number ("0.25", "2") or
// millicores ("250m").
func parseCPU(s string) (float64, error) {
	var v float64
	if m, ok := strings.CutSuffix(s, "m"); ok {
		n, err := strconv.ParseInt(m, 10, 64)
		if err != nil || !isNumeric(m) {
			return 0, fmt.Errorf("invalid cpu %q: want cores (e.g. 0.5) or millicores (e.g. 500m)", s)
		}
		v = float64(n) / 1000
	} else {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || strings.ContainsAny(s, "xXpP_") {
			return 0, fmt.Errorf("invalid cpu %q: want cores (e.g. 0.5) or millicores (e.g. 500m)", s)
		}
		v = f
	}
	if v <= 0 {
		return 0, fmt.Errorf("cpu %q must be greater than 0", s)
	}
	return v, nil
}

// isNumeric reports whether s is a non-empty run of ASCII digits.
func isNumeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
