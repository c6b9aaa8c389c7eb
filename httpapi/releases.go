package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/rollout"
)

// CreateReleaseRequest is the body of POST /v1/releases. Defaults: one
// wave of 100%, MaxParallel 8, Soak 30s, MaxErrorRate 0.01, OnFailure
// rollback.
type CreateReleaseRequest struct {
	Blueprint    string            `json:"blueprint"`
	Version      string            `json:"version"`
	Channel      string            `json:"channel,omitempty"`
	Selector     map[string]string `json:"selector,omitempty"`
	Waves        []stamp.Wave      `json:"waves,omitempty"`
	MaxParallel  int               `json:"maxParallel,omitempty"`
	Soak         *stamp.Duration   `json:"soak,omitempty"`
	MaxErrorRate *float64          `json:"maxErrorRate,omitempty"`
	OnFailure    string            `json:"onFailure,omitempty"`
	// AllowDowngrade lets the release move tenants on a newer version
	// back to its own; without it they are skipped, saying so.
	AllowDowngrade bool `json:"allowDowngrade,omitempty"`
}

// SkipRequest is the body of POST /v1/releases/{id}/tenants/{name}/skip.
type SkipRequest struct {
	Reason string `json:"reason,omitempty"`
}

type releaseList struct {
	Releases []*stamp.Release `json:"releases"`
}

// handleReleaseCreate records a release after picking its tenants and
// waves, so that its target set is fixed and visible from the start.
func handleReleaseCreate(st Store, cache *blueprintCache, engines engineSet, clock stamp.Clock) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[CreateReleaseRequest](r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		spec, err := releaseSpec(req)
		if err != nil {
			writeError(w, r, err)
			return
		}
		ctx := r.Context()
		b, err := st.GetBundle(ctx, spec.Blueprint, spec.Version)
		if stamp.ErrorCode(err) == stamp.ENOTFOUND {
			writeError(w, r, stamp.Errorf(stamp.ENOTFOUND, "blueprint %s@%s does not exist; push it first", spec.Blueprint, spec.Version))
			return
		}
		if err != nil {
			writeError(w, r, fmt.Errorf("get blueprint %s@%s: %w", spec.Blueprint, spec.Version, err))
			return
		}
		if err := notYanked(b); err != nil {
			writeError(w, r, err)
			return
		}
		// A host that lacks what the version requires refuses the whole
		// release, as it would each tenant's upgrade, rather than list
		// every tenant as skipped.
		bp, err := cache.load(ctx, st, b)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if err := cache.requirementsMet(ctx, b, bp); err != nil {
			writeError(w, r, err)
			return
		}
		// One release of a blueprint at a time, across servers: the check
		// and the create run under a store lease on the blueprint.
		unlock, err := lockBlueprint(ctx, st, spec.Blueprint)
		if err != nil {
			writeError(w, r, err)
			return
		}
		defer unlock()
		if err := noOtherRelease(ctx, st, spec.Blueprint); err != nil {
			writeError(w, r, err)
			return
		}
		tenants, err := st.ListTenants(ctx)
		if err != nil {
			writeError(w, r, fmt.Errorf("list tenants: %w", err))
			return
		}
		fits := func(t *stamp.Tenant) error { return checkVersionFits(r, st, cache, engines, b, t) }
		rel := &stamp.Release{ID: "rel-" + randomHex(4), Spec: *spec}
		rel.Status.State = stamp.ReleaseRunning
		rel.Status.Tenants = nonNil(rollout.Target(tenants, spec, fits))
		targets := 0
		for _, rt := range rel.Status.Tenants {
			if rt.State == stamp.ReleaseTenantPending {
				targets++
			}
		}
		ev := &stamp.Event{Time: clock.Now(), Type: stamp.EventReleaseCreated, Release: rel.ID,
			Message: fmt.Sprintf("%s: %d tenant(s) in %d wave(s), %d skipped", b.Ref(), targets, len(spec.Waves), len(rel.Status.Tenants)-targets)}
		if err := st.CreateRelease(ctx, rel, ev); err != nil {
			writeError(w, r, fmt.Errorf("create release: %w", err))
			return
		}
		encode(w, r, http.StatusCreated, rel)
	})
}

