package main

import "errors"

// Tenant users and addresses of the isolated server. The users are far
// from the server's default (200000-299999) and the tests' blocks (from
// 3,000,000 and 4,000,000-4,999,999), so that no server or test running
// beside the bench meets its users or their interfaces (stv<uid>);
// 198.18.0.0/15 is the block set aside for benchmarks (RFC 2544), so no
// other server's routes meet its addresses.
const (
	isolatedUIDs = "6000000-6000999"
	isolatedNet  = "198.18.0.0/15"
)

// serverFlags are each server's flags beyond its data dir and listen
// addresses: the isolated server's users, network and (by default)
// cgroups, and the plain server without any of the three. Each has a
// block of tenant ports of its own, away from the default block and the
// tests' (20000-24999).
var serverFlags = map[string][]string{
	isolated: {"--tenant-uids", isolatedUIDs, "--tenant-net", isolatedNet, "--ports", "25000-25499"},
	plain:    {"--tenant-uids", "none", "--tenant-cgroups", "none", "--tenant-net", "none", "--ports", "25500-25999"},
}

// errLeftovers says the deletes through the API left something on the
// host that the bench then had to remove.
var errLeftovers = errors.New("left on the host after every tenant was deleted")
