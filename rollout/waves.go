// Package rollout runs releases: it picks the tenants a release targets,
// splits them into waves, and its Controller moves them to the release's
// version wave after wave, gating each wave on the health and the 5xx rate
// of the last, and rolling back or pausing when a gate fails. A release's
// progress is kept in the store at every change, so a controller that
// crashed (or another server) resumes it where it was.
package rollout

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/stamphq/stamp"
	"github.com/stamphq/stamp/blueprint"
)

// ParseWave reads one wave as the CLI writes it: "N" (N tenants), "N%"
// (cumulative share of the release's tenants), "key=value[&key=value]" (a
// label selector) or "name[+name...]" (named tenants).
func ParseWave(s string) (stamp.Wave, error) {
	switch {
	case s == "":
		return stamp.Wave{}, stamp.Errorf(stamp.EINVALID, "wave is empty")
	case strings.HasSuffix(s, "%"):
		p, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
		if err != nil || p <= 0 || p > 100 || math.IsNaN(p) {
			return stamp.Wave{}, stamp.Errorf(stamp.EINVALID, "wave %q: a share must be a number in (0, 100] followed by %%", s)
		}
		return stamp.Wave{Percent: p}, nil
	case strings.Contains(s, "="):
		sel := map[string]string{}
		for _, kv := range strings.Split(s, "&") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" || v == "" {
				return stamp.Wave{}, stamp.Errorf(stamp.EINVALID, "wave %q: a selector is key=value[&key=value]", s)
			}
			sel[k] = v
		}
		return stamp.Wave{Selector: sel}, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 {
			return stamp.Wave{}, stamp.Errorf(stamp.EINVALID, "wave %q: a count must be at least 1", s)
		}
		return stamp.Wave{Count: n}, nil
	}
	names := strings.Split(s, "+")
	for _, n := range names {
		if err := stamp.ValidateName("tenant", n); err != nil {
			return stamp.Wave{}, stamp.Errorf(stamp.EINVALID, "wave %q: %s", s, stamp.ErrorMessage(err))
		}
	}
	return stamp.Wave{Tenants: names}, nil
}

// FormatWave writes w as ParseWave reads it.
func FormatWave(w stamp.Wave) string {
	switch {
	case w.Count > 0:
		return strconv.Itoa(w.Count)
	case w.Percent > 0:
		return strconv.FormatFloat(w.Percent, 'f', -1, 64) + "%"
	case len(w.Selector) > 0:
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(w.Selector)) {
			kv = append(kv, k+"="+w.Selector[k])
		}
		return strings.Join(kv, "&")
	}
	return strings.Join(w.Tenants, "+")
}

