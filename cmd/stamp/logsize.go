package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// parseLogSize parses --log-max-size: bytes, or a whole number with a
// binary unit ("10Mi").
func parseLogSize(s string) (int64, error) {
	num, mult := s, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 1 || strings.HasPrefix(num, "+") {
		return 0, fmt.Errorf("%q: want a size above 0, in bytes or with a unit Ki, Mi or Gi (e.g. 10Mi)", s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * mult, nil
}
