package blueprint

import "strconv"

// DefaultConnections is a plan's connections when it does not say: a
// role limit of 50, what every tenant role had before plans said.
const DefaultConnections = 25

// MaxConnections bounds a plan's connections: two versions' worth must
// stay far below any PostgreSQL server's max_connections.
const MaxConnections = 10_000

// RoleConnectionLimit is the connection limit of a tenant's database role
// when a version of the app whose plan allows from connections may still
// run beside one that allows to (both may open their pools during a
// blue/green move): from + to, and never less than twice to, so that
// the next move, while the tenant rests, needs no change. A hook runs
// beside one version only (migrate before the new version starts, seed
// on create), and opens at most its plan's connections like a version.
func RoleConnectionLimit(from, to int) int {
	return max(from+to, 2*to)
}

// InstanceConnections is one instance's share of the plan's connections
// (the value of ${db.NAME.connections}): connections divided among the
// service's replicas, at least 1.
func (p *Plan) InstanceConnections() int {
	return max(1, p.Connections/max(1, p.Replicas))
}

// connectionsRef is the value of ${db.NAME.connections} for plan.
func connectionsRef(plan *Plan) string {
	return strconv.Itoa(plan.InstanceConnections())
}
