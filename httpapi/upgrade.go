package httpapi

import (
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/blueprint"
)

// UpgradeTenantRequest is the body of POST /v1/tenants/{name}/upgrade.
type UpgradeTenantRequest struct {
	Version string `json:"version"`
}

// PinTenantRequest is the body of POST /v1/tenants/{name}/pin.
type PinTenantRequest struct {
	Version string `json:"version"`
}

// handleTenantUpgrade moves a tenant to another version of its blueprint:
// a new generation whose spec names it; the reconciler upgrades the tenant
// blue/green. The version must exist, not be yanked, suit the tenant's
// plan, parameters and the server's engines, and agree with a pin; a
// tenant that is upgrading already is refused until that move ends.
func handleTenantUpgrade(st Store, cache *blueprintCache, engines engineSet, clock stamp.Clock, enqueue func(string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[UpgradeTenantRequest](r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if req.Version == "" {
			writeError(w, r, stamp.Errorf(stamp.EINVALID, "version is empty; name the version to upgrade to"))
			return
		}
		name := r.PathValue("name")
		ev := &stamp.Event{Type: stamp.EventTenantUpgradeRequested}
		t, err := changeTenant(r.Context(), st, clock, enqueue, name, ev, true, func(t *stamp.Tenant) (bool, error) {
			if t.Spec.Version == req.Version && t.Spec.Desired != stamp.DesiredDeleted {
				return false, nil // asked again (a client's retry): nothing to change
			}
			if err := upgradable(t, req.Version); err != nil {
				return false, err
			}
			b, err := st.GetBundle(r.Context(), t.Spec.Blueprint, req.Version)
			if stamp.ErrorCode(err) == stamp.ENOTFOUND {
				return false, stamp.Errorf(stamp.ENOTFOUND, "blueprint %s@%s does not exist; push it first", t.Spec.Blueprint, req.Version)
			}
			if err != nil {
				return false, fmt.Errorf("get blueprint %s@%s: %w", t.Spec.Blueprint, req.Version, err)
			}
			if err := notYanked(b); err != nil {
				return false, err
			}
			if err := checkVersionFits(r, st, cache, engines, b, t); err != nil {
				return false, err
			}
			ev.Message = fmt.Sprintf("version %s to %s", t.Spec.Version, req.Version)
			if blueprint.CompareVersions(req.Version, t.Spec.Version) < 0 {
				ev.Message = fmt.Sprintf("downgrading from %s to %s", t.Spec.Version, req.Version)
			}
			t.Spec.Version = req.Version
			return true, nil
		})
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusAccepted, masked(t))
	})
}

// upgradable refuses to move t to version while it is being deleted or
// upgraded, or pinned to another version.
func upgradable(t *stamp.Tenant, version string) error {
	switch {
	case t.Spec.Desired == stamp.DesiredDeleted:
		return stamp.Errorf(stamp.ECONFLICT, "tenant %q is being deleted", t.Name)
	case t.Spec.Desired == stamp.DesiredSuspended:
		return errSuspended(t.Name)
	case t.Spec.Desired == stamp.DesiredSoftDeleted:
		return errSoftDeleted(t.Name)
	case t.Upgrading():
		u := t.Status.Upgrade
		return stamp.Errorf(stamp.ECONFLICT, "tenant %q is upgrading from %s to %s; wait until that ends", t.Name, u.From, u.To)
	case t.Spec.Pin != "" && t.Spec.Pin != version:
		return stamp.Errorf(stamp.ECONFLICT, "tenant %q is pinned to version %s; unpin it first", t.Name, t.Spec.Pin)
	}
	return nil
}

