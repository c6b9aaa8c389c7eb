package blueprint

// TenantParams returns the parameters this version renders a tenant with,
// from the parameters its spec holds (which may have been set for another
// version): the values of parameters this version declares, its defaults
// for those the tenant never set, and "" for optional ones without a
// default. Stored values this version does not declare are left aside,
// not refused: the spec keeps them for a move back to a version that
// declares them. A required parameter the tenant lacks, or a stored value
// this version's pattern refuses, is EUNPROCESSABLE as for ResolveParams.
func (b *Blueprint) TenantParams(stored map[string]string) (map[string]string, error) {
	declared := make(map[string]string, len(stored))
	for k, v := range stored {
		if _, ok := b.Parameters[k]; ok {
			declared[k] = v
		}
	}
	return b.ResolveParams(declared)
}
