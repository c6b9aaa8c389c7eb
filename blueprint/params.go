package blueprint

import "slices"

// TenantParams returns the parameters this version renders a tenant with,
// from the parameters its spec holds (which may have been set for another
// version): the values of parameters this version declares, its defaults
// for those the tenant never set, and "" for optional ones without a
// default. Stored values this version does not declare are left aside,
// not refused: the spec keeps them for a move back to a version that
// declares them. A required parameter the tenant lacks, or a stored value
// this version's pattern refuses, is EUNPROCESSABLE as for ResolveParams.
// Secret parameters are not in the result: their values are among the
// tenant's secrets, not in its spec, and are added by whoever reads those.
func (b *Blueprint) TenantParams(stored map[string]string) (map[string]string, error) {
	plain := &Blueprint{Name: b.Name, Version: b.Version, Parameters: make(map[string]*Parameter, len(b.Parameters))}
	for name, p := range b.Parameters {
		if !p.Secret {
			plain.Parameters[name] = p
		}
	}
	declared := make(map[string]string, len(stored))
	for k, v := range stored {
		if _, ok := plain.Parameters[k]; ok {
			declared[k] = v
		}
	}
	return plain.ResolveParams(declared)
}

// KnownParams is TenantParams without its checks: the stored values of
// the plain parameters this version declares, and its defaults for the
// rest. It is for undoing a move to this version when TenantParams
// refuses the tenant, where a value that does not fit must not stop the
// undoing.
func (b *Blueprint) KnownParams(stored map[string]string) map[string]string {
	out := make(map[string]string, len(b.Parameters))
	for name, p := range b.Parameters {
		if p.Secret {
			continue
		}
		if v, ok := stored[name]; ok {
			out[name] = v
		} else {
			out[name] = p.Default
		}
	}
	return out
}

// SecretParams returns the names of the parameters declared secret,
// sorted.
func (b *Blueprint) SecretParams() []string {
	var out []string
	for name, p := range b.Parameters {
		if p.Secret {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
