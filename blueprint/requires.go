package blueprint

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/stamphq/stamp"
	"go.yaml.in/yaml/v3"
)

// requirementRE is "COMMAND" or "COMMAND >= VERSION".
var requirementRE = regexp.MustCompile(`^\s*(\S+?)\s*(?:(>=|<=|==|=|>|<)\s*(\S*))?\s*$`)

// commandNameRE is a program name looked up in PATH.
var commandNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._+-]*$`)

// minVersionRE is a minimum version: one to three dotted numbers.
var minVersionRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+){0,2}$`)

// requires decodes the top-level requires list.
func (d *decoder) requires(e entry) {
	if e.val.Kind != yaml.SequenceNode {
		d.add(e.val.Line, e.path, "must be a list of strings, not %s", describe(e.val))
		return
	}
	first := map[string]int{}
	for i, n := range e.val.Content {
		n = resolve(n)
		path := fmt.Sprintf("%s[%d]", e.path, i)
		s, ok := d.str(entry{path: path, val: n})
		if !ok {
			continue
		}
		r, err := ParseRequirement(s)
		if err != nil {
			d.add(n.Line, path, "%v", err)
			continue
		}
		if line, dup := first[r.Command]; dup {
			d.add(n.Line, path, "%s is required twice (first at line %d)", r.Command, line)
			continue
		}
		first[r.Command] = n.Line
		d.b.Requires = append(d.b.Requires, r)
	}
}

// ParseRequirement parses one item of requires: a command, its name
// looked up in the tenants' PATH or an absolute path, optionally followed
// by ">= VERSION" (one to three dotted numbers).
func ParseRequirement(s string) (stamp.Requirement, error) {
	m := requirementRE.FindStringSubmatch(s)
	if m == nil || m[1] == "" {
		return stamp.Requirement{}, fmt.Errorf("%q is not a requirement (want COMMAND or COMMAND >= VERSION, e.g. \"python3 >= 3.11\")", s)
	}
	r := stamp.Requirement{Command: m[1], Min: m[3]}
	switch {
	case !filepath.IsAbs(r.Command) && !commandNameRE.MatchString(r.Command):
		return r, fmt.Errorf("command %q must be a program name found in PATH or an absolute path (files of the bundle are not host requirements)", r.Command)
	case filepath.IsAbs(r.Command) && filepath.Clean(r.Command) != r.Command:
		return r, fmt.Errorf("command %q: write the path in its clean form, %q", r.Command, filepath.Clean(r.Command))
	case m[2] != "" && m[2] != ">=":
		return r, fmt.Errorf("%q: only >= is supported (a minimum version)", s)
	case m[2] != "" && !minVersionRE.MatchString(r.Min):
		return r, fmt.Errorf("%q: version %q must be dotted numbers, e.g. 3.11 or 16.2.0", s, r.Min)
	case strings.ContainsAny(r.Command, "\x00"):
		return r, fmt.Errorf("command must not contain a NUL byte")
	}
	return r, nil
}
