package httpapi

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/blueprint"
)

// SetTenantRequest is the body of PATCH /v1/tenants/{name}: the plan and
// the parameters to change; parameters not named keep their values.
type SetTenantRequest struct {
	Plan   string            `json:"plan,omitempty"`
	Params map[string]string `json:"params,omitempty"`
}

// handleTenantSet changes a tenant's plan or parameters, validated as at
// create against the tenant's version: a new generation whose instances
// the reconciler rolls blue/green. Values of secret parameters go to the
// tenant's secrets, never to the spec or the event. A request that changes
// nothing answers the tenant as it is.
func handleTenantSet(st Store, cache *blueprintCache, clock stamp.Clock, enqueue func(string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[SetTenantRequest](r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if req.Plan == "" && len(req.Params) == 0 {
			writeError(w, r, stamp.Errorf(stamp.EINVALID, "nothing to change: give a plan or parameters"))
			return
		}
		name := r.PathValue("name")
		ev := &stamp.Event{Type: stamp.EventTenantChanged}
		var written, previous map[string]string // secret parameter values put, and what they replaced
		t, err := changeTenant(r.Context(), st, clock, enqueue, name, ev, true, func(t *stamp.Tenant) (bool, error) {
			if err := settable(t); err != nil {
				return false, err
			}
			c, err := planChange(r.Context(), st, cache, t, req)
			if err != nil || len(c.changes) == 0 {
				return false, err
			}
			if len(c.secrets) > 0 {
				if previous == nil {
					previous = c.previous
				}
				if err := st.PutSecrets(r.Context(), t.Name, c.secrets); err != nil {
					return false, fmt.Errorf("store secret parameters of tenant %s: %w", t.Name, err)
				}
				written = c.secrets
			}
			ev.Message = strings.Join(c.changes, "; ")
			t.Spec.Plan, t.Spec.Params, t.Spec.SecretParams = c.plan, c.params, c.secretParams
			t.Spec.ConfigGeneration = t.Generation + 1 // the generation this write makes
			if t.Status.Config == nil && t.Status.Version != "" {
				// What the instances run, for a failed change to put
				// back: recorded at route since; this tenant was routed
				// before, with its spec as it was.
				t.Status.Config = c.before
			}
			return true, nil
		})
		if err != nil {
			if written != nil {
				// The spec was not changed: its secret values are put back.
				if perr := st.PutSecrets(context.WithoutCancel(r.Context()), name, previous); perr != nil {
					err = fmt.Errorf("%w (and putting the secret parameters back failed: %v)", err, perr)
				}
			}
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusAccepted, masked(t))
	})
}

// settable refuses to change a tenant being deleted or moved.
func settable(t *stamp.Tenant) error {
	switch {
	case t.Spec.Desired == stamp.DesiredDeleted:
		return stamp.Errorf(stamp.ECONFLICT, "tenant %q is being deleted", t.Name)
	case t.Spec.Desired == stamp.DesiredSuspended:
		return errSuspended(t.Name)
	case t.Spec.Desired == stamp.DesiredSoftDeleted:
		return errSoftDeleted(t.Name)
	case t.Upgrading():
		u := t.Status.Upgrade
		return stamp.Errorf(stamp.ECONFLICT, "tenant %q is moving from %s to %s; wait until that ends", t.Name, u.FromRevision(), u.ToRevision())
	case t.Status.Version != "" && t.Spec.Version != t.Status.Version:
		// Accepted but not begun: the change would be checked against
		// a version the tenant does not run yet.
		return stamp.Errorf(stamp.ECONFLICT, "tenant %q is about to move from %s to %s; wait until that ends", t.Name, t.Status.Version, t.Spec.Version)
	}
	return nil
}

// change is a validated change of a tenant's plan and parameters.
type change struct {
	plan         string
	params       map[string]string // the spec's: no secret parameter
	secretParams []string
	secrets      map[string]string // changed secret parameters, by secret name
	previous     map[string]string // their values before
	changes      []string          // what changed, for the event; secret values masked
	before       *stamp.TenantConfig
}

