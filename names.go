package stamp

import (
	"fmt"
	"strings"
)

// reservedNames are tenant names that would collide with Stamp's own
// addresses or confuse customers.
var reservedNames = map[string]bool{
	"www": true, "api": true, "admin": true, "stamp": true, "console": true,
	"app": true, "mail": true, "status": true, "static": true, "assets": true,
	"localhost": true, "root": true, "system": true, "default": true,
}

// ValidateName checks that name is a DNS label usable as a tenant or
// blueprint name: 1 to 63 characters of [a-z0-9-], not starting or ending
// with '-'. It returns an EINVALID error naming what is wrong.
func ValidateName(kind, name string) error {
	switch {
	case name == "":
		return Errorf(EINVALID, "%s name is empty", kind)
	case len(name) > 63:
		return Errorf(EINVALID, "%s name %q is %d characters long; at most 63 are allowed", kind, truncate(name, 70), len(name))
	case name[0] == '-' || name[len(name)-1] == '-':
		return Errorf(EINVALID, "%s name %q must not start or end with '-'", kind, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return Errorf(EINVALID, "%s name %q has %s at position %d; only a-z, 0-9 and '-' are allowed", kind, name, describeByte(c), i+1)
		}
	}
	return nil
}

// ValidateTenantName is ValidateName for tenants, which also refuses
// reserved names.
func ValidateTenantName(name string) error {
	if err := ValidateName("tenant", name); err != nil {
		return err
	}
	if reservedNames[name] {
		return Errorf(EINVALID, "tenant name %q is reserved", name)
	}
	if strings.HasPrefix(name, PoolPrefix) {
		return Errorf(EINVALID, "tenant name %q is reserved: names starting with %q are the warm pool's", name, PoolPrefix)
	}
	return nil
}

// PoolPrefix begins the name of every stamp of the warm pool, and so of
// every runtime a tenant claims from it: no tenant may be named so, or
// its runtime could be another's.
const PoolPrefix = "pool-"

func describeByte(c byte) string {
	if c >= 'A' && c <= 'Z' {
		return fmt.Sprintf("uppercase %q", c)
	}
	if c < 0x20 || c >= 0x7f {
		return fmt.Sprintf("byte 0x%02x", c)
	}
	return fmt.Sprintf("%q", c)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