// ValidateWave checks that exactly one field of w is set, sensibly.
func ValidateWave(w stamp.Wave) error {
	set := 0
	for _, b := range []bool{w.Count != 0, w.Percent != 0, len(w.Tenants) > 0, len(w.Selector) > 0} {
		if b {
			set++
		}
	}
	switch {
	case set != 1:
		return stamp.Errorf(stamp.EINVALID, "a wave sets exactly one of count, percent, tenants and selector; this one sets %d", set)
	case w.Count < 0:
		return stamp.Errorf(stamp.EINVALID, "wave count %d: want at least 1", w.Count)
	case w.Percent < 0 || w.Percent > 100 || math.IsNaN(w.Percent):
		return stamp.Errorf(stamp.EINVALID, "wave share %v%%: want (0, 100]", w.Percent)
	}
	for _, name := range w.Tenants {
		if err := stamp.ValidateName("tenant", name); err != nil {
			return err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(w.Selector)) {
		if err := stamp.ValidateName("label", k); err != nil {
			return err
		}
		if err := stamp.ValidateName("label "+k+" value", w.Selector[k]); err != nil {
			return err
		}
	}
	return nil
}

// Target picks the tenants of tenants that spec targets and splits them
// into waves. Tenants of the blueprint, channel and selector that are on
// the version already are left out; those pinned to another version,
// being deleted or on a newer version (unless spec.AllowDowngrade) are
// listed as skipped with the reason, and so are those no wave reaches. fits, if not nil, says why a tenant cannot run the
// version (a plan or parameter the version lacks), or nil.
func Target(tenants []*stamp.Tenant, spec *stamp.ReleaseSpec, fits func(*stamp.Tenant) error) []stamp.ReleaseTenant {
	var out, skipped []stamp.ReleaseTenant
	var todo []*stamp.Tenant
	for _, t := range tenants {
		if t.Spec.Blueprint != spec.Blueprint || !matches(t, spec.Selector) || t.Spec.Pooled {
			// A pooled stamp is no one's: a new version's pool replaces it.
			continue
		}
		if spec.Channel != "" && t.Spec.FollowsChannel() != spec.Channel {
			continue
		}
		if t.Spec.Version == spec.Version && t.Status.Version == spec.Version {
			continue
		}
		skip := func(format string, args ...any) {
			skipped = append(skipped, stamp.ReleaseTenant{Name: t.Name, Wave: -1, From: t.Status.Version,
				State: stamp.ReleaseTenantSkipped, Message: fmt.Sprintf(format, args...)})
		}
		switch {
		case t.Spec.Desired == stamp.DesiredDeleted:
			skip("the tenant is being deleted")
		case t.Spec.Desired == stamp.DesiredSuspended:
			skip("the tenant is suspended (a release reaches it once resumed)")
		case t.Spec.Desired == stamp.DesiredSoftDeleted:
			skip("the tenant is deleted (a release reaches it if it is undeleted)")
		case t.Spec.Pin != "" && t.Spec.Pin != spec.Version:
			skip("pinned to version %s", t.Spec.Pin)
		case downgrade(t, spec):
			skip("%s", downgradeReason(t.Spec.Version, spec.Version))
		default:
			if fits != nil {
				if err := fits(t); err != nil {
					skip("%s", stamp.ErrorMessage(err))
					continue
				}
			}
			todo = append(todo, t)
		}
	}
	total := len(todo)
	taken := 0
	for i, w := range spec.Waves {
		var in []*stamp.Tenant
		switch {
		case w.Count > 0:
			in = todo[:min(w.Count, len(todo))]
		case w.Percent > 0:
			upTo := int(math.Ceil(w.Percent / 100 * float64(total)))
			in = todo[:min(max(upTo-taken, 0), len(todo))]
		default:
			for _, t := range todo {
				if slices.Contains(w.Tenants, t.Name) || len(w.Selector) > 0 && matches(t, w.Selector) {
					in = append(in, t)
				}
			}
		}
		for _, t := range in {
			out = append(out, stamp.ReleaseTenant{Name: t.Name, Wave: i, From: t.Status.Version, State: stamp.ReleaseTenantPending})
		}
		taken += len(in)
		todo = slices.DeleteFunc(todo, func(t *stamp.Tenant) bool { return slices.Contains(in, t) })
	}
	for _, t := range todo {
		skipped = append(skipped, stamp.ReleaseTenant{Name: t.Name, Wave: -1, From: t.Status.Version,
			State: stamp.ReleaseTenantSkipped, Message: "no wave of the release reaches it"})
	}
	return append(out, skipped...)
}

// matches reports whether tenant t carries every pair of sel as a label.
// The key "plan" also matches the tenant's plan, unless t has a label of
// that name: --select plan=business picks the business customers.
func matches(t *stamp.Tenant, sel map[string]string) bool {
	for k, v := range sel {
		got, ok := t.Spec.Labels[k]
		if !ok && k == "plan" {
			got = t.Spec.Plan
		}
		if got != v {
			return false
		}
	}
	return true
}

// downgrade reports whether moving t to spec's version would take it back
// to an older version than its spec names, which spec does not allow.
func downgrade(t *stamp.Tenant, spec *stamp.ReleaseSpec) bool {
	return !spec.AllowDowngrade && blueprint.CompareVersions(spec.Version, t.Spec.Version) < 0
}

// downgradeReason says why a tenant on version is left out of a release
// of the older target.
func downgradeReason(version, target string) string {
	return fmt.Sprintf("it is on %s, newer than %s: a release moves no tenant back unless it allows downgrades (--allow-downgrade)", version, target)
}
