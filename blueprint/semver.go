package blueprint

import (
	"strings"

	"golang.org/x/mod/semver"
)

// ValidVersion reports whether v is a semantic version 2.0.0:
// MAJOR.MINOR.PATCH with optional -prerelease and +build parts, no leading
// zeros in numbers and no "v" prefix. It is stricter than
// golang.org/x/mod/semver, which wants the prefix and takes "1" and "1.2"
// as short forms: a blueprint names its version in full.
func ValidVersion(v string) bool {
	core := v
	if i := strings.IndexAny(v, "-+"); i >= 0 {
		core = v[:i]
	}
	return strings.Count(core, ".") == 2 && semver.IsValid("v"+v)
}

// CompareVersions returns -1, 0 or +1 as a sorts before, equal to or after b
// in semantic version precedence: numbers compare numerically, a prerelease
// sorts before its release, build metadata is ignored. Both must be valid
// (see ValidVersion); an invalid version sorts before every valid one.
func CompareVersions(a, b string) int {
	return semver.Compare("v"+a, "v"+b)
}
