package local

import (
	"math/bits"
	"slices"
	"strings"
)

// portOwners maps each allocated port to "<tenant>/<instance>".
type portOwners map[int]string

// portChange is one change to the registry, and one line of its journal:
// port given to owner, or freed when owner is empty.
type portChange struct {
	port  int
	owner string
}

// portTable is the registry in memory. Beside each port's owner it keeps
// the ports of each tenant, so that a tenant's entries are found without
// a look at every port, and a bitmap of the allocated ports, so that the
// lowest free port is found by a scan of at most 1,024 words (the whole
// port space) whatever the size of the fleet.
type portTable struct {
	owners portOwners
	held   map[string][]int // tenant -> its ports
	used   [65536 / 64]uint64
}

func newPortTable() *portTable {
	return &portTable{owners: make(portOwners), held: make(map[string][]int)}
}

// apply makes c in t. A port given to a new owner leaves the old one.
func (t *portTable) apply(c portChange) {
	t.free(c.port)
	if c.owner == "" {
		return
	}
	t.owners[c.port] = c.owner
	tenant := tenantOf(c.owner)
	t.held[tenant] = append(t.held[tenant], c.port)
	t.used[c.port/64] |= 1 << (c.port % 64)
}

// free drops the entry of port p, if any.
func (t *portTable) free(p int) {
	owner, ok := t.owners[p]
	if !ok {
		return
	}
	delete(t.owners, p)
	tenant := tenantOf(owner)
	if ports := slices.DeleteFunc(t.held[tenant], func(q int) bool { return q == p }); len(ports) > 0 {
		t.held[tenant] = ports
	} else {
		delete(t.held, tenant)
	}
	t.used[p/64] &^= 1 << (p % 64)
}

// nextFree returns the lowest port from p to max that t does not hold,
// or 0 if there is none.
func (t *portTable) nextFree(p, max int) int {
	for p <= max {
		// The free ports of p's word from p on, as the low bits.
		if w := ^t.used[p/64] >> (p % 64); w != 0 {
			if q := p + bits.TrailingZeros64(w); q <= max {
				return q
			}
			return 0
		}
		p = (p/64 + 1) * 64
	}
	return 0
}

// tenantOf returns the tenant of owner, "<tenant>/<instance>".
func tenantOf(owner string) string {
	tenant, _, _ := strings.Cut(owner, "/")
	return tenant
}
