package httpapi

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/blueprint"
)

// CreateTenantRequest is the body of POST /v1/tenants. Version defaults to
// the latest version (the highest not yanked) and Plan to the blueprint's default plan.
type CreateTenantRequest struct {
	Name      string            `json:"name"`
	Blueprint string            `json:"blueprint"`
	Version   string            `json:"version,omitempty"`
	Plan      string            `json:"plan,omitempty"`
	Params    map[string]string `json:"params,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	// Channel is the release channel the tenant follows; default stable.
	Channel string `json:"channel,omitempty"`
}

// handleTenantCreate records a new tenant to be stamped out. It checks, in
// order, the name, the blueprint version, the database engines, the plan
// and the parameters, so that a request is refused with the first problem
// a person would want to fix.
func handleTenantCreate(st Store, cache *blueprintCache, engines engineSet, cfg Config) http.Handler {
	clock, enqueue, claim := cfg.Clock, cfg.Enqueue, cfg.Claim
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[CreateTenantRequest](r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		noteTenant(r, req.Name) // for the audit log
		if err := stamp.ValidateTenantName(req.Name); err != nil {
			writeError(w, r, err)
			return
		}
		if req.Blueprint == "" {
			writeError(w, r, stamp.Errorf(stamp.EINVALID, "blueprint is empty; name the blueprint to stamp out"))
			return
		}
		b, err := findBundle(r.Context(), st, req.Blueprint, req.Version)
		if err == nil {
			err = notYanked(b)
		}
		if err != nil {
			writeError(w, r, err)
			return
		}
		bp, err := cache.load(r.Context(), st, b)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if err := checkEngines(b, bp, engines); err != nil {
			writeError(w, r, err)
			return
		}
		if err := cache.requirementsMet(r.Context(), b, bp); err != nil {
			writeError(w, r, err)
			return
		}
		plan, _, err := bp.ResolvePlan(req.Plan)
		if err != nil {
			writeError(w, r, err)
			return
		}
		params, err := bp.ResolveParams(req.Params)
		if err != nil {
			writeError(w, r, err)
			return
		}

		if err := validateChannel(req.Channel); err != nil {
			writeError(w, r, err)
			return
		}
		if err := validateLabels(req.Labels); err != nil {
			writeError(w, r, err)
			return
		}
		params, secretParams := splitSecretParams(bp, params)
		t := &stamp.Tenant{
			Name: req.Name,
			Spec: stamp.TenantSpec{
				Blueprint:    b.Name,
				Version:      b.Version,
				Plan:         plan,
				Params:       params,
				Labels:       req.Labels,
				Channel:      req.Channel,
				Desired:      stamp.DesiredRunning,
				SecretParams: bp.SecretParams(),
			},
			Status:     stamp.TenantStatus{Phase: stamp.PhaseProvisioning},
			Generation: 1,
		}
		// The creation and its event are one write: a crash leaves both
		// or neither.
		ev := &stamp.Event{
			Time:       clock.Now(),
			Type:       stamp.EventTenantCreated,
			Tenant:     t.Name,
			Generation: t.Generation,
			Message:    fmt.Sprintf("%s plan %s", b.Ref(), plan),
		}
		if err := create(r.Context(), st, claim, t, ev); err != nil {
			if stamp.ErrorCode(err) == stamp.ECONFLICT {
				err = stamp.Errorf(stamp.ECONFLICT, "tenant %q already exists", t.Name)
			}
			writeError(w, r, fmt.Errorf("create tenant %s: %w", t.Name, err))
			return
		}
		if err := storeSecretParams(r.Context(), st, t, secretParams); err != nil {
			writeError(w, r, err)
			return
		}
		defer enqueue(t.Name)
		encode(w, r, http.StatusCreated, masked(t))
	})
}

// create stores new tenant t with ev: claimed from the warm pool if claim
// finds a stamp there, else made from nothing.
func create(ctx context.Context, st Store, claim func(context.Context, *stamp.Tenant, ...*stamp.Event) (bool, error), t *stamp.Tenant, ev *stamp.Event) error {
	if claim != nil {
		if claimed, err := claim(ctx, t, ev); claimed || err != nil {
			return err
		}
	}
	return st.CreateTenant(ctx, t, ev)
}

// engineSet is the database engines a server provides, and why it
// refuses others it knows of.
type engineSet struct {
	have    map[string]bool // nil: every engine
	refused map[string]string
}

// checkEngines refuses a blueprint that needs a database engine this
// server does not provide.
func checkEngines(b *stamp.Bundle, bp *blueprint.Blueprint, engines engineSet) error {
	if engines.have == nil {
		return nil
	}
	for _, db := range slices.Sorted(maps.Keys(bp.Databases)) {
		engine := bp.Databases[db].Engine
		if engines.have[engine] {
			continue
		}
		if why := engines.refused[engine]; why != "" {
			return stamp.Errorf(stamp.EUNPROCESSABLE, "blueprint %s needs database engine %q for database %q, which this server does not provide: %s",
				b.Ref(), engine, db, why)
		}
		var have []string
		for e, ok := range engines.have {
			if ok {
				have = append(have, e)
			}
		}
		slices.Sort(have)
		return stamp.Errorf(stamp.EUNPROCESSABLE, "blueprint %s needs database engine %q for database %q, which this server does not provide (available: %s)",
			b.Ref(), engine, db, strings.Join(have, ", "))
	}
	return nil
}

// handleTenantGet returns one tenant, with its health if health knows it.
func handleTenantGet(st stamp.TenantStore, health func(string) *stamp.TenantHealth) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, err := getTenant(r.Context(), st, r.PathValue("name"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		if health != nil {
			t.Health = health(t.Name)
		}
		encode(w, r, http.StatusOK, masked(t))
	})
}

// getTenant is Store.GetTenant with the API's own not-found message.
func getTenant(ctx context.Context, st stamp.TenantStore, name string) (*stamp.Tenant, error) {
	t, err := st.GetTenant(ctx, name)
	if err != nil {
		if stamp.ErrorCode(err) == stamp.ENOTFOUND {
			return nil, stamp.Errorf(stamp.ENOTFOUND, "tenant %q does not exist", name)
		}
		return nil, fmt.Errorf("get tenant %s: %w", name, err)
	}
	return t, nil
}

// changeAttempts bounds the retries of a change that races other writers
// (the reconciler updating status).
const changeAttempts = 3

// handleTenantDelete marks a tenant for deletion and answers 202; the
// reconciler releases its resources and removes the record. Deleting a
// tenant already being deleted answers 202 again.
func handleTenantDelete(st Store, clock stamp.Clock, enqueue func(string), grace time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		purge := grace <= 0 || r.URL.Query().Get("purge") == "true"
		ev := &stamp.Event{Type: stamp.EventTenantDeleting}
		t, err := changeTenant(r.Context(), st, clock, enqueue, name, ev, true, func(t *stamp.Tenant) (bool, error) {
			switch {
			case t.Spec.Desired == stamp.DesiredDeleted:
				return false, nil // already being deleted: nudge the reconciler only
			case !purge && t.Spec.Desired == stamp.DesiredSoftDeleted:
				return false, nil
			case purge:
				t.Spec.Desired = stamp.DesiredDeleted
				t.Status.Phase = stamp.PhaseDeleting
				return true, nil
			}
			t.Spec.Desired, t.Spec.PurgeAt = stamp.DesiredSoftDeleted, clock.Now().Add(grace).UTC()
			ev.Message = fmt.Sprintf("kept until %s (stamp tenant undelete %s), then purged", t.Spec.PurgeAt.Format(time.RFC3339), name)
			return true, nil
		})
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusAccepted, masked(t))
	})
}

// errSoftDeleted refuses a change of a tenant deleted softly.
func errSoftDeleted(name string) error {
	return stamp.Errorf(stamp.ECONFLICT, "tenant %q is deleted; undelete it first (stamp tenant undelete %s)", name, name)
}

// handleTenantUndelete brings back a tenant deleted softly, before it is
// purged: it starts again as it was.
func handleTenantUndelete(st Store, clock stamp.Clock, enqueue func(string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		t, err := changeTenant(r.Context(), st, clock, enqueue, name, &stamp.Event{Type: stamp.EventTenantUndeleted}, true, func(t *stamp.Tenant) (bool, error) {
			switch t.Spec.Desired {
			case stamp.DesiredSoftDeleted:
				t.Spec.Desired, t.Spec.PurgeAt = stamp.DesiredRunning, time.Time{}
				return true, nil
			case stamp.DesiredDeleted:
				return false, stamp.Errorf(stamp.ECONFLICT, "tenant %q is being purged; it cannot be undeleted (its backups are kept: stamp tenant import)", name)
			}
			return false, stamp.Errorf(stamp.ECONFLICT, "tenant %q is not deleted", name)
		})
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusAccepted, masked(t))
	})
}

// handleTenantRetry asks a failed tenant to try again: a new generation,
// so its hooks run anew (a hook's run is remembered per generation).
func handleTenantRetry(st Store, clock stamp.Clock, enqueue func(string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		t, err := changeTenant(r.Context(), st, clock, enqueue, name, &stamp.Event{Type: stamp.EventTenantRetrying}, true, func(t *stamp.Tenant) (bool, error) {
			if t.Spec.Desired == stamp.DesiredDeleted || t.Status.Phase != stamp.PhaseFailed {
				return false, stamp.Errorf(stamp.ECONFLICT, "tenant %q is not failed (phase: %s): only a failed tenant can be retried", name, t.Status.Phase)
			}
			t.Status.Phase = stamp.PhaseProvisioning
			t.Status.FailedStep, t.Status.Message = "", ""
			return true, nil
		})
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusAccepted, masked(t))
	})
}

// changeTenant applies change to tenant name, as a new generation if
// bump (a change the reconciler acts on), records ev (which change may
// fill in) and wakes the reconciler, re-reading the tenant when a concurrent write
// got there first. change reports false to leave the tenant as it is (the
// reconciler is still woken).
func changeTenant(ctx context.Context, st Store, clock stamp.Clock, enqueue func(string), name string, ev *stamp.Event, bump bool,
	change func(*stamp.Tenant) (bool, error)) (*stamp.Tenant, error) {
	for range changeAttempts {
		t, err := getTenant(ctx, st, name)
		if err != nil {
			return nil, err
		}
		changed, err := change(t)
		if err != nil {
			return nil, err
		}
		if !changed {
			enqueue(name)
			return t, nil
		}
		if bump {
			t.Generation++
		}
		ev.Time, ev.Tenant, ev.Generation = clock.Now(), name, t.Generation
		err = st.UpdateTenant(ctx, t, ev) // the change and its event are one write
		if stamp.ErrorCode(err) == stamp.ECONFLICT {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("update tenant %s: %w", name, err)
		}
		defer enqueue(name)
		return t, nil
	}
	return nil, stamp.Errorf(stamp.ECONFLICT, "tenant %q kept changing while it was being updated; try again", name)
}
