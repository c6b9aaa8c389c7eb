package reconcile

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	stamp "github.com/stamphq/stamp"
	"github.com/stamphq/stamp/blueprint"
)

// secretParams adds to missing the value of each secret parameter of the
// blueprint that the tenant's secrets (have) lack: one the spec holds in
// clear (a parameter an older version did not declare secret), else its
// default. A value the API is storing this moment (it writes the tenant,
// then the values) is waited for: the pass is retried.
func (p *pass) secretParams(have, missing map[string]string) error {
	for _, name := range p.bp.SecretParams() {
		key := stamp.SecretParamPrefix + name
		if _, ok := have[key]; ok {
			continue
		}
		if v, ok := p.t.Spec.Params[name]; ok {
			missing[key] = v
			continue
		}
		param := p.bp.Parameters[name]
		switch {
		case slices.Contains(p.t.Spec.SecretParams, name):
			return fmt.Errorf("the value of secret parameter %s is not stored yet", name)
		case param.Required:
			return terminal("secret parameter %q is required and has no value: set it with `stamp tenant set %s --param %s=...`", name, p.t.Name, name)
		}
		missing[key] = param.Default
	}
	return nil
}

// withSecretParams returns the parameters the pass renders with (the
// spec's, with this version's defaults) plus the values of the secret
// ones, from the tenant's secrets: a copy, so that the values never
// reach the spec, which is stored in clear.
func (p *pass) withSecretParams(secrets map[string]string) map[string]string {
	params := maps.Clone(p.in.Params)
	if params == nil {
		params = map[string]string{}
	}
	for _, name := range p.bp.SecretParams() {
		params[name] = secrets[stamp.SecretParamPrefix+name]
	}
	return params
}

// connectionLimit is the connection limit of the tenant's database roles
// for this pass: room for two versions of its plan's connections, or,
// during a move, for the old version's and the new one's (see
// blueprint.RoleConnectionLimit).
func (p *pass) connectionLimit(ctx context.Context) (int, error) {
	from, to, err := p.connections(ctx)
	if err != nil {
		return 0, err
	}
	return blueprint.RoleConnectionLimit(from, to), nil
}

// connections returns the plan connections of the version the tenant
// moves from (to's, at rest) and of its spec.
func (p *pass) connections(ctx context.Context) (from, to int, err error) {
	_, plan, err := p.bp.ResolvePlan(p.t.Spec.Plan)
	if err != nil {
		return 0, 0, terminal("%s", stamp.ErrorMessage(err))
	}
	to = plan.Connections
	u := p.t.Status.Upgrade
	if !p.t.Upgrading() {
		return to, to, nil
	}
	old, _, err := p.r.blueprint(ctx, p.t.Spec.Blueprint, u.From)
	if err != nil {
		return 0, 0, err
	}
	planName := p.t.Spec.Plan
	if u.FromConfig != nil {
		planName = u.FromConfig.Plan
	}
	if _, oldPlan, err := old.ResolvePlan(planName); err == nil {
		return oldPlan.Connections, to, nil
	}
	return to, to, nil
}

// settleConnectionLimit brings the tenant's database roles to the limit
// of its plan at rest once the old version is retired, where the move
// needed more (its old version's plan allowed more connections).
func (p *pass) settleConnectionLimit(ctx context.Context) error {
	from, to, err := p.connections(ctx)
	if err != nil || blueprint.RoleConnectionLimit(from, to) == blueprint.RoleConnectionLimit(to, to) {
		return err
	}
	secrets, err := p.r.cfg.Store.Secrets(ctx, p.t.Name)
	if err != nil {
		return fmt.Errorf("read secrets: %w", err)
	}
	for name, db := range p.bp.Databases {
		engine, err := p.r.engine(name, db.Engine)
		if err != nil {
			return err
		}
		spec := stamp.DatabaseSpec{Tenant: p.t.Name, Name: name, Password: secrets[dbPasswordKey(name)], UID: p.t.Status.UID,
			ConnectionLimit: blueprint.RoleConnectionLimit(to, to)}
		if _, err := engine.Ensure(ctx, spec); err != nil {
			return fmt.Errorf("lower the connection limit of database %s: %w", name, err)
		}
	}
	return nil
}

// restoreConfig puts back in spec the plan and parameters the move u
// started from, where u changed them: a failed change is undone like a
// failed upgrade. The values of secret parameters stay as they were last
// set.
func restoreConfig(spec *stamp.TenantSpec, u *stamp.Upgrade) {
	gen := configGeneration(u.FromRevision())
	if gen == spec.ConfigGeneration {
		return
	}
	spec.ConfigGeneration = gen
	if fc := u.FromConfig; fc != nil {
		spec.Plan = fc.Plan
		spec.Params = maps.Clone(fc.Params)
	}
}

// configGeneration returns the change of plan or parameters revision rev
// runs with ("2.0.0_c7": 7), 0 for none.
func configGeneration(rev string) int64 {
	i := strings.LastIndex(rev, "_c")
	if i < 0 {
		return 0
	}
	n, err := strconv.ParseInt(rev[i+2:], 10, 64)
	if err != nil {
		return 0
	}
	return n
}