// checkVersionFits checks that bundle b can run tenant t as it is: its
// engines exist here and its plans and parameters accept t's.
func checkVersionFits(r *http.Request, st stamp.BundleStore, cache *blueprintCache, engines engineSet, b *stamp.Bundle, t *stamp.Tenant) error {
	bp, err := cache.load(r.Context(), st, b)
	if err != nil {
		return err
	}
	if err := checkEngines(b, bp, engines); err != nil {
		return err
	}
	if err := cache.requirementsMet(r.Context(), b, bp); err != nil {
		return err
	}
	if _, _, err := bp.ResolvePlan(t.Spec.Plan); err != nil {
		return stamp.Errorf(stamp.EUNPROCESSABLE, "%s does not fit tenant %s: %s", b.Ref(), t.Name, stamp.ErrorMessage(err))
	}
	if _, err := bp.TenantParams(t.Spec.Params); err != nil {
		return stamp.Errorf(stamp.EUNPROCESSABLE, "%s does not fit tenant %s: %s", b.Ref(), t.Name, stamp.ErrorMessage(err))
	}
	// A required secret parameter the tenant has no value for cannot be
	// given before the move (a change is checked against the version
	// the tenant runs), so the move would fail for good at its start.
	for _, name := range bp.SecretParams() {
		_, clear := t.Spec.Params[name]
		if bp.Parameters[name].Required && !clear && !slices.Contains(t.Spec.SecretParams, name) {
			return stamp.Errorf(stamp.EUNPROCESSABLE, "%s does not fit tenant %s: it requires secret parameter %q, which the tenant has no value for; give the parameter a default in %s",
				b.Ref(), t.Name, name, b.Ref())
		}
	}
	return nil
}

// handleTenantPin pins a tenant to a version (POST) or unpins it
// (DELETE). Pinning changes nothing that runs, so it is no new generation.
func handleTenantPin(st Store, clock stamp.Clock, enqueue func(string), pin bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var version string
		if pin {
			req, err := decode[PinTenantRequest](r)
			if err != nil {
				writeError(w, r, err)
				return
			}
			if req.Version == "" {
				writeError(w, r, stamp.Errorf(stamp.EINVALID, "version is empty; name the version to pin the tenant to"))
				return
			}
			version = req.Version
		}
		name := r.PathValue("name")
		ev := &stamp.Event{Type: stamp.EventTenantPinned, Message: version}
		t, err := changeTenant(r.Context(), st, clock, enqueue, name, ev, false, func(t *stamp.Tenant) (bool, error) {
			if t.Spec.Desired == stamp.DesiredDeleted {
				return false, stamp.Errorf(stamp.ECONFLICT, "tenant %q is being deleted", t.Name)
			}
			if pin {
				if _, err := st.GetBundle(r.Context(), t.Spec.Blueprint, version); stamp.ErrorCode(err) == stamp.ENOTFOUND {
					return false, stamp.Errorf(stamp.ENOTFOUND, "blueprint %s@%s does not exist", t.Spec.Blueprint, version)
				} else if err != nil {
					return false, fmt.Errorf("get blueprint %s@%s: %w", t.Spec.Blueprint, version, err)
				}
			}
			if t.Spec.Pin == version {
				return false, nil
			}
			t.Spec.Pin = version
			return true, nil
		})
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusOK, masked(t))
	})
}

// validateChannel accepts the known release channels and the empty
// default.
func validateChannel(ch string) error {
	switch ch {
	case "", stamp.ChannelStable, stamp.ChannelBeta:
		return nil
	}
	return stamp.Errorf(stamp.EINVALID, "channel %q is unknown; use %s or %s", ch, stamp.ChannelStable, stamp.ChannelBeta)
}

// validateLabels checks label keys and values: DNS labels, at most 32.
func validateLabels(labels map[string]string) error {
	if len(labels) > 32 {
		return stamp.Errorf(stamp.EINVALID, "%d labels given; at most 32 are allowed", len(labels))
	}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if err := stamp.ValidateName("label", k); err != nil {
			return err
		}
		if err := stamp.ValidateName("label "+k+" value", labels[k]); err != nil {
			return err
		}
	}
	return nil
}
