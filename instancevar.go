package stamp

import "strings"

// Instance variables are the blueprint references only a driver can
// resolve, because their values differ per instance or per runtime: the
// port an instance listens on, the address it binds, the tenant's data
// directory as the instance sees it. A rendered Runtime or Task carries
// them as placeholders (InstanceVar), which the driver replaces with
// ExpandInstanceVars when it starts the process.
const (
	VarPort      = "port"       // the port the instance must listen on
	VarHost      = "host"       // the address the instance must bind
	VarListen    = "listen"     // host:port, both of the above
	VarTenantDir = "tenant.dir" // the tenant's own writable directory
)

// InstanceVars lists the instance variables.
var InstanceVars = []string{VarPort, VarHost, VarListen, VarTenantDir}

// InstanceVar returns the placeholder that stands for instance variable
// name in a rendered value. It holds NUL bytes, which no value given to a
// process can hold (blueprints refuse them), so it never clashes with
// text of the blueprint's own.
func InstanceVar(name string) string { return "\x00" + name + "\x00" }

// ExpandInstanceVars replaces the placeholders of s with vals (by
// variable name); a placeholder vals has no value for becomes empty.
func ExpandInstanceVars(s string, vals map[string]string) string {
	if !strings.Contains(s, "\x00") {
		return s
	}
	pairs := make([]string, 0, 2*len(InstanceVars))
	for _, name := range InstanceVars {
		pairs = append(pairs, InstanceVar(name), vals[name])
	}
	return strings.NewReplacer(pairs...).Replace(s)
}
