package blueprint

import (
	"strings"
	"testing"
)

const poolBlueprint = `name: app
version: 1.0.0
parameters:
  currency: { default: EUR }
plans:
  small: { pool: 3 }
  big: {}
default_plan: small
services:
  web:
    command: [bin/app]
`

func TestPlanPool(t *testing.T) {
	b, err := Parse("stamp.yaml", []byte(poolBlueprint))
	if err != nil {
		t.Fatal(err)
	}
	if got := [2]int{b.Plans["small"].Pool, b.Plans["big"].Pool}; got != [2]int{3, 0} {
		t.Errorf("pools of small and big: %v, want [3 0]", got)
	}
}

func TestPlanPoolInvalid(t *testing.T) {
	for _, tt := range []struct{ old, new, want string }{
		{"pool: 3", "pool: -1", "stamp.yaml:6: plans.small.pool: must be between 0 and 50, not -1"},
		{"pool: 3", "pool: 51", "stamp.yaml:6: plans.small.pool: must be between 0 and 50, not 51"},
		{"pool: 3", "pool: many", "stamp.yaml:6: plans.small.pool: must be an integer, not a string"},
		{"currency: { default: EUR }", "currency: { required: true }",
			`stamp.yaml:6: plans.small.pool: a pooled stamp is made before its tenant is known, so parameter "currency" cannot be required (give it a default)`},
	} {
		_, err := Parse("stamp.yaml", []byte(strings.Replace(poolBlueprint, tt.old, tt.new, 1)))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.new, err, tt.want)
		}
	}
}
