package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/stamphq/stamp"
)

// YankRequest is the (optional) body of POST
// /v1/blueprints/{name}/{version}/yank.
type YankRequest struct {
	// Reason says why the version is withdrawn, for those who run it.
	Reason string `json:"reason,omitempty"`
}

// YankResult answers a yank or an unyank: the version as it is now,
// whether this call changed it, and the tenants still on it.
type YankResult struct {
	Bundle  *stamp.Bundle `json:"bundle"`
	Changed bool          `json:"changed"`
	Tenants []string      `json:"tenants"`
}

// maxYankReason bounds a yank's reason, in characters.
const maxYankReason = 500

// handleBlueprintYank yanks a version (yank true) or unyanks it. A yanked
// version takes no new tenant, upgrade or release; tenants on it run on,
// and the answer lists them. Yanking a yanked version (or unyanking one
// that is not) changes nothing and records no event.
func handleBlueprintYank(st Store, clock stamp.Clock, yank bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req YankRequest
		if yank && r.ContentLength != 0 { // the reason is optional, and so is the body
			var err error
			if req, err = decode[YankRequest](r); err != nil {
				writeError(w, r, err)
				return
			}
		}
		if n := utf8.RuneCountInString(req.Reason); n > maxYankReason {
			writeError(w, r, stamp.Errorf(stamp.EINVALID, "reason has %d characters; at most %d are allowed", n, maxYankReason))
			return
		}
		if !utf8.ValidString(req.Reason) || strings.ContainsRune(req.Reason, 0) {
			writeError(w, r, stamp.Errorf(stamp.EINVALID, "reason must be UTF-8 text without NUL bytes"))
			return
		}
		ctx := r.Context()
		b, err := findBundle(ctx, st, r.PathValue("name"), r.PathValue("version"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		tenants, err := tenantsOn(ctx, st, b.Name, b.Version)
		if err != nil {
			writeError(w, r, err)
			return
		}
		ev := &stamp.Event{Time: clock.Now(), Type: stamp.EventBlueprintUnyanked, Message: b.Ref() + " unyanked"}
		if yank {
			ev.Type, ev.Message = stamp.EventBlueprintYanked, b.Ref()+" yanked"
			if req.Reason != "" {
				ev.Message += ": " + req.Reason
			}
			ev.Message += fmt.Sprintf("; %d tenant(s) still on it", len(tenants))
			if len(tenants) > 0 {
				ev.Message += ": " + joinShort(tenants)
			}
		}
		b, changed, err := st.SetYanked(ctx, b.Name, b.Version, yank, req.Reason, ev)
		if err != nil {
			writeError(w, r, fmt.Errorf("set yank of %s@%s: %w", r.PathValue("name"), r.PathValue("version"), err))
			return
		}
		encode(w, r, http.StatusOK, YankResult{Bundle: b, Changed: changed, Tenants: nonNil(tenants)})
	})
}

// notYanked refuses a yanked version as the target of a create, an
// upgrade or a release, saying how to take it back.
func notYanked(b *stamp.Bundle) error {
	if !b.Yanked {
		return nil
	}
	why := ""
	if b.YankReason != "" {
		why = " (" + b.YankReason + ")"
	}
	return stamp.Errorf(stamp.ECONFLICT, "blueprint %s is yanked%s: it takes no new tenants, upgrades or releases; choose another version, or unyank it with `stamp blueprint unyank %s`",
		b.Ref(), why, b.Ref())
}

// tenantsOn returns the names of the tenants of blueprint name that run
// version or are moving to or from it, sorted.
func tenantsOn(ctx context.Context, st stamp.TenantStore, name, version string) ([]string, error) {
	all, err := st.ListTenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	var on []string
	for _, t := range all {
		if t.Spec.Blueprint == name && !t.Spec.Pooled && (t.Spec.Version == version || t.Status.Version == version) {
			on = append(on, t.Name)
		}
	}
	slices.Sort(on)
	return on, nil
}

// joinShort lists up to ten names and how many more.
func joinShort(names []string) string {
	if len(names) <= 10 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:10], ", "), len(names)-10)
}