// planChange validates req against tenant t's version as a create would
// (unknown plan, unknown parameters, patterns, required ones) and works
// out the new spec. No change at all has no changes.
func planChange(ctx context.Context, st Store, cache *blueprintCache, t *stamp.Tenant, req SetTenantRequest) (*change, error) {
	b, err := st.GetBundle(ctx, t.Spec.Blueprint, t.Spec.Version)
	if err != nil {
		return nil, fmt.Errorf("get blueprint %s@%s: %w", t.Spec.Blueprint, t.Spec.Version, err)
	}
	bp, err := cache.load(ctx, st, b)
	if err != nil {
		return nil, err
	}
	c := &change{plan: t.Spec.Plan, secretParams: bp.SecretParams(), secrets: map[string]string{}, previous: map[string]string{}, before: t.Spec.Config()}
	if req.Plan != "" {
		if c.plan, _, err = bp.ResolvePlan(req.Plan); err != nil {
			return nil, err
		}
		if c.plan != t.Spec.Plan {
			c.changes = append(c.changes, fmt.Sprintf("plan %s to %s", t.Spec.Plan, c.plan))
		}
	}
	stored, err := st.Secrets(ctx, t.Name)
	if err != nil {
		return nil, fmt.Errorf("read secrets of tenant %s: %w", t.Name, err)
	}
	// The values now: the spec's (those this version declares) and the
	// secret ones; the request's over them.
	current := map[string]string{}
	for k, v := range t.Spec.Params {
		if _, ok := bp.Parameters[k]; ok {
			current[k] = v
		}
	}
	for _, k := range c.secretParams {
		if v, ok := stored[stamp.SecretParamPrefix+k]; ok {
			current[k] = v
		}
	}
	merged := maps.Clone(current)
	maps.Copy(merged, req.Params)
	resolved, err := bp.ResolveParams(merged)
	if err != nil {
		return nil, err
	}
	c.params = maps.Clone(t.Spec.Params)
	if c.params == nil {
		c.params = map[string]string{}
	}
	for _, k := range slices.Sorted(maps.Keys(req.Params)) {
		old, had := current[k]
		v := resolved[k]
		if had && old == v {
			continue
		}
		if bp.Parameters[k].Secret {
			c.secrets[stamp.SecretParamPrefix+k] = v
			c.previous[stamp.SecretParamPrefix+k] = old
			c.changes = append(c.changes, fmt.Sprintf("%s %s", k, stamp.MaskedValue))
			continue
		}
		c.params[k] = v
		c.changes = append(c.changes, fmt.Sprintf("%s %q to %q", k, old, v))
	}
	return c, nil
}

// splitSecretParams returns params without bp's secret parameters, and
// their values by secret name.
func splitSecretParams(bp *blueprint.Blueprint, params map[string]string) (plain, secrets map[string]string) {
	plain, secrets = maps.Clone(params), map[string]string{}
	for _, name := range bp.SecretParams() {
		if v, ok := plain[name]; ok {
			secrets[stamp.SecretParamPrefix+name] = v
			delete(plain, name)
		}
	}
	return plain, secrets
}

// storeSecretParams stores the values of a new tenant's secret
// parameters. If that fails the tenant is deleted again, so that the
// request can simply be repeated.
func storeSecretParams(ctx context.Context, st Store, t *stamp.Tenant, secrets map[string]string) error {
	if len(secrets) == 0 {
		return nil
	}
	err := st.PutSecrets(ctx, t.Name, secrets)
	if err == nil {
		return nil
	}
	// Its creation was recorded with it: so is its undoing.
	undone := &stamp.Event{Type: stamp.EventTenantDeleted, Tenant: t.Name, Generation: t.Generation,
		Message: "creation undone: its secret parameters could not be stored"}
	if derr := st.DeleteTenant(context.WithoutCancel(ctx), t.Name, t.ResourceVersion, undone); derr != nil {
		return fmt.Errorf("store secret parameters of tenant %s: %w (and removing the tenant again failed: %v)", t.Name, err, derr)
	}
	return fmt.Errorf("store secret parameters of tenant %s: %w", t.Name, err)
}

// masked returns t as clients see it: its secret parameters are named in
// Params with their values masked.
func masked(t *stamp.Tenant) *stamp.Tenant {
	if len(t.Spec.SecretParams) == 0 {
		return t
	}
	out := *t
	out.Spec.Params = maps.Clone(t.Spec.Params)
	if out.Spec.Params == nil {
		out.Spec.Params = map[string]string{}
	}
	for _, name := range t.Spec.SecretParams {
		out.Spec.Params[name] = stamp.MaskedValue
	}
	return &out
}