// releaseSpec checks req and fills in the defaults.
func releaseSpec(req CreateReleaseRequest) (*stamp.ReleaseSpec, error) {
	spec := &stamp.ReleaseSpec{
		Blueprint: req.Blueprint, Version: req.Version, Channel: req.Channel, Selector: req.Selector,
		Waves: req.Waves, MaxParallel: req.MaxParallel, Soak: stamp.Duration(30 * time.Second), MaxErrorRate: 0.01, OnFailure: req.OnFailure,
		AllowDowngrade: req.AllowDowngrade,
	}
	switch {
	case spec.Blueprint == "":
		return nil, stamp.Errorf(stamp.EINVALID, "blueprint is empty; name the blueprint to release")
	case spec.Version == "":
		return nil, stamp.Errorf(stamp.EINVALID, "version is empty; name the version to release")
	case spec.MaxParallel < 0 || spec.MaxParallel > 1000:
		return nil, stamp.Errorf(stamp.EINVALID, "maxParallel %d: want 1 to 1000", spec.MaxParallel)
	case len(spec.Waves) > 100:
		return nil, stamp.Errorf(stamp.EINVALID, "%d waves: at most 100 are allowed", len(spec.Waves))
	}
	if err := validateChannel(spec.Channel); err != nil {
		return nil, err
	}
	if err := validateLabels(spec.Selector); err != nil {
		return nil, err
	}
	if spec.MaxParallel == 0 {
		spec.MaxParallel = 8
	}
	if len(spec.Waves) == 0 {
		spec.Waves = []stamp.Wave{{Percent: 100}}
	}
	for i, w := range spec.Waves {
		if err := rollout.ValidateWave(w); err != nil {
			return nil, stamp.Errorf(stamp.EINVALID, "wave %d: %s", i+1, stamp.ErrorMessage(err))
		}
	}
	if req.Soak != nil {
		spec.Soak = *req.Soak
	}
	if req.MaxErrorRate != nil {
		if r := *req.MaxErrorRate; r < 0 || r > 1 {
			return nil, stamp.Errorf(stamp.EINVALID, "maxErrorRate %v: want a share from 0 to 1", r)
		}
		spec.MaxErrorRate = *req.MaxErrorRate
	}
	switch spec.OnFailure {
	case "":
		spec.OnFailure = stamp.OnFailureRollback
	case stamp.OnFailureRollback, stamp.OnFailurePause:
	default:
		return nil, stamp.Errorf(stamp.EINVALID, "onFailure %q: want %s or %s", spec.OnFailure, stamp.OnFailureRollback, stamp.OnFailurePause)
	}
	return spec, nil
}

// releaseLockTTL bounds how long a crashed create holds a blueprint's
// release lock.
const releaseLockTTL = 10 * time.Second

// lockBlueprint takes the store lease that serialises release creation for
// blueprint, waiting up to a few seconds for another create to finish,
// and returns its release.
func lockBlueprint(ctx context.Context, st stamp.LeaseStore, blueprint string) (unlock func(), err error) {
	key, holder := "release-create/"+blueprint, randomHex(8)
	for range 50 {
		ok, err := st.TryLease(ctx, key, holder, releaseLockTTL)
		if err != nil {
			return nil, fmt.Errorf("lock releases of %s: %w", blueprint, err)
		}
		if ok {
			return func() {
				// A fresh context: the request's may be over, and a lock
				// left behind only delays the next create by its TTL.
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				st.ReleaseLease(ctx, key, holder)
			}, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil, stamp.Errorf(stamp.ECONFLICT, "another release of %s is being created; try again", blueprint)
}

// noOtherRelease refuses a second unfinished release of one blueprint:
// two would move the same tenants against each other.
func noOtherRelease(ctx context.Context, st stamp.ReleaseStore, blueprint string) error {
	all, err := st.ListReleases(ctx)
	if err != nil {
		return fmt.Errorf("list releases: %w", err)
	}
	for _, r := range all {
		if r.Spec.Blueprint == blueprint && !r.Finished() {
			return stamp.Errorf(stamp.ECONFLICT, "release %s of %s@%s is %s; abort it or wait until it ends", r.ID, blueprint, r.Spec.Version, r.Status.State)
		}
	}
	return nil
}

func handleReleaseList(st stamp.ReleaseStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		all, err := st.ListReleases(r.Context())
		if err != nil {
			writeError(w, r, fmt.Errorf("list releases: %w", err))
			return
		}
		encode(w, r, http.StatusOK, releaseList{Releases: nonNil(all)})
	})
}

func handleReleaseGet(st stamp.ReleaseStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rel, err := getRelease(r.Context(), st, r.PathValue("id"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusOK, rel)
	})
}

func getRelease(ctx context.Context, st stamp.ReleaseStore, id string) (*stamp.Release, error) {
	rel, err := st.GetRelease(ctx, id)
	if stamp.ErrorCode(err) == stamp.ENOTFOUND {
		return nil, stamp.Errorf(stamp.ENOTFOUND, "release %q does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get release %s: %w", id, err)
	}
	return rel, nil
}

// handleReleaseControl applies an operator's pause, resume or abort.
func handleReleaseControl(st stamp.ReleaseStore, action string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rel, err := changeRelease(r.Context(), st, r.PathValue("id"), func(rel *stamp.Release) error {
			switch action {
			case "pause":
				rel.Spec.Paused = true
			case "resume":
				rel.Spec.Paused = false
			case "abort":
				rel.Spec.Aborted = true
			}
			return nil
		})
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusAccepted, rel)
	})
}

// handleReleaseTenant skips a pending or failed tenant of a release, or
// puts a failed or skipped one back in line (retry).
func handleReleaseTenant(st stamp.ReleaseStore, clock stamp.Clock, action string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var reason string
		if action == "skip" && r.ContentLength != 0 { // the reason is optional, and so is the body
			req, err := decode[SkipRequest](r)
			if err != nil {
				writeError(w, r, err)
				return
			}
			reason = req.Reason
		}
		name := r.PathValue("name")
		ev := &stamp.Event{Time: clock.Now(), Type: stamp.EventReleaseTenant, Release: r.PathValue("id"), Tenant: name}
		rel, err := changeRelease(r.Context(), st, r.PathValue("id"), func(rel *stamp.Release) error {
			for i := range rel.Status.Tenants {
				rt := &rel.Status.Tenants[i]
				if rt.Name != name {
					continue
				}
				switch {
				case action == "skip" && (rt.State == stamp.ReleaseTenantPending || rt.State == stamp.ReleaseTenantFailed):
					rt.State, rt.Message = stamp.ReleaseTenantSkipped, "skipped by an operator"
					if reason != "" {
						rt.Message += ": " + reason
					}
				case action == "retry" && rt.State == stamp.ReleaseTenantSkipped && rt.Wave < 0:
					return stamp.Errorf(stamp.ECONFLICT, "tenant %s was left out when release %s was created (%s); a new release can take it", name, rel.ID, rt.Message)
				case action == "retry" && (rt.State == stamp.ReleaseTenantFailed || rt.State == stamp.ReleaseTenantSkipped):
					rt.State, rt.Message = stamp.ReleaseTenantPending, "requeued by an operator"
					if rt.Wave < rel.Status.Wave {
						rt.Wave = rel.Status.Wave // the current wave takes it
					}
				default:
					return stamp.Errorf(stamp.ECONFLICT, "tenant %s is %s in release %s: only a pending or failed tenant can be skipped, and a failed or skipped one retried", name, rt.State, rel.ID)
				}
				ev.Message = rt.State + ": " + rt.Message
				return nil
			}
			return stamp.Errorf(stamp.ENOTFOUND, "release %s does not target tenant %q", rel.ID, name)
		}, ev)
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, r, http.StatusAccepted, rel)
	})
}

// changeRelease applies change to release id, re-reading it when the
// controller wrote it first, and writes events with it in one
// transaction. A finished release cannot change.
func changeRelease(ctx context.Context, st stamp.ReleaseStore, id string, change func(*stamp.Release) error, events ...*stamp.Event) (*stamp.Release, error) {
	for range changeAttempts {
		rel, err := getRelease(ctx, st, id)
		if err != nil {
			return nil, err
		}
		if rel.Finished() {
			return nil, stamp.Errorf(stamp.ECONFLICT, "release %s is %s: it cannot change any more", id, rel.Status.State)
		}
		if err := change(rel); err != nil {
			return nil, err
		}
		err = st.UpdateRelease(ctx, rel, events...)
		if stamp.ErrorCode(err) == stamp.ECONFLICT {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("update release %s: %w", id, err)
		}
		return rel, nil
	}
	return nil, stamp.Errorf(stamp.ECONFLICT, "release %q kept changing while it was being updated; try again", id)
}
